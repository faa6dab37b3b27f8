/**
 * The interactive (direct) path's two signed messages:
 *
 * - An **assignment**, signed by the relay: "task T, which I escrowed, may be
 *   run by worker W until E". A requester carries it to the worker over a
 *   direct WebRTC connection; the worker runs tasks from peers other than
 *   its relay only with an assignment that names it, so nobody gets free
 *   work out of a worker by skipping the escrow.
 * - A **fallback request**, signed by the requester: "give up on the direct
 *   path for task T and run it brokered". Only the requester may ask.
 *
 * Both are detached signed messages `{ body, key, sig }` (DAG-CBOR), where
 * `sig` covers `acn/v1/<domain>` + 0x00 + `body`, exactly like envelopes but
 * with domains no envelope type uses, so neither signature can ever be
 * replayed as an envelope of another type, nor one as the other.
 *
 * Isomorphic: the Node worker checks assignments with this module, and a
 * browser worker can reuse it as is.
 */
import * as v from 'valibot';
import { decodeCanonical, encodeCanonical } from '../encoding/canonical.ts';
import { concatBytes, utf8ToBytes } from '../encoding/bytes.ts';
import { accountIdFromPublicKey, type AccountId, type TaskId } from '../identity/ids.ts';
import type { Signer } from '../identity/signer.ts';
import type { Ed25519Verifier } from '../identity/verifier.ts';
import { err, ok, type Result } from '../result.ts';
import { accountId, decoderFor, modelId, taskId, timestamp, version } from './fields.ts';

/** The largest encoded assignment or fallback request. */
export const MAX_DIRECT_MESSAGE_BYTES = 1024;

const ASSIGNMENT_DOMAIN = 'acn/v1/direct/assignment';
const FALLBACK_DOMAIN = 'acn/v1/direct/fallback';

export const assignmentPayloadSchema = v.strictObject({
  v: version,
  /** The network (the relay's account): the assignment's signer must be it. */
  net: accountId,
  task: taskId,
  model: modelId,
  /** The worker that may run it. */
  worker: accountId,
  /** Until when the worker may start it (ms since the epoch); after that the relay runs it itself. */
  expires: timestamp,
  ts: timestamp,
});
export type AssignmentPayload = v.InferOutput<typeof assignmentPayloadSchema>;
export const decodeAssignmentPayload = decoderFor('assignment', assignmentPayloadSchema);

export const fallbackPayloadSchema = v.strictObject({
  v: version,
  net: accountId,
  task: taskId,
  ts: timestamp,
});
export type FallbackPayload = v.InferOutput<typeof fallbackPayloadSchema>;
export const decodeFallbackPayload = decoderFor('fallback request', fallbackPayloadSchema);

export type DirectMessageErrorCode =
  'invalid-assignment' | 'assignment-expired' | 'wrong-worker' | 'wrong-task' | 'invalid-fallback';

