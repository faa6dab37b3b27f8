/**
 * The ledger service as the relay runs it: signatures checked on the
 * verifier thread, SQLite on its own thread. The same submissions, good and
 * bad, pipelined without waiting, must give the same answers and the same
 * database file, byte for byte, as the single-threaded service; submissions
 * are applied in the order they were made; aborts and stops while a
 * signature is being checked apply nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createVerifierThread, type VerifierThread } from '#node/crypto/verifier-thread.ts';
import { createLedgerService, type LedgerService } from '#server/ledger/ledger-service.ts';
import { createSqliteLedgerStore } from '#server/ledger/sqlite-store.ts';
import { createSqliteThreadStore } from '#server/ledger/sqlite-thread-store.ts';
import { verifyLedger } from '#server/ledger/verify-ledger.ts';
import { signTransaction, type Signer } from '#core/index.ts';
import { fastSigner } from '#test/ledger-fast-signer.ts';
import { dumpSqlite, expectFailure, expectOk, onboard, transferBytes } from '#test/ledger-fixtures.ts';
import {
  createTestNetwork,
  forgeSignature,
  receipt,
  signerFor,
  T0,
  task,
  TEST_PARAMS,
  type TestNetwork,
} from '#test/network.ts';

let net: TestNetwork;
let alice: Signer;
let bob: Signer;
let worker: Signer;
let dir: string;
const threads: VerifierThread[] = [];

beforeAll(async () => {
  net = await createTestNetwork();
  alice = fastSigner(signerFor('threads alice'));
  bob = fastSigner(signerFor('threads bob'));
  worker = fastSigner(signerFor('threads worker'));
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'acn-ledger-threads-'));
});
afterEach(async () => {
  await Promise.all(threads.splice(0).map((thread) => thread.close()));
  await rm(dir, { recursive: true, force: true });
});

/** A ledger on `file`, single-threaded (as before) or on the relay's threads. */
function ledgerOn(file: string, threaded: boolean): LedgerService {
  let clock = T0 + 60_000;
  const path = join(dir, file);
  const thread = threaded ? createVerifierThread() : undefined;
  if (thread !== undefined) threads.push(thread);
  return createLedgerService({
    store: threaded ? createSqliteThreadStore({ path }) : createSqliteLedgerStore({ path }),
    producer: net.relay,
    verifier: thread ?? createNodeVerifier(),
    params: TEST_PARAMS,
    blockIntervalMs: 60_000,
    now: () => (clock += 1000),
  });
}

interface Inputs {
  readonly stake: Uint8Array;
  readonly paid: Awaited<ReturnType<typeof task>>;
  readonly work: Uint8Array;
  /** Pipelined: sent all at once, good and bad mixed; each account's seqs in order. */
  readonly sends: readonly Uint8Array[];
}

/** Signs every submission once, so both ledgers get the very same bytes. */
async function inputs(): Promise<Inputs> {
  const stake = await signTransaction(worker, 'tx/stake', { v: 1, net: net.relay.accountId, amount: 100, seq: 1 });
  const paid = await task(net, alice, { maxPrice: 100 });
  const work = await receipt(net, worker, paid.id);
  const sends: Uint8Array[] = [];
  for (let seq = 1; seq <= 12; seq++) {
    sends.push(await transferBytes(net, alice, bob.accountId, seq, seq));
    const fromBob = await transferBytes(net, bob, alice.accountId, 1, seq);
    sends.push(seq % 4 === 0 ? forgeSignature(fromBob) : fromBob); // a forged one, then bob's seqs no longer follow
    if (seq === 6) sends.push(await transferBytes(net, alice, bob.accountId, 1, 3)); // a replayed seq
    if (seq === 7) sends.push(new Uint8Array([0xa1, 0x61, 0x78, 0x01])); // not an envelope
    if (seq === 8) sends.push(await transferBytes(net, alice, bob.accountId, 1_000_000, 9)); // more than alice has
  }
  return { stake, paid, work, sends };
}

