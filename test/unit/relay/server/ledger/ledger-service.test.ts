/**
 * The relay's ledger service: submissions through the shared rules, durable
 * group commits, blocks with Merkle proofs, restarts, bad input and failed
 * commits. Errors are told apart by `name` and `code`, never by text.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import {
  createLedgerService,
  type LedgerBlock,
  type LedgerService,
  type LedgerServiceInit,
} from '#server/ledger/ledger-service.ts';
import type { LedgerStore } from '#server/ledger/ledger-store.ts';
import { createMemoryLedgerStore } from '#server/ledger/memory-store.ts';
import { createSqliteLedgerStore } from '#server/ledger/sqlite-store.ts';
import { verifyLedger } from '#server/ledger/verify-ledger.ts';
import {
  DEFAULT_UNBONDING_MS,
  readBlockHeader,
  readGenesis,
  signTransaction,
  totalValue,
  verifyTxInclusion,
  type Signer,
  type TxId,
} from '#core/index.ts';
import { fastSigner } from '#test/ledger-fast-signer.ts';
import { dumpSqlite, expectFailure, expectOk, faultyStore, onboard, transferBytes } from '#test/ledger-fixtures.ts';
import {
  createTestNetwork,
  forgeSignature,
  grant,
  receipt,
  signerFor,
  snapshot,
  T0,
  task,
  TEST_PARAMS,
  type TestNetwork,
} from '#test/network.ts';

const verifier = createNodeVerifier();
let net: TestNetwork;
let alice: Signer;
let bob: Signer;
let carol: Signer;
let dir: string;
let path: string;

beforeAll(async () => {
  net = await createTestNetwork();
  alice = signerFor('ledger alice');
  bob = signerFor('ledger bob');
  carol = signerFor('ledger carol');
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'acn-ledger-service-'));
  path = join(dir, 'ledger.db');
});
afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

let clock = T0 + 60_000;
function service(init: Partial<LedgerServiceInit> = {}): LedgerService {
  return createLedgerService({
    store: createSqliteLedgerStore({ path }),
    producer: net.relay,
    verifier,
    params: TEST_PARAMS,
    blockIntervalMs: 60_000,
    now: () => (clock += 1000),
    ...init,
  });
}

async function started(init: Partial<LedgerServiceInit> = {}): Promise<LedgerService> {
  const ledger = service(init);
  await ledger.start();
  return ledger;
}

function collectBlocks(ledger: LedgerService): LedgerBlock[] {
  const blocks: LedgerBlock[] = [];
  ledger.addEventListener('block', (event) => blocks.push(event.detail));
  return blocks;
}

/** Resolves once `blocks` (filled by {@link collectBlocks}, registered first) holds `count` blocks. */
function blocksMade(ledger: LedgerService, blocks: readonly LedgerBlock[], count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (blocks.length < count) return;
      ledger.removeEventListener('block', check);
      resolve();
    };
    ledger.addEventListener('block', check);
    check();
  });
}

const openStore = (): LedgerStore => createSqliteLedgerStore({ path });

/** Opens the database file, verifies it and closes it again. */
async function verifyFile(): Promise<Awaited<ReturnType<typeof verifyLedger>>> {
  const store = openStore();
  try {
    return await verifyLedger(store, verifier);
  } finally {
    await store.close();
  }
}

describe('starting', () => {
  it('writes a signed genesis into an empty store', async () => {
    const ledger = await started();
    expect(ledger.height).toBe(0);
    expect(ledger.network).toBe(net.relay.accountId);
    // TEST_PARAMS name no unbonding period, so a new genesis gets the default one.
    const params = { ...TEST_PARAMS, unbondingMs: DEFAULT_UNBONDING_MS };
    expect(ledger.params).toEqual(params);
    expect(ledger.state.supply).toBe(0);
    await ledger.stop();
    const store = openStore();
    const genesis = readGenesis((await store.genesis()) as Uint8Array, verifier);
    expect(genesis.ok && genesis.value.payload).toMatchObject({ net: net.relay.accountId, params });
    await store.close();
  });

  it('refuses a ledger made by another key or with other parameters', async () => {
    await (await started()).stop();
    const otherKey = service({ producer: signerFor('another relay') });
    await expect(otherKey.start()).rejects.toMatchObject({ name: 'GenesisMismatchError', code: 'genesis-mismatch' });
    await otherKey.stop();
    const otherParams = service({ params: { ...TEST_PARAMS, feeBps: 1 } });
    await expect(otherParams.start()).rejects.toMatchObject({ name: 'GenesisMismatchError', code: 'genesis-mismatch' });
    await otherParams.stop();
  });

  it('refuses submissions before start and after stop', async () => {
    const ledger = service();
    const bytes = await transferBytes(net, alice, bob.accountId, 1, 1);
    expectFailure(await ledger.submit(bytes), 'LedgerNotRunningError', 'not-running');
    await ledger.start();
    await ledger.stop();
    expectFailure(await ledger.submit(bytes), 'LedgerNotRunningError', 'not-running');
    await expect(ledger.start()).rejects.toMatchObject({ name: 'LedgerNotRunningError' });
  });
});

