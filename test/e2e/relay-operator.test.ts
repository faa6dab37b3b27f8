/**
 * Operator-only controls on the real relay process: changing the relay's own
 * pool (`POST /api/resources`) takes the operator token from the data
 * directory or a `relay/control` signed with the relay key (what
 * `npm run relay -- resources set` sends). Anonymous and wrong credentials
 * are 401 and change nothing; a signed change is good once, fresh, for this
 * relay only, and not again after a restart.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '#core/encoding/bytes.ts';
import { decodeEnvelope, encodeEnvelope, signEnvelope } from '#core/envelope/envelope.ts';
import { unwrap } from '#core/result.ts';
import { createNobleSigner, generateNobleSigner, type Signer } from '#core/identity/signer.ts';
import type { RelayControlPayload } from '#core/messages/relay-control.ts';
import { presetAllocation, type ResourceAllocation } from '#core/resources/allocation.ts';
import { readKeyFile } from '#node/key-file.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

let relay: RelayProcess;
let relayKey: Signer;
let token: string;

interface Answer {
  readonly status: number;
  readonly body: { allocation?: ResourceAllocation; error?: { code: string } };
  readonly headers: Headers;
}

async function post(body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${relay.url}/api/resources`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Answer['body'], headers: response.headers };
}

async function current(): Promise<ResourceAllocation> {
  const body = (await (await fetch(`${relay.url}/api/resources`)).json()) as { allocation: ResourceAllocation };
  return body.allocation;
}

const custom = (shares: Partial<ResourceAllocation>): ResourceAllocation => ({
  preset: 'custom',
  cpu: 50,
  ram: 25,
  storage: 10,
  gpu: 0,
  pauseWhenHidden: false,
  pauseOnBattery: false,
  ...shares,
});

/** A signed `relay/control` body, with the relay's key unless told otherwise. */
async function control(overrides: Partial<RelayControlPayload> = {}, signer = relayKey): Promise<{ control: string }> {
  const payload: RelayControlPayload = {
    v: 1,
    net: relay.relayAccount as RelayControlPayload['net'],
    action: 'resources/set',
    allocation: custom({ cpu: 40 }),
    nonce: crypto.getRandomValues(new Uint8Array(16)),
    ts: Date.now(),
    ...overrides,
  };
  return { control: toBase64Url(encodeEnvelope(await signEnvelope(signer, 'relay/control', payload))) };
}

/** `node relay/server/cli.ts resources ...` against the running relay. */
function relayCli(args: readonly string[], dataDir = relay.dataDir) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['relay/server/cli.ts', 'resources', ...args, '--data-dir', dataDir, '--url', relay.url],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

const codeOf = (answer: Answer) => [answer.status, answer.body.error?.code];

beforeAll(async () => {
  relay = await startRelayProcess();
  const seed = await readKeyFile(join(relay.dataDir, 'relay.key'), 'refuse');
  if (seed === undefined) throw new Error('the relay wrote no key');
  relayKey = createNobleSigner(seed);
  token = (await readFile(join(relay.dataDir, 'operator.token'), 'latin1')).trim();
}, 120_000);

afterAll(async () => {
  await relay.stop();
  await relay.cleanup();
});

describe('the operator token', () => {
  it('is made on first start: 32 random bytes as hex, readable by the owner only', async () => {
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(join(relay.dataDir, 'operator.token'))).mode & 0o777).toBe(0o600);
  });

  it('anonymous and wrong credentials get 401 and change nothing; reading stays public', async () => {
    const before = await current();
    expect(before).toEqual(custom({}));
    const wrongToken = token.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const attempts: [string, Answer][] = [
      ['anonymous', await post(custom({ cpu: 5 }))],
      ['anonymous, invalid body', await post({ cpu: 999 })],
      ['wrong token', await post(custom({ cpu: 5 }), { authorization: `Bearer ${wrongToken}` })],
      ['short token', await post(custom({ cpu: 5 }), { authorization: 'Bearer abc' })],
      ['empty bearer', await post(custom({ cpu: 5 }), { authorization: 'Bearer ' })],
      ['token as basic auth', await post(custom({ cpu: 5 }), { authorization: `Basic ${token}` })],
    ];
    for (const [name, answer] of attempts) {
      expect({ name, result: codeOf(answer) }).toEqual({ name, result: [401, 'unauthorized'] });
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer /);
    }
    expect(await current()).toEqual(before);
  });

  it('the token changes the pool live; a bad allocation under it is still a 400', async () => {
    const before = (await (await fetch(`${relay.url}/api/resources`)).json()) as { pool: { memoryBytes: number } };
    const changed = await post(custom({ ram: 50 }), { authorization: `Bearer ${token}` });
    expect(changed.status).toBe(200);
    expect(changed.body.allocation).toEqual(custom({ ram: 50 }));
    expect((changed.body as { pool: { memoryBytes: number } }).pool.memoryBytes).toBe(before.pool.memoryBytes * 2);
    const refused = await post(custom({ cpu: 95 }), { authorization: `Bearer ${token}` });
    expect(codeOf(refused)).toEqual([400, 'invalid-allocation']);
    expect(await current()).toEqual(custom({ ram: 50 }));
  });
});