/** The same scenario on either ledger: what every submission came to. */
async function scenario(ledger: LedgerService, { stake, paid, work, sends }: Inputs): Promise<unknown[]> {
  const outcome = (result: Awaited<ReturnType<LedgerService['submit']>>) =>
    result.ok ? result.value : { refused: result.error.name };
  const outcomes: unknown[] = [];
  for (const who of [alice, bob, worker]) outcomes.push(outcome(await onboard(ledger, net, who)));
  outcomes.push(outcome(await ledger.submit(stake)));
  // Transactions that carry another signed message (checked on the calling thread), forged and good.
  outcomes.push(outcome(await ledger.submitSigned('tx/escrow', { task: forgeSignature(paid.bytes) })));
  outcomes.push(outcome(await ledger.submitSigned('tx/escrow', { task: paid.bytes })));
  outcomes.push(
    outcome(await ledger.submitSigned('tx/settle', { task: paid.id, receipt: forgeSignature(work), price: 80 })),
  );
  outcomes.push(outcome(await ledger.submitSigned('tx/settle', { task: paid.id, receipt: work, price: 80 })));
  const results = await Promise.all(sends.map((bytes) => ledger.submit(bytes)));
  outcomes.push(...results.map(outcome));
  return outcomes;
}

describe('ledger service on the relay’s threads', () => {
  it('gives the same answers and the same database file as the single-threaded service', async () => {
    const plain = ledgerOn('plain.db', false);
    const threaded = ledgerOn('threaded.db', true);
    await plain.start();
    await threaded.start();
    const signed = await inputs();
    const expected = await scenario(plain, signed);
    const actual = await scenario(threaded, signed);
    expect(actual).toEqual(expected);
    const refusals = expected.filter((o) => (o as { refused?: string }).refused !== undefined);
    expect(new Set(refusals.map((o) => (o as { refused: string }).refused))).toEqual(
      new Set(['BadSignatureError', 'BadSequenceError', 'MalformedEncodingError', 'InsufficientFundsError']),
    );
    expect(threaded.state.accounts).toEqual(plain.state.accounts);
    await plain.stop();
    await threaded.stop();
    expect(dumpSqlite(join(dir, 'threaded.db'))).toEqual(dumpSqlite(join(dir, 'plain.db')));
    const store = createSqliteLedgerStore({ path: join(dir, 'threaded.db') });
    expect(await verifyLedger(store, createNodeVerifier())).toMatchObject({ ok: true });
    await store.close();
  });

  it('applies 200 pipelined transfers of one account in submission order', async () => {
    const ledger = ledgerOn('order.db', true);
    await ledger.start();
    expectOk(await onboard(ledger, net, alice));
    const sends = await Promise.all(
      Array.from({ length: 200 }, (_, i) => transferBytes(net, alice, bob.accountId, 1, i + 1)),
    );
    const results = await Promise.all(sends.map((bytes) => ledger.submit(bytes)));
    expect(results.map((r) => expectOk(r).seq)).toEqual(results.map((_, i) => i + 2));
    expect(ledger.account(alice.accountId)).toMatchObject({ seq: 200, balance: TEST_PARAMS.grantAmount - 200 });
    await ledger.stop();
  });

  it('refuses, applying nothing, a submission aborted or stopped while its signature is checked', async () => {
    const ledger = ledgerOn('abort.db', true);
    await ledger.start();
    expectOk(await onboard(ledger, net, alice));
    const before = ledger.account(alice.accountId);

    const controller = new AbortController();
    const aborted = ledger.submit(await transferBytes(net, alice, bob.accountId, 5, 1), { signal: controller.signal });
    controller.abort();
    expectFailure(await aborted, 'SubmitAbortedError', 'aborted');
    expect(ledger.account(alice.accountId)).toEqual(before);

    const late = ledger.submit(await transferBytes(net, alice, bob.accountId, 5, 1));
    await ledger.stop();
    expectFailure(await late, 'LedgerNotRunningError', 'not-running');
    const reopened = ledgerOn('abort.db', true);
    await reopened.start();
    expect(reopened.account(alice.accountId)).toEqual(before);
    await reopened.stop();
  });
});
