/**
 * Crash safety and graceful shutdown of the real relay process: SIGKILL in
 * the middle of a burst of signed submissions, restart on the same data
 * directory, and `ledger verify` passes, every acknowledged submission is
 * there, none that was refused is, and value is conserved. A SIGTERM leaves a
 * database that opens cleanly and verifies.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { toBase64Url } from '#core/encoding/bytes.ts';
import { decodeEnvelope, messageId } from '#core/envelope/envelope.ts';
import type { AccountId } from '#core/identity/ids.ts';
import { signTransaction } from '#core/ledger/transaction.ts';
import { createNodeSigner } from '#node/crypto/node-signer.ts';
import { solvePow } from '#core/pow/pow.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

const run = promisify(execFile);
const ARGS = ['--pow-difficulty', '4', '--block-interval', '100', '--grant', '1000'];
const ACCOUNTS = 8;
const TRANSFERS = 40;
let relay: RelayProcess | undefined;

afterAll(async () => {
  await relay?.stop('SIGKILL');
  await relay?.cleanup();
});

async function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function verifyLedgerCli(dataDir: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['relay/server/cli.ts', '--data-dir', dataDir, 'ledger', 'verify']);
  return stdout;
}

describe('the relay under faults', () => {
  it('loses nothing it acknowledged when killed mid-burst, and conserves value', async () => {
    relay = await startRelayProcess(ARGS);
    const { network, difficulty, grant } = (await (await fetch(`${relay.url}/api/onboard`)).json()) as {
      network: AccountId;
      difficulty: number;
      grant: number;
    };
    const accounts = Array.from({ length: ACCOUNTS }, (_, i) => createNodeSigner(new Uint8Array(32).fill(i + 1)));
    for (const account of accounts) {
      const pow = await solvePow({ network, publicKey: account.publicKey, difficulty });
      expect((await post(`${relay.url}/api/onboard`, { publicKey: toBase64Url(account.publicKey), pow })).status).toBe(
        201,
      );
    }
    // Each account sends, for every seq, an overdraft (refused: it does not use
    // the seq) and then a valid transfer of 1 to the next account.
    const acknowledged = new Set<string>();
    const refused = new Set<string>();
    const url = relay.url;
    const lanes = accounts.map(async (account, i) => {
      const to = (accounts[(i + 1) % ACCOUNTS] as typeof account).accountId;
      try {
        for (let seq = 1; seq <= TRANSFERS; seq++) {
          for (const amount of [grant * 10, 1]) {
            const tx = await signTransaction(account, 'tx/transfer', { v: 1, net: network, to, amount, seq });
            const id = decodeEnvelope(tx);
            if (!id.ok) throw id.error;
            const answer = await post(`${url}/api/ledger/tx`, { tx: toBase64Url(tx) });
            if (answer.status === 201) acknowledged.add(answer.body.id as string);
            else refused.add(messageId(id.value));
          }
        }
      } catch {
        // The relay is gone.
      }
    });
    // Kill it once a good part of the burst is acknowledged.
    while (acknowledged.size < (ACCOUNTS * TRANSFERS) / 4) await new Promise((r) => setTimeout(r, 5));
    const dataDir = relay.dataDir;
    expect(await relay.stop('SIGKILL')).toBe(null);
    await Promise.all(lanes);
    expect(acknowledged.size).toBeGreaterThan(0);
    expect(refused.size).toBeGreaterThan(0);

    const report = await verifyLedgerCli(dataDir);
    expect(report).toMatch(/^ledger ok: /);

    relay = await startRelayProcess(ARGS, { dataDir });
    for (const id of acknowledged) {
      const found = await fetch(`${relay.url}/api/ledger/tx/${id}`);
      expect(found.status, `acknowledged ${id} is stored`).toBe(200);
    }
    for (const id of refused) {
      const found = await fetch(`${relay.url}/api/ledger/tx/${id}`);
      expect(found.status, `refused ${id} is not stored`).toBe(404);
    }
    let total = 0;
    let sent = 0;
    for (const account of accounts) {
      const balance = (await (await fetch(`${relay.url}/api/ledger/balance/${account.accountId}`)).json()) as {
        balance: number;
        seq: number;
      };
      total += balance.balance;
      sent += balance.seq;
    }
    // Only grants mint; transfers move value between these accounts.
    expect(total).toBe(ACCOUNTS * grant);
    // Every stored transfer was acknowledged or was in flight at the kill; none refused was stored.
    expect(sent).toBeGreaterThanOrEqual(acknowledged.size);
    expect(sent).toBeLessThanOrEqual(acknowledged.size + ACCOUNTS);
  }, 120_000);

  it('shuts down gracefully on SIGTERM, leaving a database that opens and verifies', async () => {
    const dataDir = (relay as RelayProcess).dataDir;
    expect(await (relay as RelayProcess).stop('SIGTERM')).toBe(0);
    expect(await verifyLedgerCli(dataDir)).toMatch(/^ledger ok: /);
    relay = await startRelayProcess(ARGS, { dataDir });
    expect((await fetch(`${relay.url}/readyz`)).status).toBe(200);
  }, 60_000);
});
