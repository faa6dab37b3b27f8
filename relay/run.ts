/**
 * Starting and stopping the relay process: build what is missing, start every
 * part, print the banner, and shut down gracefully on SIGTERM/SIGINT.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RelayConfig } from './config.ts';
import { createApi } from './http/api.ts';
import { createHttpApp } from './http/app.ts';
import { createLogger } from './log.ts';
import { ensureModelsBuilt } from './models/build.ts';
import { readRelayCatalogue, SHIPPED_CATALOGUE } from './models/catalogue-store.ts';

export const RELAY_VERSION = '0.1.0';

export interface RunningRelay {
  readonly url: string;
  readonly server: Server;
  stop(): Promise<void>;
}

export async function startRelay(config: RelayConfig): Promise<RunningRelay> {
  const log = createLogger(config.logLevel);
  let ready = false;
  const modelsDir = join(config.dataDir, 'models');
  await mkdir(modelsDir, { recursive: true });
  await ensureModelsBuilt(modelsDir, {
    catalogueFile: SHIPPED_CATALOGUE,
    log: (line) => {
      log.info(line);
    },
  });

  const api = createApi({
    version: RELAY_VERSION,
    catalogue: () => readRelayCatalogue(modelsDir),
    startedAt: Date.now(),
    maxBodyBytes: config.limits.maxBodyBytes,
  });
  const app = createHttpApp({ log, modelsDir, api, isReady: () => ready });
  const server = config.tls
    ? createHttpsServer({ cert: await readFile(config.tls.cert), key: await readFile(config.tls.key) }, app)
    : createHttpServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const url = `${config.tls ? 'https' : 'http'}://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  ready = true;
  log.info({ url, dataDir: config.dataDir }, 'relay ready');

  return {
    url,
    server,
    async stop() {
      ready = false;
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      server.closeAllConnections();
    },
  };
}

/** Runs the relay until SIGTERM or SIGINT. */
export async function runRelay(config: RelayConfig): Promise<void> {
  const relay = await startRelay(config);
  process.stdout.write(`\nAI Compute Network relay ${RELAY_VERSION}\n  ${relay.url}\n  data: ${config.dataDir}\n\n`);
  const stop = () => {
    void relay.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