describe('submitting', () => {
  it('onboards accounts with grants and moves tokens with transfers and stakes', async () => {
    const ledger = await started();
    expect(expectOk(await onboard(ledger, net, alice)).seq).toBe(1);
    expect(expectOk(await onboard(ledger, net, bob)).seq).toBe(2);
    expect(ledger.balance(alice.accountId)).toBe(1000);
    expect(ledger.account(bob.accountId)).toMatchObject({ balance: 1000, granted: true, seq: 0 });
    expectFailure(await onboard(ledger, net, alice), 'AlreadyGrantedError', 'already-granted');

    const sent = expectOk(await ledger.submit(await transferBytes(net, alice, bob.accountId, 300, 1)));
    expect(sent.seq).toBe(3);
    expect([ledger.balance(alice.accountId), ledger.balance(bob.accountId)]).toEqual([700, 1300]);
    const staked = await signTransaction(bob, 'tx/stake', { v: 1, net: net.relay.accountId, amount: 200, seq: 1 });
    expectOk(await ledger.submit(staked));
    expect(ledger.account(bob.accountId)).toMatchObject({ balance: 1100, stake: 200, seq: 1 });
    expect(ledger.state.supply).toBe(2000);

    const stored = await ledger.tx(sent.id);
    expect(stored).toMatchObject({ id: sent.id, seq: 3, type: 'tx/transfer', block: undefined });
    await ledger.stop();
  });

  it('escrows, settles, refunds and slashes, signed by the relay', async () => {
    const ledger = await started();
    const worker = signerFor('ledger worker');
    for (const who of [alice, worker]) expectOk(await onboard(ledger, net, who));
    const stake = await signTransaction(worker, 'tx/stake', { v: 1, net: net.relay.accountId, amount: 100, seq: 1 });
    expectOk(await ledger.submit(stake));

    const paid = await task(net, alice, { maxPrice: 100 });
    expectOk(await ledger.submitSigned('tx/escrow', { task: paid.bytes }));
    expect(ledger.escrow(paid.id)).toMatchObject({ payer: alice.accountId, amount: 100, status: 'open' });
    expect(ledger.balance(alice.accountId)).toBe(900);
    const work = await receipt(net, worker, paid.id);
    expectOk(await ledger.submitSigned('tx/settle', { task: paid.id, receipt: work, price: 80 }));
    expect(ledger.escrow(paid.id)?.status).toBe('settled');
    expect(ledger.balance(worker.accountId)).toBe(900 + 80 - 4);
    expect(ledger.balance(net.relay.accountId)).toBe(4);
    expect(ledger.balance(alice.accountId)).toBe(920);

    const cancelled = await task(net, alice, { maxPrice: 50 });
    expectOk(await ledger.submitSigned('tx/escrow', { task: cancelled.bytes }));
    expect(ledger.balance(alice.accountId)).toBe(870);
    expectOk(await ledger.submitSigned('tx/refund', { task: cancelled.id, reason: 'cancelled' }));
    expect(ledger.escrow(cancelled.id)?.status).toBe('refunded');
    expect(ledger.balance(alice.accountId)).toBe(920);
    const late = await ledger.submitSigned('tx/settle', { task: cancelled.id, receipt: work, price: 1 });
    expectFailure(late, 'EscrowClosedError', 'escrow-closed');

    expectOk(
      await ledger.submitSigned('tx/slash', { worker: worker.accountId, task: paid.id, amount: 60, evidence: work }),
    );
    expect(ledger.account(worker.accountId)).toMatchObject({ stake: 40, reputation: 500 + 5 - 250 });
    expect(ledger.balance(net.relay.accountId)).toBe(4 + 60);
    expect(totalValue(ledger.state)).toBe(ledger.state.supply);
    await ledger.stop();
    // The stored account rows (worker, payer, relay) match the replay.
    const report = await verifyFile();
    expect(report).toMatchObject({ ok: true, txCount: 8, supply: 2000, problems: [] });
  });

  it('refuses an aborted submission without applying it', async () => {
    const ledger = await started();
    expectOk(await onboard(ledger, net, alice));
    const controller = new AbortController();
    controller.abort();
    const bytes = await transferBytes(net, alice, bob.accountId, 1, 1);
    expectFailure(await ledger.submit(bytes, { signal: controller.signal }), 'SubmitAbortedError', 'aborted');
    expectOk(await ledger.submit(bytes, { signal: AbortSignal.timeout(1000) }));
    await ledger.stop();
  });
});

