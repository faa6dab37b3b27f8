/**
 * The relay's throughput and idle cost, for `npm run bench`:
 *
 * 1. Durable signed submissions over HTTP: the real relay (`node relay/server/cli.ts`)
 *    in its own process on 127.0.0.1, signed transfers posted to
 *    `/api/ledger/tx`, each acknowledged (201) only after its group-committed
 *    SQLite append. First as fast as 50 in-flight requests go (50 lanes, each
 *    owning a few accounts, so every account's `seq` arrives in order), then
 *    at a fixed rate of half that maximum (an open-loop client: latency runs
 *    from each request's scheduled time, so a stall is not hidden). At the end
 *    a sample of the acknowledged ids is read back and every balance checked.
 *    Just before the maximum, the very same transfers go to a reference
 *    server (test/bench/relay-ceiling.ts: bare express 5, one native verify,
 *    group commit) in its own process, so the figure is also given as a ratio
 *    measured on the same machine at the same time (the machine is shared).
 * 2. Ledger appends in-process, without HTTP (the approach of
 *    test/support/ledger-throughput.ts), single-threaded and on the relay's
 *    verifier and SQLite threads.
 * 3. Idle libp2p peers: test/bench/p2p-idle.ts in a child process.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { createNodeSigner } from '#node/crypto/node-signer.ts';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createVerifierThread } from '#node/crypto/verifier-thread.ts';
import { createLedgerService, type LedgerServiceInit } from '#server/ledger/ledger-service.ts';
import { createSqliteLedgerStore } from '#server/ledger/sqlite-store.ts';
import { createSqliteThreadStore } from '#server/ledger/sqlite-thread-store.ts';
import { toBase64Url } from '#core/encoding/bytes.ts';
import type { AccountId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import { signTransaction } from '#core/ledger/transaction.ts';
import { solvePow } from '#core/pow/pow.ts';
import { startRelayProcess } from '#test/relay-process.ts';
import { TEST_PARAMS } from '#test/network.ts';

type Log = (line: string) => void;

// Targets from the issue.
const TARGET_MAX_PER_S = 2000;
const TARGET_HALF_LOAD_P99_MS = 50;
const TARGET_IDLE_BYTES_PER_PEER = 50_000;
const TARGET_IDLE_CPU_PERCENT = 2;

// HTTP submissions: 200 accounts over 50 lanes (4 accounts each).
const ACCOUNTS = 200;
const LANES = 50;
const WARMUP_ROUNDS = 2;
const MAX_ROUNDS = 40; // 8,000 transfers
const PACED_SECONDS = 6;
const PACED_MAX_COUNT = 12_000;
const PHASE_DEADLINE_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;
const VERIFY_SAMPLE = 200;

export async function relaySection(log: Log): Promise<void> {
  await httpSubmissions(log);
  await ledgerAppends(log);
  await idlePeers(log);
}

// ---------------------------------------------------------------------------
// 1. Durable signed submissions over HTTP

interface Reply {
  readonly status: number;
  readonly body: string;
}

interface Account {
  readonly signer: Signer;
  readonly to: AccountId;
  /** The last seq sent (each account's transfers go out in seq order, so the next one signed is this + 1). */
  sent: number;
}

interface Phase {
  readonly name: string;
  readonly sent: number;
  readonly acked: number;
  readonly seconds: number;
  readonly latencies: number[];
  /** CPU of the relay process and of this (client) process, in % of a core; undefined where /proc is missing. */
  readonly relayCpu: number | undefined;
  readonly clientCpu: number;
}

/** One acknowledged transfer, for the check at the end. */
interface Ack {
  readonly id: string;
  readonly from: number;
}

