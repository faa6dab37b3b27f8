/**
 * The operator check on its own, with a clock the test moves: the token file,
 * the edges of the freshness window, and the start-time rule that keeps a
 * control accepted before a restart from being accepted after it.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url } from '#core/encoding/bytes.ts';
import { encodeEnvelope, signEnvelope } from '#core/envelope/envelope.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import { presetAllocation } from '#core/resources/allocation.ts';
import {
  CONTROL_WINDOW_MS,
  createOperatorAuth,
  loadOrCreateOperatorToken,
  OPERATOR_TOKEN_FILE,
} from '#server/http/operator-auth.ts';

const relay = generateNobleSigner();
const TOKEN = 'ab'.repeat(32);
const T0 = 1_765_000_000_000;
let clock = T0;

const auth = (startedAt = T0) =>
  createOperatorAuth({
    token: TOKEN,
    relayPublicKey: relay.publicKey,
    network: relay.accountId,
    verifier: nobleVerifier,
    startedAt,
    now: () => clock,
  });

async function controlAt(ts: number) {
  const envelope = await signEnvelope(relay, 'relay/control', {
    v: 1,
    net: relay.accountId,
    action: 'resources/set',
    allocation: presetAllocation('generous'),
    nonce: crypto.getRandomValues(new Uint8Array(16)),
    ts,
  });
  return { control: toBase64Url(encodeEnvelope(envelope)) };
}

const request = (body: unknown, headers: Record<string, string> = {}) => ({ headers, body }) as unknown as Request;
const response = () => {
  const headers: Record<string, string> = {};
  return { headers, res: { setHeader: (k: string, v: string) => (headers[k] = v) } as unknown as Response };
};

/** The error code `run` throws, or 'ok'. */
function outcome(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (error) {
    return String((error as { code?: unknown }).code);
  }
}

describe('createOperatorAuth', () => {
  it('refuses to run with a token that is not 32 bytes of hex', () => {
    expect(() =>
      createOperatorAuth({
        token: 'short',
        relayPublicKey: relay.publicKey,
        network: relay.accountId,
        verifier: nobleVerifier,
      }),
    ).toThrow(TypeError);
  });

  it('the token: exact match only, and a refusal names the Bearer scheme', () => {
    const operator = auth();
    const { headers, res } = response();
    expect(
      outcome(() => operator.authorize(request({}, { authorization: `Bearer ${TOKEN}` }), res, 'resources/set')),
    ).toBe('ok');
    expect(
      outcome(() => operator.authorize(request({}, { authorization: `bearer ${TOKEN}` }), res, 'resources/set')),
    ).toBe('ok');
    expect(
      outcome(() => operator.authorize(request({}, { authorization: `Bearer ${TOKEN}0` }), res, 'resources/set')),
    ).toBe('unauthorized');
    expect(
      outcome(() =>
        operator.authorize(request({}, { authorization: `Bearer ${TOKEN.slice(1)}` }), res, 'resources/set'),
      ),
    ).toBe('unauthorized');
    expect(outcome(() => operator.authorize(request({}), res, 'resources/set'))).toBe('unauthorized');
    expect(headers['WWW-Authenticate']).toMatch(/^Bearer realm=/);
  });

  it('a control is fresh for the window on either side of the clock, and not a millisecond beyond', async () => {
    clock = T0 + 10 * CONTROL_WINDOW_MS;
    const operator = auth();
    const { res } = response();
    const at = async (ts: number) => {
      const body = await controlAt(ts);
      return outcome(() => operator.authorize(request(body), res, 'resources/set'));
    };
    expect(await at(clock - CONTROL_WINDOW_MS)).toBe('ok');
    expect(await at(clock + CONTROL_WINDOW_MS)).toBe('ok');
    expect(await at(clock - CONTROL_WINDOW_MS - 1)).toBe('clock-skew');
    expect(await at(clock + CONTROL_WINDOW_MS + 1)).toBe('clock-skew');
  });

  it('a control is spent once, stays spent while fresh, and is stale after', async () => {
    clock = T0 + 1000;
    const operator = auth();
    const { res } = response();
    const body = await controlAt(clock);
    const once = () => outcome(() => operator.authorize(request(body), res, 'resources/set'));
    expect(once()).toBe('ok');
    expect(once()).toBe('replayed');
    clock += CONTROL_WINDOW_MS;
    expect(once()).toBe('replayed');
    clock += 1;
    expect(once()).toBe('clock-skew');
  });

  it('a control signed before the relay started is refused, however fresh', () => {
    clock = T0 + 5000;
    const operator = auth(T0 + 4000);
    const { res } = response();
    expect(outcome(() => operator.authorize(request(body3999), res, 'resources/set'))).toBe('replayed');
    expect(outcome(() => operator.authorize(request(body4000), res, 'resources/set'))).toBe('ok');
  });
});

let body3999: { control: string };
let body4000: { control: string };
let dir: string;

beforeAll(async () => {
  body3999 = await controlAt(T0 + 3999);
  body4000 = await controlAt(T0 + 4000);
  dir = await mkdtemp(join(tmpdir(), 'acn-operator-token-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadOrCreateOperatorToken', () => {
  it('writes 32 random bytes as hex, mode 0600, once; later starts read the same token', async () => {
    const first = await loadOrCreateOperatorToken(join(dir, 'a'));
    expect(first.token).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(first.path)).mode & 0o777).toBe(0o600);
    expect((await loadOrCreateOperatorToken(join(dir, 'a'))).token).toBe(first.token);
    expect((await loadOrCreateOperatorToken(join(dir, 'b'))).token).not.toBe(first.token);
  });

  it('tightens a token file others can read, and refuses one that holds something else', async () => {
    const { path, token } = await loadOrCreateOperatorToken(join(dir, 'c'));
    await chmod(path, 0o644);
    expect((await loadOrCreateOperatorToken(join(dir, 'c'))).token).toBe(token);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await writeFile(join(dir, 'c', OPERATOR_TOKEN_FILE), 'hunter2\n');
    await expect(loadOrCreateOperatorToken(join(dir, 'c'))).rejects.toThrow(/is not an operator token/);
    expect(await readFile(join(dir, 'c', OPERATOR_TOKEN_FILE), 'latin1')).toBe('hunter2\n');
  });
});