describe('blocks', () => {
  it('makes blocks of committed transactions with proofs a light client verifies', async () => {
    const ledger = await started({ maxBlockTxs: 3 });
    const blocks = collectBlocks(ledger);
    // Signed first and submitted together, so they share one commit.
    const signed = [(await grant(net, alice)).bytes, (await grant(net, bob)).bytes];
    for (let seq = 1; seq <= 5; seq++) signed.push(await transferBytes(net, alice, bob.accountId, 10, seq));
    const ids = (await Promise.all(signed.map((bytes) => ledger.submit(bytes)))).map((r) => expectOk(r).id);
    await blocksMade(ledger, blocks, 2);
    expect(blocks.map((b) => [b.height, b.txIds.length])).toEqual([
      [1, 3],
      [2, 3],
    ]);
    expect(blocks.flatMap((b) => b.txIds)).toEqual(ids.slice(0, 6));
    expect(ledger.height).toBe(2);

    async function checkProof(id: TxId, height: number): Promise<void> {
      const proof = await ledger.proof(id);
      if (proof === undefined) return expect.fail(`no proof for ${id}`);
      const header = readBlockHeader(proof.header, verifier);
      if (!header.ok) return expect.fail(header.error.name);
      expect(header.value.payload.height).toBe(height);
      expect(verifyTxInclusion(header.value, proof.tx, proof.proof)).toBe(true);
      const tampered = Uint8Array.from(proof.tx);
      tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
      expect(verifyTxInclusion(header.value, tampered, proof.proof)).toBe(false);
    }
    for (const [i, id] of ids.slice(0, 6).entries()) await checkProof(id, Math.floor(i / 3) + 1);
    const waiting = ids[6] as TxId;
    expect(await ledger.proof(waiting)).toBeUndefined();
    expect((await ledger.tx(waiting))?.block).toBeUndefined();
    expect((await ledger.tx(ids[4] as TxId))?.block).toEqual({ height: 2, index: 1 });

    await ledger.stop(); // makes the final block
    expect(blocks.map((b) => b.height)).toEqual([1, 2, 3]);
    const report = await verifyFile();
    expect(report).toMatchObject({ ok: true, height: 3, txCount: 7 });

    // After a restart the proofs come from the store.
    const reopened = await started({ maxBlockTxs: 3 });
    expect(reopened.height).toBe(3);
    const headers = await reopened.blocks({ fromHeight: 2, limit: 5 });
    expect(headers.map((h) => h.height)).toEqual([2, 3]);
    const proof = await reopened.proof(waiting);
    const header = readBlockHeader(proof?.header ?? new Uint8Array(), verifier);
    expect(header.ok && proof && verifyTxInclusion(header.value, proof.tx, proof.proof)).toBe(true);
    await reopened.stop();
  });

  it('makes a block every blockIntervalMs when transactions wait, and none when nothing does', async () => {
    // The block timer runs on a fake clock; commits keep their real (1 ms) timer.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const ledger = await started({ blockIntervalMs: 20 });
    const blocks = collectBlocks(ledger);
    await vi.advanceTimersByTimeAsync(60);
    expect(blocks).toEqual([]);
    expectOk(await onboard(ledger, net, alice));
    expect(blocks).toEqual([]);
    const made = blocksMade(ledger, blocks, 1);
    await vi.advanceTimersByTimeAsync(20);
    await made;
    const [block] = blocks;
    const header = readBlockHeader(block?.header ?? new Uint8Array(), verifier);
    expect(header.ok && header.value.payload).toMatchObject({ height: 1, txCount: 1, net: net.relay.accountId });
    await ledger.stop();
  });
});