async function httpSubmissions(log: Log): Promise<void> {
  log('relay: starting the relay process');
  const relay = await startRelayProcess(['--pow-difficulty', '4', '--rate-ip', '1000000000']);
  const { hostname, port } = new URL(relay.url);
  if (hostname !== '127.0.0.1') throw new Error(`refusing a non-loopback relay at ${relay.url}`);
  const agent = new Agent({ keepAlive: true, maxSockets: LANES + 14 });

  const call = (method: 'GET' | 'POST', path: string, body?: string, target: string | number = port): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: target,
          method,
          path,
          agent,
          timeout: REQUEST_TIMEOUT_MS,
          headers:
            body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body: text });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });

  try {
    const puzzle = await call('GET', '/api/onboard');
    const { network, difficulty, grant } = JSON.parse(puzzle.body) as {
      network: AccountId;
      difficulty: number;
      grant: number;
    };

    log(`relay: onboarding ${ACCOUNTS} accounts`);
    const signers = Array.from({ length: ACCOUNTS }, () => createNodeSigner(new Uint8Array(randomBytes(32))));
    const accounts: Account[] = signers.map((signer, i) => ({
      signer,
      to: (signers[(i + 1) % ACCOUNTS] as Signer).accountId,
      sent: 0,
    }));
    for (let i = 0; i < ACCOUNTS; i += 20) {
      await Promise.all(
        signers.slice(i, i + 20).map(async (signer) => {
          const pow = await solvePow({ network, publicKey: signer.publicKey, difficulty });
          const reply = await call(
            'POST',
            '/api/onboard',
            JSON.stringify({ publicKey: toBase64Url(signer.publicKey), pow }),
          );
          if (reply.status !== 201) throw new Error(`onboarding failed: ${reply.status} ${reply.body}`);
        }),
      );
    }

    /** Signs the next `rounds` transfers of every account, as request bodies: [account][round]. */
    const signRounds = async (rounds: number): Promise<string[][]> =>
      Promise.all(
        accounts.map(async (account) => {
          const bodies: string[] = [];
          for (let r = 0; r < rounds; r++) {
            const tx = await signTransaction(account.signer, 'tx/transfer', {
              v: 1,
              net: network,
              to: account.to,
              amount: 1,
              seq: account.sent + r + 1,
            });
            bodies.push(JSON.stringify({ tx: toBase64Url(tx) }));
          }
          return bodies;
        }),
      );

    const acks: Ack[] = [];
    const failures: string[] = [];
    const submit = async (body: string, from: number): Promise<boolean> => {
      (accounts[from] as Account).sent += 1;
      try {
        const reply = await call('POST', '/api/ledger/tx', body);
        if (reply.status === 201) {
          acks.push({ id: (JSON.parse(reply.body) as { id: string }).id, from });
          return true;
        }
        failures.push(`${reply.status} ${reply.body.slice(0, 200)}`);
      } catch (error) {
        failures.push(String(error));
      }
      return false;
    };

    const closedLoop = (name: string, bodies: readonly (readonly string[])[]) =>
      closedLoopOf(name, bodies, submit, relay.child.pid);

    /** Transfer i goes at start + i / rate, from account i % ACCOUNTS (after that account's previous one). */
    const paced = async (name: string, rate: number, count: number): Promise<Phase> => {
      const rounds = Math.ceil(count / ACCOUNTS);
      const bodies = await signRounds(rounds);
      const latencies: number[] = [];
      const chains: Promise<unknown>[] = Array.from({ length: ACCOUNTS }, () => Promise.resolve());
      const inFlight: Promise<unknown>[] = [];
      let acked = 0;
      let i = 0;
      const interval = 1000 / rate;
      const cpu = cpuMeter(relay.child.pid);
      const started = performance.now();
      const deadline = started + PHASE_DEADLINE_MS;
      while (i < count && performance.now() < deadline) {
        const now = performance.now();
        for (; i < count && started + i * interval <= now; i++) {
          const scheduled = started + i * interval;
          const a = i % ACCOUNTS;
          const body = (bodies[a] as string[])[Math.floor(i / ACCOUNTS)] as string;
          const next = (chains[a] as Promise<unknown>).then(async () => {
            if (await submit(body, a)) acked++;
            latencies.push(performance.now() - scheduled);
          });
          chains[a] = next;
          inFlight.push(next);
        }
        await sleep(1);
      }
      await Promise.all(inFlight);
      return { name, sent: i, acked, seconds: (performance.now() - started) / 1000, latencies, ...(await cpu()) };
    };

    log('relay: warm-up');
    await closedLoop('warm-up', await signRounds(WARMUP_ROUNDS));
    // The reference server gets the very bodies the relay gets next (it keeps no seqs), just before it.
    const maxBodies = await signRounds(MAX_ROUNDS);
    log(`relay: reference server (express 5, native verify, group commit), ${LANES} requests in flight`);
    const reference = await referenceMax(maxBodies, call, log);
    log(`relay: max rate, ${LANES} requests in flight`);
    const max = await closedLoop(`max rate, ${LANES} in flight`, maxBodies);
    const maxRate = max.acked / max.seconds;
    const halfRate = Math.max(1, Math.round(maxRate / 2));
    const pacedCount = Math.min(PACED_MAX_COUNT, Math.round(halfRate * PACED_SECONDS));
    log(`relay: paced at ${halfRate}/s for ${pacedCount} transfers`);
    const half = await paced(`paced at half the max (${fmt(halfRate)}/s offered)`, halfRate, pacedCount);

    console.log('\n### Relay: durable signed submissions (HTTP on loopback, relay in its own process)\n');
    console.log(
      'Signed transfers to `POST /api/ledger/tx`: verify, apply, group-committed SQLite append, 201 only after the commit. ' +
        `${ACCOUNTS} accounts; each account's transfers are sent in seq order.\n`,
    );
    console.log(
      '| load | sent | acknowledged | acknowledged/s | p50 ms | p99 ms | relay CPU | client CPU | target | result |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|---|');
    const maxOk = max.acked === max.sent && maxRate >= TARGET_MAX_PER_S;
    const halfP99 = percentile(half.latencies, 0.99);
    const halfOk = half.acked === half.sent && halfP99 < TARGET_HALF_LOAD_P99_MS;
    row(max, `>= ${fmt(TARGET_MAX_PER_S)}/s`, maxOk);
    row(half, `p99 < ${TARGET_HALF_LOAD_P99_MS} ms`, halfOk);
    row(reference.phase, 'reference', reference.phase.acked === reference.phase.sent);
    const referenceRate = reference.phase.acked / reference.phase.seconds;
    console.log(
      `\nReference: the same transfers, just before, to a bare express 5 server doing one native verify and a ` +
        `group-committed SQLite append per request, no ledger rules (test/bench/relay-ceiling.ts). ` +
        `Relay / reference: ${((maxRate / referenceRate) * 100).toFixed(0)}%` +
        (reference.failures.length > 0 ? `; reference failures: ${reference.failures[0] ?? ''}` : '') +
        '.',
    );

    // Every acknowledged transfer must be in the ledger, and the balances must add up.
    log('relay: checking the acknowledged transfers');
    const sample = Array.from(
      { length: Math.min(VERIFY_SAMPLE, acks.length) },
      () => acks[randomInt(acks.length)] as Ack,
    );
    let found = 0;
    for (const ack of sample) {
      const reply = await call('GET', `/api/ledger/tx/${ack.id}`);
      if (reply.status === 200 && (JSON.parse(reply.body) as { id: string }).id === ack.id) found++;
    }
    const sent = new Array<number>(ACCOUNTS).fill(0);
    for (const ack of acks) sent[ack.from] = (sent[ack.from] ?? 0) + 1;
    let balancesOk = 0;
    let total = 0;
    for (let a = 0; a < ACCOUNTS; a++) {
      const reply = await call('GET', `/api/ledger/balance/${(accounts[a] as Account).signer.accountId}`);
      const record = JSON.parse(reply.body) as { balance: number; seq: number };
      const received = sent[(a + ACCOUNTS - 1) % ACCOUNTS] ?? 0;
      const expected = grant - (sent[a] ?? 0) + received;
      total += record.balance;
      if (reply.status === 200 && record.balance === expected && record.seq === sent[a]) balancesOk++;
    }
    const allFine = found === sample.length && balancesOk === ACCOUNTS && total === grant * ACCOUNTS;
    console.log(
      `\nCheck: ${fmt(acks.length)} transfers acknowledged (warm-up included), ${failures.length} refused or failed; ` +
        `${found}/${sample.length} sampled ids read back from \`GET /api/ledger/tx/:id\`; ` +
        `${balancesOk}/${ACCOUNTS} balances and seqs as expected, total ${fmt(total)} of ${fmt(grant * ACCOUNTS)} granted: ` +
        (allFine && failures.length === 0 ? 'PASS' : 'FAIL'),
    );
    if (failures.length > 0) console.log(`\nFirst failure: ${failures[0] ?? ''}`);
  } finally {
    agent.destroy();
    await relay.stop();
    await relay.cleanup();
  }
}