describe('signed controls', () => {
  it('a control signed with the relay key applies once; the same bytes again are refused', async () => {
    const signed = await control({ allocation: custom({ cpu: 40 }) });
    expect((await post(signed)).status).toBe(200);
    expect(await current()).toEqual(custom({ cpu: 40 }));
    // The operator moves on; a copy of the earlier request must not move the relay back.
    expect((await post(custom({ cpu: 60 }), { authorization: `Bearer ${token}` })).status).toBe(200);
    expect(codeOf(await post(signed))).toEqual([409, 'replayed']);
    expect(await current()).toEqual(custom({ cpu: 60 }));
  });

  it('refuses controls from another key, for another network, stale, from the future, or tampered', async () => {
    const stranger = generateNobleSigner();
    const valid = await control({ allocation: custom({ cpu: 7 }) });
    // The relay's own envelope with one signature bit flipped.
    const envelope = unwrap(decodeEnvelope(fromBase64Url(valid.control)));
    const sig = Uint8Array.from(envelope.sig);
    sig[0] = (sig[0] as number) ^ 1;
    const tampered = { control: toBase64Url(encodeEnvelope({ ...envelope, sig })) };
    const cases: [string, Answer, number, string][] = [
      ['stranger', await post(await control({ net: stranger.accountId }, stranger)), 401, 'unauthorized'],
      ['other network', await post(await control({ net: stranger.accountId })), 401, 'unauthorized'],
      ['stale', await post(await control({ ts: Date.now() - 3 * 60_000 })), 400, 'clock-skew'],
      ['future', await post(await control({ ts: Date.now() + 3 * 60_000 })), 400, 'clock-skew'],
      ['bad signature', await post(tampered), 401, 'bad-signature'],
      ['not base64url', await post({ control: '!!' }), 400, 'invalid-message'],
      ['one base64url character', await post({ control: 'A' }), 400, 'invalid-message'],
      ['not an envelope', await post({ control: 'AA' }), 400, 'malformed-encoding'],
      ['extra fields', await post({ ...valid, allocation: custom({}) }), 400, 'invalid-message'],
      ['bad allocation', await post(await control({ allocation: custom({ cpu: 95 }) })), 400, 'invalid-allocation'],
    ];
    for (const [name, answer, status, code] of cases) {
      expect({ name, result: codeOf(answer) }).toEqual({ name, result: [status, code] });
    }
    expect(await current()).toEqual(custom({ cpu: 60 }));
  });

  it('`npm run relay -- resources set` signs the change and the running relay applies it', async () => {
    const preset = await relayCli(['set', '--preset', 'balanced']);
    expect(preset.stderr).toBe('');
    expect([preset.code, preset.stdout]).toEqual([0, expect.stringMatching(/^balanced: cpu 10%, ram 15%/)]);
    expect(await current()).toEqual({ ...presetAllocation('balanced'), pauseWhenHidden: false, pauseOnBattery: false });

    const one = await relayCli(['set', '--cpu', '30']);
    expect(one.code).toBe(0);
    expect(await current()).toEqual(custom({ cpu: 30, ram: 15, storage: 5, gpu: 10 }));
    const shown = await relayCli(['show']);
    expect([shown.code, shown.stdout]).toEqual([0, expect.stringMatching(/^custom: cpu 30%, ram 15%/)]);
  });

  it('the CLI with another data directory (another key) changes nothing', async () => {
    const other = await mkdtemp(join(tmpdir(), 'acn-operator-'));
    try {
      const none = await relayCli(['set', '--cpu', '20'], other);
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/no relay key/);
      // A relay started there once would have its own key: not this relay's.
      const { loadOrCreateRelayKey } = await import('#server/identity/relay-key.ts');
      await loadOrCreateRelayKey(other);
      const wrong = await relayCli(['set', '--cpu', '20'], other);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/not this data directory's relay/);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
    expect((await current()).cpu).toBe(30);
  });

  it('after a restart, a control accepted before it is refused and the token still works', async () => {
    const signed = await control({ allocation: custom({ cpu: 45 }) });
    expect((await post(signed)).status).toBe(200);
    await relay.stop();
    relay = await startRelayProcess([], { dataDir: relay.dataDir });
    // The pool starts from the default again; the old control must not set it.
    expect(codeOf(await post(signed))).toEqual([409, 'replayed']);
    expect(await current()).toEqual(custom({}));
    expect((await readFile(join(relay.dataDir, 'operator.token'), 'latin1')).trim()).toBe(token);
    expect((await post(custom({ cpu: 45 }), { authorization: `Bearer ${token}` })).status).toBe(200);
  }, 120_000);
});