describe('restarting', () => {
  async function busyLedger(ledger: LedgerService): Promise<void> {
    const worker = signerFor('ledger worker');
    for (const who of [alice, bob, worker]) expectOk(await onboard(ledger, net, who));
    expectOk(await ledger.submit(await transferBytes(net, alice, bob.accountId, 250, 1)));
    const stake = await signTransaction(worker, 'tx/stake', { v: 1, net: net.relay.accountId, amount: 300, seq: 1 });
    expectOk(await ledger.submit(stake));
    const open = await task(net, bob, { maxPrice: 70 });
    expectOk(await ledger.submitSigned('tx/escrow', { task: open.bytes }));
    const done = await task(net, alice, { maxPrice: 40 });
    expectOk(await ledger.submitSigned('tx/escrow', { task: done.bytes }));
    const work = await receipt(net, worker, done.id);
    expectOk(await ledger.submitSigned('tx/settle', { task: done.id, receipt: work, price: 40 }));
  }

  it('gives the same balances, escrows and height after stop and reopen', async () => {
    const first = await started({ maxBlockTxs: 4 });
    await busyLedger(first);
    await first.stop();
    const before = { state: snapshot(first.state), height: first.height };
    expect(before.height).toBe(2);

    const second = await started({ maxBlockTxs: 4 });
    expect({ state: snapshot(second.state), height: second.height }).toEqual(before);
    const next = expectOk(await second.submit(await transferBytes(net, alice, carol.accountId, 5, 2)));
    expect(next.seq).toBe(9);
    await second.stop();
  });

  it('replays transactions committed after the last block when it was not stopped cleanly', async () => {
    const store = openStore();
    const first = await started({ store });
    await busyLedger(first);
    const before = snapshot(first.state);
    await store.close(); // as if the process died: no final block
    expect(first.height).toBe(0);

    const second = await started();
    expect(snapshot(second.state)).toEqual(before);
    expect(second.height).toBe(0);
    await second.stop(); // blocks the replayed tail
    expect(second.height).toBe(1);
    expect(await verifyFile()).toMatchObject({ ok: true, height: 1, txCount: 8 });
  });
});

describe('bad input', () => {
  it('gets a typed error and leaves the database byte-for-byte unchanged', async () => {
    const ledger = await started();
    for (const who of [alice, bob]) expectOk(await onboard(ledger, net, who));
    const first = await transferBytes(net, alice, bob.accountId, 100, 1);
    expectOk(await ledger.submit(first));
    const dumpBefore = dumpSqlite(path);
    const stateBefore = snapshot(ledger.state);

    const wrongNet = await signTransaction(alice, 'tx/transfer', {
      v: 1,
      net: bob.accountId,
      to: bob.accountId,
      amount: 1,
      seq: 2,
    });
    const cases: [string, Uint8Array, string, string][] = [
      ['random bytes', Uint8Array.from([0xde, 0xad, 0xbe, 0xef]), 'MalformedEncodingError', 'malformed-encoding'],
      ['an empty body', new Uint8Array(0), 'MalformedEncodingError', 'malformed-encoding'],
      ['a truncated tx', first.slice(0, first.length - 9), 'MalformedEncodingError', 'malformed-encoding'],
      [
        'a forged signature',
        forgeSignature(await transferBytes(net, alice, bob.accountId, 1, 2)),
        'BadSignatureError',
        'bad-signature',
      ],
      ['a replayed transfer', first, 'BadSequenceError', 'bad-sequence'],
      [
        'an overdraft',
        await transferBytes(net, alice, bob.accountId, 5000, 2),
        'InsufficientFundsError',
        'insufficient-funds',
      ],
      ['a task instead of a tx', (await task(net, alice)).bytes, 'WrongMessageTypeError', 'wrong-message-type'],
      [
        'a refund not signed by the relay',
        await signTransaction(alice, 'tx/refund', {
          v: 1,
          net: net.relay.accountId,
          task: (await task(net, alice)).id,
          reason: 'failed',
        }),
        'UnauthorizedError',
        'unauthorized',
      ],
      ['another network', wrongNet, 'WrongNetworkError', 'wrong-network'],
    ];
    // Any commit timer a refused submission set would fire within the fake 20 ms.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    for (const [, bytes, name, code] of cases) expectFailure(await ledger.submit(bytes), name, code);
    await vi.advanceTimersByTimeAsync(20);
    vi.useRealTimers();
    expect(dumpSqlite(path)).toEqual(dumpBefore);
    expect(snapshot(ledger.state)).toEqual(stateBefore);
    await ledger.stop();
  });
});

