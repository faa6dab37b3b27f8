/**
 * The cheap checks the relay makes of every text-generation answer, sampled
 * or not, before it is paid: they need no model run, only counting. The
 * receipt's `units` must be the pieces the output holds, the output's
 * prompt count must be the relay's own count of the prompt, the answer may
 * be no longer than the task allows, and an answer that ends because the
 * requester stopped it must carry the requester's signed stop for this very
 * task on this network (that proof is the only thing that lets an honest
 * answer end short of its limit). The worker signed its receipt over this
 * output, so an answer failing any of them is a proven lie.
 *
 * Whether the pieces themselves are the ones the model would pick is the
 * forced-pass check's job (the pool's `check`), made on a sampled share.
 */
import { readMessage } from '#core/envelope/envelope.ts';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { ReceiptPayload } from '#core/messages/receipt.ts';
import { decodeStopPayload } from '#core/messages/task.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';

/**
 * What is wrong with a claimed answer:
 * - `undecodable`: the output is not a text-generation result;
 * - `wrong-units`: the receipt counts other than the output's pieces;
 * - `wrong-count`: the output counts the prompt otherwise than the relay;
 * - `too-long`: more pieces than `maxPieces` or the model's context allow;
 * - `bad-stop`: a stopped answer without the requester's valid stop for this task.
 */
export type TextClaimFault = 'undecodable' | 'wrong-units' | 'wrong-count' | 'too-long' | 'bad-stop';

/** A worker's answer to a text-generation task, with what the relay knows of the task. */
export interface TextClaim {
  readonly entry: ModelEntry;
  /** The task's input bytes, as the relay admitted them. */
  readonly input: Uint8Array;
  readonly task: TaskId;
  /** Who signed the task: the only account whose stop may end it early. */
  readonly requester: AccountId;
  readonly network: AccountId;
  /** The worker's output bytes, and its (verified) receipt for them. */
  readonly output: Uint8Array;
  readonly receipt: Pick<ReceiptPayload, 'units'>;
}

/** Whether `entry` is a language model, whose answers {@link textClaimFault} checks. */
export function isTextGeneration(entry: Pick<ModelEntry, 'pre'>): boolean {
  return entry.pre === textGenerationPipeline.name;
}

/** The first thing wrong with `claim`, or undefined when its counts and its ending hold. */
export function textClaimFault(claim: TextClaim, verifier: Ed25519Verifier): TextClaimFault | undefined {
  const input = textGenerationPipeline.decodeInput(claim.input);
  const output = textGenerationPipeline.decodeOutput(claim.output);
  // The relay admitted this input, so it decodes and fits the context; without that there is nothing to judge by.
  const most = input.ok ? textGenerationPipeline.usage?.(claim.entry, input.value) : undefined;
  if (most?.ok !== true) return undefined;
  if (!output.ok) return 'undecodable';
  const answer = output.value;
  if (claim.receipt.units !== answer.pieces.length) return 'wrong-units';
  if (answer.promptPieces !== most.value.promptPieces) return 'wrong-count';
  if (answer.pieces.length > most.value.generatedPieces) return 'too-long';
  if (answer.finish === 'stopped' && !validStop(claim, answer.stopProof, verifier)) return 'bad-stop';
  return undefined;
}

/**
 * Whether `proof` is a `task/stop` signed by the task's requester for this
 * task and network. Its time is not checked against the clock: it was signed
 * while the task ran, and the answer may be judged a while later.
 */
function validStop(claim: TextClaim, proof: Uint8Array | undefined, verifier: Ed25519Verifier): boolean {
  if (proof === undefined) return false;
  const stop = readMessage(proof, 'task/stop', decodeStopPayload, verifier);
  if (!stop.ok) return false;
  const { signer, payload } = stop.value;
  return signer === claim.requester && payload.task === claim.task && payload.net === claim.network;
}
