/**
 * Unbonding on the real relay process (`--unbonding 2000`): an unstake shows
 * in the balance as unbonding with its release time, cannot be spent, is
 * released by the relay itself once the period after its block has passed,
 * and the ledger still verifies from its log (`ledger verify`) afterwards.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as v from 'valibot';
import { afterAll, describe, expect, it } from 'vitest';
import { balanceSchema } from '#core/api/responses.ts';
import { toBase64Url } from '#core/encoding/bytes.ts';
import type { AccountId } from '#core/identity/ids.ts';
import { signTransaction } from '#core/ledger/transaction.ts';
import { solvePow } from '#core/pow/pow.ts';
import { createNodeSigner } from '#node/crypto/node-signer.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

const run = promisify(execFile);
const UNBONDING_MS = 2000;
const ARGS = [
  '--pow-difficulty',
  '4',
  '--block-interval',
  '100',
  '--grant',
  '1000',
  '--unbonding',
  String(UNBONDING_MS),
];
let relay: RelayProcess | undefined;

afterAll(async () => {
  await relay?.stop('SIGKILL');
  await relay?.cleanup();
});

async function call(path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${(relay as RelayProcess).url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('unbonding on the relay', () => {
  it('holds unstaked tokens back, unspendable, and releases them after the period', async () => {
    relay = await startRelayProcess(ARGS);
    const { network, difficulty } = (await call('/api/onboard')).body as { network: AccountId; difficulty: number };
    const worker = createNodeSigner(new Uint8Array(32).fill(42));
    const pow = await solvePow({ network, publicKey: worker.publicKey, difficulty });
    expect((await call('/api/onboard', { publicKey: toBase64Url(worker.publicKey), pow })).status).toBe(201);
    const submit = async (type: 'tx/stake' | 'tx/unstake' | 'tx/transfer', payload: Record<string, unknown>) =>
      call('/api/ledger/tx', {
        tx: toBase64Url(await signTransaction(worker, type, { v: 1, net: network, ...payload } as never)),
      });
    const balance = async () => v.parse(balanceSchema, (await call(`/api/ledger/balance/${worker.accountId}`)).body);

    expect((await submit('tx/stake', { amount: 500, seq: 1 })).status).toBe(201);
    const unstakedAt = Date.now();
    const unstake = await submit('tx/unstake', { amount: 500, seq: 2 });
    expect(unstake.status).toBe(201);

    const held = await balance();
    expect(held).toMatchObject({ balance: 500, stake: 0, unbonding: [{ unstake: unstake.body.id, amount: 500 }] });
    const releaseAt = held.unbonding?.[0]?.releaseAt ?? 0;
    expect(releaseAt).toBeGreaterThanOrEqual(unstakedAt + UNBONDING_MS);
    expect(releaseAt).toBeLessThan(unstakedAt + UNBONDING_MS + 5000);

    // `acn balance` shows them on hold, with their release.
    const shown = await run(process.execPath, ['relay/acn/cli.ts', '--relay', relay.url, 'balance', worker.accountId], {
      encoding: 'utf8',
    });
    // (The release date is estimated until the unstake is in a block, so only its form is checked.)
    expect(shown.stdout).toMatch(/\nunbonding\s+500 until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n/);

    // Tokens on hold cannot be spent.
    const spend = await submit('tx/transfer', { to: network, amount: 501, seq: 3 });
    expect(spend).toMatchObject({ status: 402, body: { error: { code: 'insufficient-funds' } } });

    await expect.poll(async () => (await balance()).balance, { timeout: 10_000, interval: 100 }).toBe(1000);
    // Not before its time: the release was signed at or after releaseAt (the relay's clock is this one).
    expect(Date.now()).toBeGreaterThanOrEqual(releaseAt);
    expect(await balance()).toMatchObject({ balance: 1000, stake: 0, unbonding: [] });

    expect(await relay.stop()).toBe(0);
    const { stdout } = await run(process.execPath, [
      'relay/server/cli.ts',
      '--data-dir',
      relay.dataDir,
      'ledger',
      'verify',
    ]);
    expect(stdout).toMatch(/^ledger ok: /);
  }, 60_000);
});
