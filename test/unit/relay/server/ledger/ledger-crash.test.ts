/**
 * Crash safety: a relay process killed with SIGKILL in the middle of a burst
 * of submissions loses nothing it acknowledged, and its ledger still verifies
 * with value conserved.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createLedgerService } from '#server/ledger/ledger-service.ts';
import { MAX_PAGE } from '#server/ledger/ledger-store.ts';
import { createSqliteLedgerStore } from '#server/ledger/sqlite-store.ts';
import { verifyLedger } from '#server/ledger/verify-ledger.ts';
import { readTransaction, totalValue, type TxId } from '#core/index.ts';
import { signerFor, TEST_PARAMS } from '#test/network.ts';

const CHILD = join(import.meta.dirname, '../../../../support/ledger-crash-child.ts');
const ACKS_BEFORE_KILL = 1500;
const verifier = createNodeVerifier();
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'acn-ledger-crash-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('loses no acknowledged transaction when the relay is killed mid-burst', async () => {
  const path = join(dir, 'ledger.db');
  const child = spawn(process.execPath, [CHILD, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');

  const acks = () => stdout.split('\nack ').length - 1;
  // Woken by the child's output, its exit or the deadline; never by a poll.
  const enough = await new Promise<boolean>((resolve) => {
    const deadline = AbortSignal.timeout(15_000);
    const done = (reached: boolean): void => {
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      deadline.removeEventListener('abort', onAbort);
      resolve(reached);
    };
    const onData = (): void => {
      if (acks() >= ACKS_BEFORE_KILL) done(true);
    };
    const onExit = (): void => {
      done(acks() >= ACKS_BEFORE_KILL);
    };
    const onAbort = (): void => {
      done(false);
    };
    child.stdout.on('data', onData);
    child.once('exit', onExit);
    deadline.addEventListener('abort', onAbort, { once: true });
  });
  if (!enough) {
    child.kill('SIGKILL');
    expect.fail(`the child stopped early or was too slow (${acks()} acks)\n${stderr}`);
  }
  child.kill('SIGKILL');
  const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  expect(signal).toBe('SIGKILL');

  // Only whole lines count: a line cut by the kill was never fully acknowledged.
  const lines = stdout.slice(0, stdout.lastIndexOf('\n')).split('\n');
  expect(lines.filter((line) => line.startsWith('refused '))).toEqual([]);
  const acknowledged = lines
    .filter((l) => l.startsWith('ack ') || l.startsWith('grant '))
    .map((l) => l.split(' ')[1] as TxId);
  expect(acknowledged.length).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL);

  const store = createSqliteLedgerStore({ path });
  const report = await verifyLedger(store, verifier);
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.txCount).toBeGreaterThanOrEqual(acknowledged.length);
  for (const id of acknowledged) expect(await store.tx(id), id).toBeDefined();

  // Value is conserved: the supply is exactly the sum of the stored grants.
  let granted = 0;
  for (let from = 1; from <= report.txCount; from += MAX_PAGE) {
    for (const stored of await store.txs({ fromSeq: from, limit: MAX_PAGE })) {
      const tx = readTransaction(stored.bytes, verifier);
      if (tx.ok && tx.value.type === 'tx/grant') granted += tx.value.message.payload.amount;
    }
  }
  expect(granted).toBe(8 * TEST_PARAMS.grantAmount);
  expect(report.supply).toBe(granted);

  // And the relay starts again on it, replaying the blocks and the unblocked tail.
  const ledger = createLedgerService({ store, producer: signerFor('relay'), verifier, params: TEST_PARAMS });
  await ledger.start();
  expect(totalValue(ledger.state)).toBe(granted);
  await ledger.stop();
  expect(
    (
      await (async () => {
        const reopened = createSqliteLedgerStore({ path });
        try {
          return await verifyLedger(reopened, verifier);
        } finally {
          await reopened.close();
        }
      })()
    ).ok,
  ).toBe(true);
});