describe('a failed commit', () => {
  it('rolls memory back and refuses every submission of the group', async () => {
    const store = faultyStore(openStore());
    const ledger = await started({ store });
    const errors: Error[] = [];
    ledger.addEventListener('error', (event) => errors.push(event.detail));
    for (const who of [alice, bob]) expectOk(await onboard(ledger, net, who));
    const dumpBefore = dumpSqlite(path);
    const stateBefore = snapshot(ledger.state);

    store.gate = () => Promise.resolve(true);
    const group = [
      await transferBytes(net, alice, bob.accountId, 600, 1),
      await transferBytes(net, bob, alice.accountId, 1500, 1), // only possible after the first
      await transferBytes(net, alice, bob.accountId, 100, 2),
    ];
    const results = await Promise.all(group.map((bytes) => ledger.submit(bytes)));
    for (const result of results) expectFailure(result, 'CommitFailedError', 'commit-failed');
    expect(snapshot(ledger.state)).toEqual(stateBefore);
    expect(dumpSqlite(path)).toEqual(dumpBefore);
    expect(errors.map((e) => e.name)).toEqual(['CommitFailedError']);

    // Nothing was applied, so the very same transactions go through once the store works again.
    store.gate = undefined;
    const retried = await Promise.all(group.map((bytes) => ledger.submit(bytes)));
    expect(retried.map((r) => expectOk(r).seq)).toEqual([3, 4, 5]);
    expect([ledger.balance(alice.accountId), ledger.balance(bob.accountId)]).toEqual([1800, 200]);
    await ledger.stop();
    expect(await verifyFile()).toMatchObject({ ok: true, txCount: 5, supply: 2000 });
  });

  it('re-applies submissions that waited behind the failed group on the committed state', async () => {
    const store = faultyStore(createMemoryLedgerStore());
    const ledger = await started({ store });
    for (const who of [alice, bob, carol]) expectOk(await onboard(ledger, net, who));

    let entered!: () => void;
    const inFlight = new Promise<void>((resolve) => (entered = resolve));
    let fail!: (value: boolean) => void;
    store.gate = () => {
      entered();
      return new Promise<boolean>((resolve) => (fail = resolve));
    };
    const failing = [
      ledger.submit(await transferBytes(net, alice, bob.accountId, 500, 1)),
      ledger.submit(await transferBytes(net, alice, carol.accountId, 100, 2)),
    ];
    await inFlight;
    store.gate = undefined;
    const independent = ledger.submit(await transferBytes(net, carol, bob.accountId, 50, 1));
    const needsFailedFunds = ledger.submit(await transferBytes(net, bob, carol.accountId, 1400, 1));
    const needsFailedSeq = ledger.submit(await transferBytes(net, alice, bob.accountId, 1, 3));
    fail(true);

    for (const result of await Promise.all(failing)) expectFailure(result, 'CommitFailedError', 'commit-failed');
    expect(expectOk(await independent).seq).toBe(4);
    expectFailure(await needsFailedFunds, 'InsufficientFundsError', 'insufficient-funds');
    expectFailure(await needsFailedSeq, 'BadSequenceError', 'bad-sequence');
    expect([alice, bob, carol].map((s) => ledger.balance(s.accountId))).toEqual([1000, 1050, 950]);
    expect(totalValue(ledger.state)).toBe(3000);
    expect(await verifyLedger(store, verifier)).toMatchObject({ ok: true, txCount: 4 });
    await ledger.stop();
  });
});

describe('concurrency', () => {
  it('acknowledges 2,000 concurrent submissions, all durable, in far fewer commits', async () => {
    const store = faultyStore(openStore());
    const ledger = await started({ store });
    const accounts = Array.from({ length: 20 }, (_, i) => fastSigner(signerFor(`ledger crowd ${i}`)));
    for (const result of await Promise.all(accounts.map((who) => onboard(ledger, net, who)))) expectOk(result);
    const appendsBefore = store.appends;

    const signed: Uint8Array[] = [];
    for (let seq = 1; seq <= 100; seq++) {
      for (const [i, from] of accounts.entries()) {
        const to = (accounts[(i + 1) % accounts.length] as Signer).accountId;
        signed.push(await transferBytes(net, from, to, 1, seq));
      }
    }
    const results = await Promise.all(signed.map((bytes) => ledger.submit(bytes)));
    const acknowledged = results.map((r) => expectOk(r));
    expect(new Set(acknowledged.map((a) => a.seq)).size).toBe(2000);
    expect(Math.max(...acknowledged.map((a) => a.seq))).toBe(2020);
    const commits = store.appends - appendsBefore;
    expect(commits).toBeLessThan(100);
    await ledger.stop();

    const reopened = openStore();
    for (const { id, seq } of acknowledged) expect((await reopened.tx(id))?.seq).toBe(seq);
    expect(await verifyLedger(reopened, verifier)).toMatchObject({ ok: true, txCount: 2020, supply: 20_000 });
    await reopened.close();
  });
});
