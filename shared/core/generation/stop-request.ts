/**
 * The reason a generation is aborted with when its requester stopped it:
 * the generation then ends with what it made so far instead of failing, and
 * the result carries `proof`, the requester's signed `task/stop` message,
 * which is what lets an honest answer end short of its limit.
 */
export class StopRequest {
  readonly proof: Uint8Array;
  constructor(proof: Uint8Array) {
    this.proof = proof;
  }
}

/** The requester's stop proof when `signal` was aborted by one, else undefined. */
export function stopProofOf(signal: AbortSignal | undefined): Uint8Array | undefined {
  return signal?.aborted === true && signal.reason instanceof StopRequest ? signal.reason.proof : undefined;
}
