/**
 * The relay's cost per idle peer: RSS per connected peer, and the relay's CPU
 * while the peers sit idle. The relay runs in a child process so its memory
 * and CPU are measured alone; stock js-libp2p clients connect from this
 * process, on loopback only (127.0.0.1).
 *
 *   node test/bench/p2p-idle.ts [--peers 1000] [--idle 20] [--stock]
 *
 * `--stock` adds a run with clients on libp2p's default liveness traffic (a
 * ping every 10 s and a yamux keepalive every 30 s per peer), to show what the
 * app's clients save by turning it off. Prints a markdown table and exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { multiaddr } from '@multiformats/multiaddr';
import { createRelayNode } from '#server/p2p/relay-node.ts';
import { createStockClient, waitFor, type StockClient } from '#test/p2p-clients.ts';

const MAX_PEERS = 5000;
const MAX_IDLE_S = 120;
const BATCH = 50;

interface Stats {
  readonly rss: number;
  readonly heapUsed: number;
  readonly cpuMicros: number;
  readonly peers: number;
}
type Request = { readonly type: 'stats'; readonly gc: boolean } | { readonly type: 'stop' };
type Reply = { readonly type: 'ready'; readonly addr: string } | ({ readonly type: 'stats' } & Stats);

if (process.argv.includes('--relay-child')) await relayChild();
else await main();

async function relayChild(): Promise<void> {
  const dataDir = process.argv[process.argv.indexOf('--relay-child') + 1] as string;
  const relay = await createRelayNode({ dataDir, host: '127.0.0.1', port: 0 });
  await relay.start();
  const send = (reply: Reply) => process.send?.(reply);
  process.on('message', (request: Request) => {
    if (request.type === 'stop') {
      void relay.stop().then(() => process.exit(0));
      return;
    }
    // CPU first, so the forced collections below are not counted as idle work.
    const cpu = process.cpuUsage();
    if (request.gc) for (let i = 0; i < 3; i++) globalThis.gc?.();
    send({
      type: 'stats',
      rss: process.memoryUsage.rss(),
      heapUsed: process.memoryUsage().heapUsed,
      cpuMicros: cpu.user + cpu.system,
      peers: relay.peers().length,
    });
  });
  send({ type: 'ready', addr: relay.multiaddrs()[0]?.toString() ?? '' });
}

function argument(name: string, fallback: number, max: number): number {
  const index = process.argv.indexOf(name);
  const value = index === -1 ? fallback : Number(process.argv[index + 1]);
  if (!Number.isFinite(value) || value < 1) throw new TypeError(`${name} must be a positive number`);
  return Math.min(value, max);
}

interface Row {
  readonly clients: string;
  readonly peers: number;
  readonly baseRss: number;
  readonly rss: number;
  /** RSS added per peer over the second half of the peers (one-time growth excluded). */
  readonly marginalRssPerPeer: number;
  /** JS heap added per peer over the second half. */
  readonly heapPerPeer: number;
  readonly connectS: number;
  readonly idleS: number;
  readonly cpuPercent: number;
}

async function run(peers: number, idleS: number, quiet: boolean): Promise<Row> {
  const dataDir = await mkdtemp(join(tmpdir(), 'acn-bench-relay-'));
  const child = fork(fileURLToPath(import.meta.url), ['--relay-child', dataDir], {
    execArgv: [...process.execArgv, '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const clients: StockClient[] = [];
  try {
    const addr = await new Promise<string>((resolve, reject) => {
      child.once('message', (reply: Reply) => {
        if (reply.type === 'ready') resolve(reply.addr);
      });
      child.once('exit', (code) => {
        reject(new Error(`relay exited with ${String(code)}`));
      });
    });
    if (!addr.startsWith('/ip4/127.0.0.1/')) throw new Error(`refusing a non-loopback relay address ${addr}`);
    const relayAddr = multiaddr(addr);
    await sleep(1000);
    const base = await stats(child, true);

    const connect = async (count: number) => {
      while (clients.length < count) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(BATCH, count - clients.length) }, () => createStockClient({ quiet })),
        );
        clients.push(...batch);
        await Promise.all(batch.map((client) => client.dial(relayAddr)));
        log(`${clients.length}/${peers} connected`);
      }
    };
    const half = Math.floor(peers / 2);
    const started = performance.now();
    await connect(half);
    const connectHalfS = (performance.now() - started) / 1000;
    await sleep(3000);
    const middle = await stats(child, true);
    const resumed = performance.now();
    await connect(peers);
    const connectS = connectHalfS + (performance.now() - resumed) / 1000;
    await waitFor(
      () => clients.every((client) => client.getConnections().length > 0),
      10_000,
      'every client to be connected',
    );
    log('settling');
    await sleep(5000); // let identify and the first allocations finish

    const before = await stats(child, false);
    const idleStart = performance.now();
    await sleep(idleS * 1000);
    const after = await stats(child, true);
    const idleWall = (performance.now() - idleStart) / 1000;
    if (after.peers !== peers) throw new Error(`the relay holds ${after.peers} peers, expected ${peers}`);
    return {
      clients: quiet ? 'quiet (monitor and keepalive off)' : 'stock libp2p defaults',
      peers: after.peers,
      baseRss: base.rss,
      rss: after.rss,
      marginalRssPerPeer: (after.rss - middle.rss) / (peers - half),
      heapPerPeer: (after.heapUsed - middle.heapUsed) / (peers - half),
      connectS,
      idleS: idleWall,
      cpuPercent: ((after.cpuMicros - before.cpuMicros) / 1e6 / idleWall) * 100,
    };
  } finally {
    log('stopping clients');
    await Promise.allSettled(
      clients.map(async (client) => {
        await client.stop();
      }),
    );
    child.send({ type: 'stop' } satisfies Request);
    await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(5000)]);
    child.kill();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function stats(child: ChildProcess, gc: boolean): Promise<Stats> {
  return new Promise((resolve) => {
    const onReply = (reply: Reply) => {
      if (reply.type !== 'stats') return;
      child.off('message', onReply);
      resolve(reply);
    };
    child.on('message', onReply);
    child.send({ type: 'stats', gc } satisfies Request);
  });
}

async function main(): Promise<void> {
  const peers = argument('--peers', 1000, MAX_PEERS);
  const idleS = argument('--idle', 20, MAX_IDLE_S);
  const modes = process.argv.includes('--stock') ? [true, false] : [true];
  const rows: Row[] = [];
  for (const quiet of modes) rows.push(await run(peers, idleS, quiet));

  console.log('\n### Relay: idle peers (loopback, relay in its own process)\n');
  console.log(
    '| clients | peers | relay RSS before | relay RSS with peers | RSS per peer | RSS per peer, 2nd half | ' +
      'heap per peer, 2nd half | connect time | idle CPU (% of a core) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.clients} | ${r.peers} | ${mib(r.baseRss)} | ${mib(r.rss)} | ${kib((r.rss - r.baseRss) / r.peers)} | ` +
        `${kib(r.marginalRssPerPeer)} | ${kib(r.heapPerPeer)} | ${r.connectS.toFixed(1)} s | ${r.cpuPercent.toFixed(2)}% over ${r.idleS.toFixed(0)} s |`,
    );
  }
  process.exit(0);
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
function log(line: string): void {
  process.stderr.write(`  … ${line}\n`);
}
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
