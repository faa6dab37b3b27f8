/**
 * End to end against the real relay process on loopback: onboarding with a
 * real proof-of-work, signed transfers, blocks and Merkle proofs checked as a
 * light client would, and bad input on every ledger endpoint answered with a
 * typed 4xx while the ledger stays byte-for-byte unchanged.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '#core/encoding/bytes.ts';
import { decodeEnvelope, encodeEnvelope } from '#core/envelope/envelope.ts';
import { readBlockHeader, verifyTxInclusion } from '#core/ledger/block.ts';
import { signTransaction } from '#core/ledger/transaction.ts';
import { generateNobleSigner, type Signer } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import { solvePow } from '#core/pow/pow.ts';
import type { AccountId } from '#core/identity/ids.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

let relay: RelayProcess;
let network: AccountId;
let difficulty: number;
let grant: number;
const alice = generateNobleSigner();
const bob = generateNobleSigner();

async function api(path: string, init: { method?: string; body?: unknown; raw?: string } = {}) {
  const response = await fetch(relay.url + path, {
    method: init.method ?? (init.body !== undefined || init.raw !== undefined ? 'POST' : 'GET'),
    headers: { 'content-type': 'application/json' },
    ...(init.raw !== undefined
      ? { body: init.raw }
      : init.body !== undefined
        ? { body: JSON.stringify(init.body) }
        : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function onboard(account: Signer) {
  const pow = await solvePow({ network, publicKey: account.publicKey, difficulty });
  return api('/api/onboard', { body: { publicKey: toBase64Url(account.publicKey), pow } });
}

/** Every row of every ledger table, read through a second (read-only) connection. */
function dumpLedger(): string {
  const db = new Database(join(relay.dataDir, 'ledger.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
      name: string;
    }[];
    return JSON.stringify(
      tables.map(({ name }) => [name, db.prepare(`SELECT * FROM "${name}"`).raw().all()]),
      (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v),
    );
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  relay = await startRelayProcess([
    '--pow-difficulty',
    '8',
    '--block-interval',
    '200',
    '--grant',
    '5000',
    '--fee-bps',
    '250',
  ]);
  const puzzle = await api('/api/onboard');
  network = puzzle.body.network as AccountId;
  difficulty = puzzle.body.difficulty as number;
  grant = puzzle.body.grant as number;
}, 90_000);

afterAll(async () => {
  expect(await relay.stop()).toBe(0);
  await relay.cleanup();
});