/** A direct-path message that does not decode, verify or apply here. */
export class DirectMessageError extends Error {
  override readonly name = 'DirectMessageError';
  readonly code: DirectMessageErrorCode;
  constructor(code: DirectMessageErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A decoded, signature-checked direct-path message. */
export interface DetachedMessage<P> {
  readonly payload: P;
  readonly signer: AccountId;
}

function domainBytes(domain: string): Uint8Array {
  return concatBytes(utf8ToBytes(domain), new Uint8Array([0]));
}

async function signDetached(signer: Signer, domain: string, payload: unknown): Promise<Uint8Array> {
  const body = encodeCanonical(payload);
  const sig = await signer.sign(concatBytes(domainBytes(domain), body));
  return encodeCanonical({ body, key: signer.publicKey, sig });
}

/** Decodes and verifies a detached message; never throws. */
function readDetached<P>(
  bytes: unknown,
  domain: string,
  decode: (value: unknown) => Result<P>,
  verifier: Ed25519Verifier,
  code: DirectMessageErrorCode,
): Result<DetachedMessage<P>, DirectMessageError> {
  const bad = (message: string) => err(new DirectMessageError(code, message));
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_DIRECT_MESSAGE_BYTES) return bad('not a signed message');
  const outer = decodeCanonical(bytes, { maxBytes: MAX_DIRECT_MESSAGE_BYTES });
  if (!outer.ok) return bad(`does not decode: ${outer.error.message}`);
  const value = outer.value as Record<string, unknown> | null;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('must be a map');
  const { body, key, sig, ...rest } = value;
  if (Object.keys(rest).length > 0) return bad('has unknown fields');
  if (!(body instanceof Uint8Array) || !(key instanceof Uint8Array) || key.length !== 32) return bad('bad shape');
  if (!(sig instanceof Uint8Array) || sig.length !== 64) return bad('bad signature length');
  let verified: boolean;
  try {
    verified = verifier.verify(sig, concatBytes(domainBytes(domain), body), key);
  } catch {
    verified = false;
  }
  if (!verified) return bad('the signature does not verify');
  const inner = decodeCanonical(body, { maxBytes: MAX_DIRECT_MESSAGE_BYTES });
  if (!inner.ok) return bad(`the body does not decode: ${inner.error.message}`);
  const payload = decode(inner.value);
  if (!payload.ok) return bad(payload.error.message);
  return ok({ payload: payload.value, signer: accountIdFromPublicKey(key) });
}

/** Signs an assignment as the relay. */
export function signAssignment(relay: Signer, payload: AssignmentPayload): Promise<Uint8Array> {
  return signDetached(relay, ASSIGNMENT_DOMAIN, payload);
}

/** Decodes an assignment and checks its signature (not whom it names: see {@link checkAssignment}). */
export function readAssignment(
  bytes: unknown,
  verifier: Ed25519Verifier,
): Result<DetachedMessage<AssignmentPayload>, DirectMessageError> {
  return readDetached(bytes, ASSIGNMENT_DOMAIN, decodeAssignmentPayload, verifier, 'invalid-assignment');
}

export interface AssignmentExpectation {
  readonly verifier: Ed25519Verifier;
  /** The network, i.e. the relay's account: the only valid signer. */
  readonly network: AccountId;
  /** The worker checking it: the assignment must name it. */
  readonly worker: AccountId;
  /** The task it is shown with. */
  readonly task: TaskId;
  readonly now: number;
}

/**
 * What a worker checks before it runs a task from a peer other than its
 * relay: the relay signed this assignment, for this task, for this worker,
 * and it has not expired.
 */
export function checkAssignment(
  bytes: unknown,
  expect: AssignmentExpectation,
): Result<AssignmentPayload, DirectMessageError> {
  const read = readAssignment(bytes, expect.verifier);
  if (!read.ok) return read;
  const p = read.value.payload;
  if (read.value.signer !== expect.network || p.net !== expect.network) {
    return err(new DirectMessageError('invalid-assignment', 'the assignment is not signed by this network’s relay'));
  }
  if (p.worker !== expect.worker)
    return err(new DirectMessageError('wrong-worker', 'the assignment names another worker'));
  if (p.task !== expect.task) return err(new DirectMessageError('wrong-task', 'the assignment is for another task'));
  if (expect.now > p.expires) return err(new DirectMessageError('assignment-expired', 'the assignment has expired'));
  return ok(p);
}

/** Signs a fallback request as the task's requester. */
export function signFallbackRequest(requester: Signer, payload: FallbackPayload): Promise<Uint8Array> {
  return signDetached(requester, FALLBACK_DOMAIN, payload);
}

export function readFallbackRequest(
  bytes: unknown,
  verifier: Ed25519Verifier,
): Result<DetachedMessage<FallbackPayload>, DirectMessageError> {
  return readDetached(bytes, FALLBACK_DOMAIN, decodeFallbackPayload, verifier, 'invalid-fallback');
}
