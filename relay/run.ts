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
import { createLedgerApi } from './http/ledger-api.ts';
import { loadOrCreateRelayKey } from './identity/relay-key.ts';
import { createLedgerService, type LedgerService } from './ledger/ledger-service.ts';
import { createSqliteLedgerStore } from './ledger/sqlite-store.ts';
import { createHttpApp } from './http/app.ts';
import { createLogger } from './log.ts';
import { ensureModelsBuilt } from './models/build.ts';
import { readRelayCatalogue, SHIPPED_CATALOGUE } from './models/catalogue-store.ts';

export const RELAY_VERSION = '0.1.0';

export interface RunningRelay {
  readonly url: string;
  readonly server: Server;
  readonly ledger: LedgerService;
  stop(): Promise<void>;
}

/** The ledger database inside the data directory. */
export const LEDGER_FILE = 'ledger.sqlite';

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

  const key = await loadOrCreateRelayKey(config.dataDir);
  const ledger = createLedgerService({
    store: createSqliteLedgerStore({ path: join(config.dataDir, LEDGER_FILE) }),
    producer: key.signer,
    params: {
      feeBps: config.ledger.feeBps,
      grantAmount: config.ledger.grantAmount,
      minPowDifficulty: config.ledger.powDifficulty,
      minWorkerStake: config.ledger.minWorkerStake,
    },
    blockIntervalMs: config.ledger.blockIntervalMs,
  });
  await ledger.start();
  log.info({ account: key.accountId, height: ledger.height }, 'ledger open');

  const api = createApi({
    version: RELAY_VERSION,
    catalogue: () => readRelayCatalogue(modelsDir),
    startedAt: Date.now(),
    maxBodyBytes: config.limits.maxBodyBytes,
  });
  api.use(createLedgerApi(ledger));
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
    ledger,
    async stop() {
      // Readiness goes first so a load balancer stops sending; then no new
      // requests, then the open ledger write finishes and the database closes.
      ready = false;
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      server.closeIdleConnections();
      await closed;
      await ledger.stop();
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
