/**
 * Starting and stopping the relay process: build what is missing, start every
 * part, print the banner, and shut down gracefully on SIGTERM/SIGINT.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RelayConfig } from './config.ts';
import { createApi } from './http/api.ts';
import { createLedgerApi, createTxSubmitLane } from './http/ledger-api.ts';
import { loadOrCreateRelayKey } from './identity/relay-key.ts';
import { createLedgerService, type LedgerService } from './ledger/ledger-service.ts';
import { createSqliteThreadStore } from './ledger/sqlite-thread-store.ts';
import { availableParallelism, freemem, networkInterfaces, totalmem } from 'node:os';
import { renderUnicodeCompact } from 'uqr';
import { limitsFor, type ResourceAllocation } from '#core/resources/allocation.ts';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createVerifierThread } from '#node/crypto/verifier-thread.ts';
import { blockMinedData, createEventHub } from './http/events.ts';
import { createMetrics } from './http/metrics.ts';
import { createNetworkApi } from './http/network-api.ts';
import { createOperatorAuth, loadOrCreateOperatorToken } from './http/operator-auth.ts';
import { createRateLimiter, rateLimitByIp, takeOrThrow } from './http/rate-limit.ts';
import { httpServerOptions } from './http/server-options.ts';
import { createTaskApi } from './http/task-api.ts';
import { createRelayNode, type RelayNode } from './p2p/relay-node.ts';
import { createInferencePool } from '#node/pool/inference-pool.ts';
import { createScheduler } from './scheduler/scheduler.ts';
import { createReputationBook } from './scheduler/reputation-book.ts';
import { deriveAuditSigners } from './trust/audit-accounts.ts';
import { registerTrustMetrics } from './trust/trust-metrics.ts';
import { createTaskService, type TaskService, type TaskView } from './task-service/task-service.ts';
import { createHttpApp } from './http/app.ts';
import { createLogger } from '#node/log.ts';
import { ensureModelsBuilt } from '#node/models/build-models.ts';
import { readRelayCatalogue, SHIPPED_CATALOGUE } from '#node/models/catalogue-store.ts';

export const RELAY_VERSION = '0.1.0';

export interface RunningRelay {
  readonly url: string;
  readonly server: Server;
  readonly ledger: LedgerService;
  readonly tasks: TaskService;
  readonly p2p: RelayNode;
  stop(): Promise<void>;
}

/** Where `npm run build` puts the PWA; the relay serves it when it is there. */
export const APP_DIR = fileURLToPath(new URL('../../dist/app', import.meta.url));

/** The ledger database inside the data directory. */
export const LEDGER_FILE = 'ledger.sqlite';

