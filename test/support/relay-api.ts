/**
 * The relay's JSON API as the end-to-end tests call it: one request helper
 * and the steps most tests repeat (onboard an account, submit a signed task
 * and wait for it to settle), all over real HTTP to a relay process.
 */
import { expect } from 'vitest';
import { sha256Hex, toBase64Url } from '#core/encoding/bytes.ts';
import { encodeEnvelope, signEnvelope } from '#core/envelope/envelope.ts';
import type { AccountId, Hash, ModelId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import { solvePow } from '#core/pow/pow.ts';

export interface ApiAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** GET `path`, or POST `body` as JSON to it, on the relay at `url()` (read at each call). */
export type RelayApi = (path: string, body?: unknown) => Promise<ApiAnswer>;

export function relayApi(url: () => string): RelayApi {
  return async (path, body) => {
    const response = await fetch(url() + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
}

/** Solves the onboarding proof-of-work for `account` and expects the grant. */
export async function onboardAccount(
  api: RelayApi,
  network: AccountId,
  account: Signer,
  difficulty = 4,
): Promise<void> {
  const pow = await solvePow({ network, publicKey: account.publicKey, difficulty });
  expect((await api('/api/onboard', { publicKey: toBase64Url(account.publicKey), pow })).status).toBe(201);
}

/** What these tests read of a task. */
export interface SettledTask {
  readonly id: string;
  readonly state: string;
  readonly worker: string;
  readonly price: number;
  readonly outputHash: string;
  readonly slashTxs: readonly string[];
}

/** Signs a task for `text` on `model` as `requester`, submits it and waits (up to 30 s) until it settles. */
export async function runTextTask(
  api: RelayApi,
  requester: Signer,
  network: AccountId,
  model: ModelId,
  text: string,
): Promise<SettledTask> {
  const input = new TextEncoder().encode(text);
  const task = encodeEnvelope(
    await signEnvelope(requester, 'task', {
      v: 1,
      net: network,
      model,
      input: sha256Hex(input) as Hash,
      inputBytes: input.length,
      maxPrice: 10,
      nonce: crypto.getRandomValues(new Uint8Array(16)),
      ts: Date.now(),
    }),
  );
  const submitted = await api('/api/tasks', { task: toBase64Url(task), input: toBase64Url(input) });
  expect(submitted.status).toBe(201);
  const id = (submitted.body.task as { id: string }).id;
  for (let i = 0; i < 600; i++) {
    const view = (await api(`/api/tasks/${id}`)).body.task as SettledTask;
    if (view.state === 'settled') return view;
    if (view.state === 'refunded') throw new Error(`task refunded: ${JSON.stringify(view)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('task did not settle');
}
