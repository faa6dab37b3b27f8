/**
 * The interactive (direct) path's two signed messages, envelopes like every
 * other (each type its own signature domain):
 *
 * - An **assignment** (`task/assignment`), signed by the relay: "task T,
 *   which I escrowed, may be run by worker W until E". A requester carries it
 *   to the worker over a direct WebRTC connection; the worker runs tasks from
 *   peers other than its relay only with an assignment that names it, so
 *   nobody gets free work out of a worker by skipping the escrow.
 * - A **fallback request** (`task/fallback`), signed by the requester: "give
 *   up on the direct path for task T and run it brokered". Only the requester
 *   may ask.
 *
 * Isomorphic: the Node worker and the browser worker check assignments with
 * this module.
 */
import * as v from 'valibot';
import { encodeEnvelope, readMessage, signEnvelope, type SignedMessage } from '../envelope/envelope.ts';
import type { AccountId, TaskId } from '../identity/ids.ts';
import type { Signer } from '../identity/signer.ts';
import type { Ed25519Verifier } from '../identity/verifier.ts';
import { AcnError } from '../errors.ts';
import { err, ok, type Result } from '../result.ts';
import { accountId, decoderFor, modelId, taskId, timestamp, version } from './fields.ts';

/** The largest encoded assignment or fallback request. */
export const MAX_DIRECT_MESSAGE_BYTES = 1024;

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
export class DirectMessageError extends AcnError {
  override readonly name = 'DirectMessageError';
  readonly code: DirectMessageErrorCode;
  constructor(code: DirectMessageErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Reads a direct-path envelope of `type`, with the error code its callers answer. */
function readDirect<T extends 'task/assignment' | 'task/fallback', P>(
  bytes: unknown,
  type: T,
  decode: (value: unknown) => Result<P>,
  verifier: Ed25519Verifier,
  code: DirectMessageErrorCode,
): Result<SignedMessage<T, P>, DirectMessageError> {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_DIRECT_MESSAGE_BYTES) {
    return err(new DirectMessageError(code, 'not a signed message'));
  }
  const read = readMessage(bytes, type, decode, verifier);
  return read.ok ? read : err(new DirectMessageError(code, read.error.message));
}

/** Signs an assignment as the relay. */
export async function signAssignment(relay: Signer, payload: AssignmentPayload): Promise<Uint8Array> {
  return encodeEnvelope(await signEnvelope(relay, 'task/assignment', payload));
}

/** Decodes an assignment and checks its signature (not whom it names: see {@link checkAssignment}). */
export function readAssignment(
  bytes: unknown,
  verifier: Ed25519Verifier,
): Result<SignedMessage<'task/assignment', AssignmentPayload>, DirectMessageError> {
  return readDirect(bytes, 'task/assignment', decodeAssignmentPayload, verifier, 'invalid-assignment');
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
export async function signFallbackRequest(requester: Signer, payload: FallbackPayload): Promise<Uint8Array> {
  return encodeEnvelope(await signEnvelope(requester, 'task/fallback', payload));
}

export function readFallbackRequest(
  bytes: unknown,
  verifier: Ed25519Verifier,
): Result<SignedMessage<'task/fallback', FallbackPayload>, DirectMessageError> {
  return readDirect(bytes, 'task/fallback', decodeFallbackPayload, verifier, 'invalid-fallback');
}