/** The share of this machine the relay's own pool uses until the operator changes it (`POST /api/resources`). */
export const RELAY_DEFAULT_ALLOCATION: ResourceAllocation = {
  preset: 'custom',
  cpu: 50,
  ram: 25,
  storage: 10,
  gpu: 0,
  pauseWhenHidden: false,
  pauseOnBattery: false,
};

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
  const operatorToken = await loadOrCreateOperatorToken(config.dataDir);
  // Signature checks and SQLite commits each get a thread of their own, so the event loop only does HTTP and the ledger rules.
  const ledgerVerifier = createVerifierThread({
    onError: (error) => {
      log.error({ err: error }, 'verifier thread failed; verifying on the event loop');
    },
  });
  const ledger = createLedgerService({
    store: createSqliteThreadStore({ path: join(config.dataDir, LEDGER_FILE) }),
    producer: key.signer,
    verifier: ledgerVerifier,
    params: {
      feeBps: config.ledger.feeBps,
      grantAmount: config.ledger.grantAmount,
      minPowDifficulty: config.ledger.powDifficulty,
      minWorkerStake: config.ledger.minWorkerStake,
      ...(config.ledger.unbondingMs === undefined ? {} : { unbondingMs: config.ledger.unbondingMs }),
    },
    blockIntervalMs: config.ledger.blockIntervalMs,
  });
  await ledger.start();
  log.info({ account: key.accountId, height: ledger.height }, 'ledger open');

  const catalogue = () => readRelayCatalogue(modelsDir);
  let allocation = RELAY_DEFAULT_ALLOCATION;
  const limitsOf = (shares: ResourceAllocation) =>
    limitsFor(shares, {
      cores: availableParallelism(),
      memoryBytes: totalmem(),
      storageBytes: freemem(),
      gpuMemoryBytes: 0,
    });
  const pool = createInferencePool({ modelsDir, catalogue, limits: limitsOf(allocation) });
  await pool.start();
  // The HTTP(S) server exists before the app so that libp2p can share it:
  // one origin serves the app, the API and browsers' libp2p connections.
  // Header and body deadlines against slowloris (see http/server-options.ts).
  const serverOptions = httpServerOptions(config.limits);
  const server = config.tls
    ? createHttpsServer({
        ...serverOptions,
        cert: await readFile(config.tls.cert),
        key: await readFile(config.tls.key),
      })
    : createHttpServer(serverOptions);
  const p2p = await createRelayNode({
    key,
    host: config.host,
    port: config.p2pPort,
    httpServer: server,
    maxReservations: config.p2p.maxReservations,
    reservationTtl: config.p2p.reservationTtlMs,
    maxConnections: config.p2p.maxConnections,
    maxIncomingPendingConnections: config.p2p.maxIncomingPending,
    inboundConnectionThreshold: config.p2p.inboundPerIpPerSecond,
  });

  const reputation = createReputationBook({ ledgerReputation: (account) => ledger.account(account).reputation });
  const scheduler = createScheduler({
    node: p2p,
    verifier: createNodeVerifier(),
    network: ledger.network,
    reputation: (account) => reputation.score(account),
    onError: (error) => {
      log.warn({ err: error }, 'scheduler');
    },
  });
  const accountLimiter = createRateLimiter({ limit: config.limits.perAccountPerMinute });
  const events = createEventHub({ server });
  const publish = (type: 'task_submitted' | 'task_completed', task: TaskView) => {
    events.publish(type, task, { accounts: [task.requester] });
  };
  const tasks = createTaskService({
    ledger,
    pool,
    scheduler,
    catalogue,
    signer: key.signer,
    verifier: createNodeVerifier(),
    trust: { ...config.trust, auditors: deriveAuditSigners(key.seed), reputation },
    admit: (account) => {
      takeOrThrow(accountLimiter, account, 'too many tasks from this account');
    },
    events: {
      submitted: (task) => {
        publish('task_submitted', task);
      },
      completed: (task) => {
        publish('task_completed', task);
      },
    },
    onError: (error, task) => {
      log.warn({ err: error, task }, 'task attempt failed');
    },
  });
  const orphans = await tasks.refundOrphans();
  if (orphans > 0) log.warn({ refunded: orphans }, 'refunded escrows of tasks lost in an earlier run');

  // Every API route counts against the per-IP limit, /api/status and /api/models included.
  const ipLimiter = createRateLimiter({ limit: config.limits.perIpPerMinute });
  const api = createApi({
    version: RELAY_VERSION,
    catalogue,
    startedAt: Date.now(),
    relay: { accountId: key.accountId, publicKey: key.signer.publicKey },
    maxBodyBytes: config.limits.maxBodyBytes,
    limits: [rateLimitByIp(ipLimiter)],
  });
  ledger.addEventListener('block', (event) => {
    events.publish('block_mined', blockMinedData(event.detail));
  });
  p2p.addEventListener('peer:connect', (event) => {
    events.publish('peer_connected', event.detail);
  });
  const metrics = createMetrics({
    ledgerHeight: () => ledger.height,
    tasksByState: () => {
      const counts: Record<string, number> = {};
      for (const task of tasks.list({ limit: 1000 })) counts[task.state] = (counts[task.state] ?? 0) + 1;
      return counts;
    },
    p2pPeers: () => p2p.peers().length,
    p2pReservations: () => p2p.reservations(),
    eventClients: () => events.clients(),
    eventSendsSkipped: () => events.skippedSends(),
  });
  registerTrustMetrics(metrics.registry, () => tasks.trustTally());
  api.use(createLedgerApi(ledger));
  api.use(createTaskApi(tasks));
  api.use(
    createNetworkApi({
      p2p,
      pool,
      ledger,
      tasks,
      allocation: () => allocation,
      setAllocation: (next) => {
        pool.resize(limitsOf(next));
        allocation = next;
        log.info({ allocation }, 'relay pool allocation changed');
        events.publish('resource_updated', { allocation, pool: pool.stats() });
      },
      isReady: () => ready,
      operator: createOperatorAuth({
        token: operatorToken.token,
        relayPublicKey: key.signer.publicKey,
        network: ledger.network,
        verifier: createNodeVerifier(),
      }),
    }),
  );
  server.on(
    'request',
    createHttpApp({
      log,
      modelsDir,
      api,
      isReady: () => ready,
      before: [metrics.middleware, metrics.router],
      lanes: [createTxSubmitLane({ ledger, maxBodyBytes: config.limits.maxBodyBytes, ipLimiter, metrics })],
      ...(existsSync(join(APP_DIR, 'index.html')) ? { appDir: APP_DIR } : {}),
    }),
  );
  events.start();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  await p2p.start();
  await scheduler.start();
  const url = `${config.tls ? 'https' : 'http'}://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  ready = true;
  log.info(
    { url, dataDir: config.dataDir, peerId: key.accountId, multiaddrs: p2p.multiaddrs().map(String) },
    'relay ready',
  );

  return {
    url,
    server,
    ledger,
    tasks,
    p2p,
    async stop() {
      // Readiness goes first so a load balancer stops sending; then no new
      // requests, libp2p stops, running tasks finish, the open ledger write
      // finishes and the database closes.
      ready = false;
      await events.stop();
      await scheduler.stop();
      await p2p.stop();
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      server.closeIdleConnections();
      await closed;
      await tasks.idle();
      await pool.stop();
      await ledger.stop();
      await ledgerVerifier.close();
    },
  };
}

/** Addresses of this machine on the local network, for the banner. */
function lanAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === 'IPv4' && !a.internal)
    .map((a) => a.address);
}

/**
 * The URL a phone opens: the relay's public URL (or its first LAN address),
 * with the relay's account id in the fragment so the app pins its key.
 */
export function joinUrl(base: string, relayAccount: string): string {
  return `${base.replace(/\/$/, '')}/#relay=${relayAccount}`;
}