describe('the relay ledger over HTTP', () => {
  it('onboards two accounts once each, moves value with a signed transfer and proves it to a light client', async () => {
    expect(difficulty).toBe(8);
    const a = await onboard(alice);
    expect(a.status).toBe(201);
    expect(a.body.balance).toBe(grant);
    expect((await onboard(bob)).status).toBe(201);

    const again = await onboard(alice);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { code: 'already-granted' } });

    const tx = await signTransaction(alice, 'tx/transfer', {
      v: 1,
      net: network,
      to: bob.accountId,
      amount: 1234,
      seq: 1,
    });
    const sent = await api('/api/ledger/tx', { body: { tx: toBase64Url(tx) } });
    expect(sent.status).toBe(201);
    expect((await api(`/api/ledger/balance/${alice.accountId}`)).body).toMatchObject({ balance: grant - 1234, seq: 1 });
    expect((await api(`/api/ledger/balance/${bob.accountId}`)).body).toMatchObject({ balance: grant + 1234 });

    // A light client: the proof arrives once a block covers the transaction.
    let proof = await api(`/api/ledger/proof/${sent.body.id as string}`);
    for (let i = 0; i < 50 && proof.status === 404; i++) {
      await new Promise((r) => setTimeout(r, 100));
      proof = await api(`/api/ledger/proof/${sent.body.id as string}`);
    }
    expect(proof.status).toBe(200);
    const header = readBlockHeader(fromBase64Url(proof.body.header as string), nobleVerifier);
    if (!header.ok) throw header.error;
    expect(header.value.signer).toBe(network);
    const txBytes = fromBase64Url(proof.body.tx as string);
    expect(txBytes).toEqual(tx);
    const inclusion = proof.body.proof as Parameters<typeof verifyTxInclusion>[2];
    expect(verifyTxInclusion(header.value, txBytes, inclusion)).toBe(true);
    const tampered = { ...inclusion, index: (inclusion.index + 1) % Math.max(2, inclusion.size) };
    expect(verifyTxInclusion(header.value, txBytes, tampered)).toBe(false);

    const blocks = await api('/api/ledger/blocks');
    expect((blocks.body.blocks as unknown[]).length).toBeGreaterThan(0);
  });

  it('answers bad input on every ledger endpoint with a typed 4xx and leaves the ledger byte-for-byte unchanged', async () => {
    // Let pending blocks settle so the dump is stable.
    await new Promise((r) => setTimeout(r, 500));
    const before = dumpLedger();
    const replay = await signTransaction(alice, 'tx/transfer', {
      v: 1,
      net: network,
      to: bob.accountId,
      amount: 1234,
      seq: 1,
    });
    const overdraft = await signTransaction(alice, 'tx/transfer', {
      v: 1,
      net: network,
      to: bob.accountId,
      amount: 10 ** 9,
      seq: 2,
    });
    // A valid transfer whose signature has one bit flipped.
    const signed = decodeEnvelope(
      await signTransaction(alice, 'tx/transfer', { v: 1, net: network, to: bob.accountId, amount: 1, seq: 2 }),
    );
    if (!signed.ok) throw signed.error;
    const sig = signed.value.sig.slice();
    sig[0] = (sig[0] as number) ^ 1;
    const forged = encodeEnvelope({ ...signed.value, sig });
    const stranger = generateNobleSigner();
    const wrongPow = await solvePow({ network, publicKey: alice.publicKey, difficulty });

    const cases: [string, Awaited<ReturnType<typeof api>>, number, string][] = [
      ['malformed JSON', await api('/api/ledger/tx', { raw: '{"tx": ' }), 400, 'bad-request'],
      ['wrong type', await api('/api/ledger/tx', { body: { tx: 42 } }), 400, 'invalid-message'],
      ['not base64url', await api('/api/ledger/tx', { body: { tx: '***' } }), 400, 'invalid-message'],
      [
        'garbage bytes',
        await api('/api/ledger/tx', { body: { tx: toBase64Url(new Uint8Array([1, 2, 3])) } }),
        400,
        'malformed-encoding',
      ],
      ['oversize', await api('/api/ledger/tx', { body: { tx: 'A'.repeat(200_000) } }), 400, 'invalid-message'],
      ['bad signature', await api('/api/ledger/tx', { body: { tx: toBase64Url(forged) } }), 401, 'bad-signature'],
      ['replay', await api('/api/ledger/tx', { body: { tx: toBase64Url(replay) } }), 409, 'bad-sequence'],
      [
        'insufficient funds',
        await api('/api/ledger/tx', { body: { tx: toBase64Url(overdraft) } }),
        402,
        'insufficient-funds',
      ],
      ['extra field', await api('/api/ledger/tx', { body: { tx: toBase64Url(replay), x: 1 } }), 400, 'invalid-message'],
      ['double onboarding', await onboard(bob), 409, 'already-granted'],
      [
        'proof-of-work for another key',
        await api('/api/onboard', { body: { publicKey: toBase64Url(stranger.publicKey), pow: wrongPow } }),
        400,
        'invalid-proof-of-work',
      ],
      [
        'onboarding without pow',
        await api('/api/onboard', { body: { publicKey: toBase64Url(stranger.publicKey) } }),
        400,
        'invalid-message',
      ],
      ['bad account id', await api('/api/ledger/balance/not-an-account'), 400, 'invalid-id'],
      ['bad tx id', await api('/api/ledger/proof/xyz'), 400, 'invalid-id'],
      ['unknown tx', await api(`/api/ledger/tx/${'0'.repeat(64)}`), 404, 'not-found'],
      ['bad page', await api('/api/ledger/blocks?from=-3'), 400, 'bad-request'],
      ['unknown endpoint', await api('/api/nope'), 404, 'not-found'],
    ];
    for (const [name, response, status, code] of cases) {
      expect({
        name,
        status: response.status,
        code: (response.body.error as { code?: string } | undefined)?.code,
      }).toEqual({
        name,
        status,
        code,
      });
      expect(typeof (response.body.error as { message?: unknown }).message).toBe('string');
    }
    expect(dumpLedger()).toBe(before);
  });

  it('reports liveness and readiness', async () => {
    expect((await api('/healthz')).status).toBe(200);
    expect((await api('/readyz')).body).toEqual({ ready: true });
  });
});