/**
 * The reference server (test/bench/relay-ceiling.ts) in its own process, at
 * 50 in flight: its first rounds warm it up, the rest are measured.
 */
async function referenceMax(
  bodies: readonly (readonly string[])[],
  call: (method: 'POST', path: string, body: string, target: number) => Promise<Reply>,
  log: Log,
): Promise<{ phase: Phase; failures: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'acn-bench-ceiling-'));
  const child = spawn(process.execPath, ['test/bench/relay-ceiling.ts', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    const { port } = JSON.parse(line) as { port: number };
    const failures: string[] = [];
    const post = async (body: string): Promise<boolean> => {
      try {
        const reply = await call('POST', '/tx', body, port);
        if (reply.status === 201) return true;
        failures.push(`${reply.status} ${reply.body.slice(0, 200)}`);
      } catch (error) {
        failures.push(String(error));
      }
      return false;
    };
    const measured = (from: number, to?: number) => bodies.map((rounds) => rounds.slice(from, to));
    await closedLoopOf('warm-up', measured(0, WARMUP_ROUNDS), post, undefined);
    log('relay: reference measured');
    const phase = await closedLoopOf(
      'reference: express 5 + native verify + group commit',
      measured(WARMUP_ROUNDS),
      post,
      child.pid,
    );
    return { phase, failures };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * 50 lanes, each posting its accounts' transfers (`bodies[account][round]`)
 * one after another, round by round; `pid` is the server's process, for its CPU.
 */
async function closedLoopOf(
  name: string,
  bodies: readonly (readonly string[])[],
  post: (body: string, from: number) => Promise<boolean>,
  pid: number | undefined,
): Promise<Phase> {
  const rounds = bodies[0]?.length ?? 0;
  const latencies: number[] = [];
  let sent = 0;
  let acked = 0;
  const cpu = cpuMeter(pid);
  const started = performance.now();
  const deadline = started + PHASE_DEADLINE_MS;
  await Promise.all(
    Array.from({ length: LANES }, async (_, lane) => {
      for (let r = 0; r < rounds; r++) {
        for (let a = lane; a < ACCOUNTS; a += LANES) {
          if (performance.now() > deadline) return;
          const t0 = performance.now();
          sent++;
          if (await post((bodies[a] as string[])[r] as string, a)) acked++;
          latencies.push(performance.now() - t0);
        }
      }
    }),
  );
  return { name, sent, acked, seconds: (performance.now() - started) / 1000, latencies, ...(await cpu()) };
}

function row(phase: Phase, target: string, pass: boolean): void {
  console.log(
    `| ${phase.name} | ${fmt(phase.sent)} | ${fmt(phase.acked)} | ${fmt(phase.acked / phase.seconds)} | ` +
      `${percentile(phase.latencies, 0.5).toFixed(1)} | ${percentile(phase.latencies, 0.99).toFixed(1)} | ` +
      `${phase.relayCpu === undefined ? 'n/a' : `${phase.relayCpu.toFixed(0)}%`} | ${phase.clientCpu.toFixed(0)}% | ` +
      `${target} | ${pass ? 'PASS' : 'FAIL'} |`,
  );
}

// ---------------------------------------------------------------------------
// 2. Ledger appends in-process

const LEDGER_SENDERS = 40;

interface AppendRow {
  readonly name: string;
  readonly count: number;
  readonly seconds: number;
}

async function ledgerAppends(log: Log): Promise<void> {
  const rows: AppendRow[] = [];
  log('relay: ledger appends, group commit, all concurrent');
  rows.push(await measureAppends('group commit, 10,000 submitted at once', {}, 10_000, 'concurrent'));
  log('relay: ledger appends, one commit per transaction');
  rows.push(
    await measureAppends('one commit per transaction, 2,000 at once', { maxCommitTxs: 1 }, 2_000, 'concurrent'),
  );
  log('relay: ledger appends, one client awaiting each ack');
  rows.push(await measureAppends('one client awaiting each ack (group commit on)', {}, 2_000, 'sequential'));
  log('relay: ledger appends on the relay threads, all concurrent');
  rows.push(
    await measureAppends(
      'group commit on the relay’s verifier and SQLite threads, 10,000 at once',
      {},
      10_000,
      'concurrent',
      true,
    ),
  );

  console.log('\n### Relay: ledger appends (in-process, no HTTP; verify + apply + durable SQLite append)\n');
  console.log('| mode | transactions | appends/s | ms per append |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${fmt(r.count)} | ${fmt(r.count / r.seconds)} | ${((r.seconds * 1000) / r.count).toFixed(3)} |`,
    );
  }
}

async function measureAppends(
  name: string,
  init: Partial<LedgerServiceInit>,
  count: number,
  mode: 'concurrent' | 'sequential',
  threads = false,
): Promise<AppendRow> {
  const dir = await mkdtemp(join(tmpdir(), 'acn-bench-ledger-'));
  const verifierThread = threads ? createVerifierThread() : undefined;
  try {
    const producer = createNodeSigner(new Uint8Array(randomBytes(32)));
    const senders = Array.from({ length: LEDGER_SENDERS }, () => createNodeSigner(new Uint8Array(randomBytes(32))));
    const path = join(dir, 'ledger.db');
    const ledger = createLedgerService({
      store: threads ? createSqliteThreadStore({ path }) : createSqliteLedgerStore({ path }),
      producer,
      verifier: verifierThread ?? createNodeVerifier(),
      params: TEST_PARAMS,
      ...init,
    });
    await ledger.start();
    try {
      for (const who of senders) {
        const pow = await solvePow({
          network: producer.accountId,
          publicKey: who.publicKey,
          difficulty: TEST_PARAMS.minPowDifficulty,
        });
        const granted = await ledger.submitSigned('tx/grant', { to: who.accountId, amount: 1000, pow });
        if (!granted.ok) throw granted.error;
      }
      const signed: Uint8Array[] = [];
      for (let seq = 1; signed.length < count; seq++) {
        for (const [i, from] of senders.entries()) {
          if (signed.length === count) break;
          const to = (senders[(i + 1) % LEDGER_SENDERS] as Signer).accountId;
          signed.push(
            await signTransaction(from, 'tx/transfer', { v: 1, net: producer.accountId, to, amount: 1, seq }),
          );
        }
      }
      const started = performance.now();
      if (mode === 'concurrent') {
        const results = await Promise.all(signed.map((bytes) => ledger.submit(bytes)));
        if (!results.every((r) => r.ok)) throw new Error('a submission failed');
      } else {
        const deadline = started + PHASE_DEADLINE_MS;
        for (const bytes of signed) {
          if (performance.now() > deadline) throw new Error('sequential appends took too long');
          if (!(await ledger.submit(bytes)).ok) throw new Error('a submission failed');
        }
      }
      return { name, count, seconds: (performance.now() - started) / 1000 };
    } finally {
      await ledger.stop();
    }
  } finally {
    await verifierThread?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// 3. Idle libp2p peers

const IDLE_PEERS = 1000;
const IDLE_SECONDS = 15;

async function idlePeers(log: Log): Promise<void> {
  log(`relay: ${IDLE_PEERS} idle libp2p peers for ${IDLE_SECONDS} s (test/bench/p2p-idle.ts)`);
  const child = promisify(execFile)(
    process.execPath,
    ['test/bench/p2p-idle.ts', '--peers', String(IDLE_PEERS), '--idle', String(IDLE_SECONDS)],
    { timeout: 180_000, maxBuffer: 1024 * 1024 },
  );
  child.child.stderr?.pipe(process.stderr);
  const { stdout } = await child;
  const lines = stdout.split('\n').filter((line) => line.startsWith('|'));
  console.log(
    `\n### Relay: idle libp2p peers (${IDLE_PEERS} stock js-libp2p clients on loopback, relay in its own process)\n`,
  );
  for (const line of lines) console.log(line);

  // The data row's cells: clients, peers, RSS before, RSS with peers, RSS per peer,
  // RSS per peer (2nd half), heap per peer (2nd half), connect time, idle CPU.
  const cells = (lines[2] ?? '').split('|').map((cell) => cell.trim());
  const perPeer = kibibytes(cells[5]);
  const marginal = kibibytes(cells[6]);
  const cpu = Number.parseFloat(cells[9] ?? '');
  if (perPeer === undefined || marginal === undefined || !Number.isFinite(cpu)) {
    console.log('\nCould not read the figures from p2p-idle.ts: FAIL');
    return;
  }
  const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;
  console.log(
    `\nRelay memory per idle peer (target < ${TARGET_IDLE_BYTES_PER_PEER / 1000} KB): ` +
      `${kb(marginal)} per added peer over the second half: ${marginal < TARGET_IDLE_BYTES_PER_PEER ? 'PASS' : 'FAIL'}; ` +
      `${kb(perPeer)} averaged over all peers, one-time growth included: ${perPeer < TARGET_IDLE_BYTES_PER_PEER ? 'PASS' : 'FAIL'}`,
  );
  console.log(
    `Relay CPU with ${IDLE_PEERS} idle peers (target < ${TARGET_IDLE_CPU_PERCENT}% of a core): ` +
      `${cpu.toFixed(2)}%: ${cpu < TARGET_IDLE_CPU_PERCENT ? 'PASS' : 'FAIL'}`,
  );
}

/** "25.9 KiB" → bytes. */
function kibibytes(cell: string | undefined): number | undefined {
  const match = /^([\d.]+) KiB$/.exec(cell ?? '');
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

// ---------------------------------------------------------------------------

/** Starts measuring CPU; the returned function gives the relay's and this process's use since, in % of a core. */
function cpuMeter(pid: number | undefined): () => Promise<{ relayCpu: number | undefined; clientCpu: number }> {
  const ticks = async (): Promise<number | undefined> => {
    if (pid === undefined) return undefined;
    try {
      // /proc/<pid>/stat: utime and stime are fields 14 and 15, in clock ticks (USER_HZ, 100 on Linux).
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return undefined;
    }
  };
  const startTicks = ticks();
  const startUsage = process.cpuUsage();
  const started = performance.now();
  return async () => {
    const seconds = (performance.now() - started) / 1000;
    const usage = process.cpuUsage(startUsage);
    const [before, after] = [await startTicks, await ticks()];
    return {
      relayCpu: before === undefined || after === undefined ? undefined : (after - before) / seconds,
      clientCpu: ((usage.user + usage.system) / 1e6 / seconds) * 100,
    };
  };
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const PARTS = { http: httpSubmissions, appends: ledgerAppends, idle: idlePeers } as const;

/**
 * `node test/bench/relay.ts [http] [appends] [idle]` runs only the named parts
 * of this section (all three when none is named), e.g. while tuning one of them.
 */
if (import.meta.main) {
  const names = process.argv.slice(2);
  const unknown = names.filter((name) => !(name in PARTS));
  if (unknown.length > 0)
    throw new Error(`unknown part ${unknown.join(', ')}; parts: ${Object.keys(PARTS).join(', ')}`);
  const log: Log = (line) => process.stderr.write(`  … ${line}\n`);
  for (const name of names.length > 0 ? names : Object.keys(PARTS)) await PARTS[name as keyof typeof PARTS](log);
}