/** Runs the relay until SIGTERM or SIGINT. */
export async function runRelay(config: RelayConfig): Promise<void> {
  const relay = await startRelay(config);
  const port = new URL(relay.url).port;
  const scheme = config.tls ? 'https' : 'http';
  const lan = config.host === '0.0.0.0' ? lanAddresses().map((ip) => `${scheme}://${ip}:${port}`) : [relay.url];
  const join = joinUrl(config.publicUrl ?? lan[0] ?? relay.url, relay.p2p.peerId.toString());
  const lines = [
    '',
    `AI Compute Network relay ${RELAY_VERSION}`,
    '',
    `  local:      ${relay.url}`,
    ...lan.map((u) => `  network:    ${u}`),
    ...(config.publicUrl ? [`  public:     ${config.publicUrl}`] : []),
    `  join:       ${join}`,
    `  peer id:    ${relay.p2p.peerId.toString()}`,
    ...relay.p2p.multiaddrs().map((a) => `  libp2p:     ${a.toString()}`),
    `  data:       ${config.dataDir}`,
    '',
    ...(config.publicUrl?.startsWith('https://') || config.tls
      ? []
      : ['  Phones need HTTPS to install the app and work offline: see README.md, "HTTPS for phones".', '']),
    'Scan to join from a phone:',
    renderUnicodeCompact(join, { border: 1 }),
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  const stop = () => {
    void relay.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
