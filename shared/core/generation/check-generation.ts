/**
 * Checks a claimed generation in one forced pass instead of generating
 * again: the model reads prompt + claimed tokens (all but the last) at once,
 * which gives the logits every claimed token was picked from; each claimed
 * token must be the sampler's pick from those logits with the task's seed
 * (./sampler.ts, with its tolerance for near-ties between backends). One
 * pass over n tokens costs about one prefill, far less than n decode steps.
 *
 * It also checks how the claim ends: an end-of-sequence token only last, a
 * claim cut short only where `maxTokens` or the context allows, counts that
 * match. The stop-string case is checked by the caller against the text.
 */
import { createSplitMix64 } from './prng.ts';
import { acceptsToken, DEFAULT_ACCEPT_TOLERANCE, type AcceptTolerance } from './sampler.ts';
import { checkGenerateRequest, logitRows, stepFeeds, type GenerateRequest, type LanguageModel } from './generate.ts';

export interface ClaimedGeneration {
  readonly tokens: readonly number[];
  /** `stopped`: the requester stopped it (the caller checks its proof), so it may end anywhere, even before any token. */
  readonly finishReason: 'stop' | 'length' | 'stopped';
}

export type GenerationVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** Why: a token the sampler would not pick, or an ending the request does not allow. */
      readonly reason: 'wrong-token' | 'early-end' | 'too-long' | 'eos-not-last' | 'bad-finish';
      /** The first claimed token that fails, when one does. */
      readonly index?: number;
    };

/** Whether `claim` is what `model` generates for `request`, token by token, within `tolerance`. */
export async function checkGeneration(
  model: LanguageModel,
  request: Omit<GenerateRequest, 'stop'>,
  claim: ClaimedGeneration,
  tolerance: AcceptTolerance = DEFAULT_ACCEPT_TOLERANCE,
): Promise<GenerationVerdict> {
  checkGenerateRequest(model, request);
  const { tokens } = claim;
  const limit = Math.min(request.maxTokens, model.contextLength - request.prompt.length);
  const stopped = claim.finishReason === 'stopped';
  if (tokens.length === 0) return stopped ? { ok: true } : { ok: false, reason: 'early-end' };
  if (tokens.length > limit) return { ok: false, reason: 'too-long' };
  const eosAt = tokens.findIndex((t) => model.eosTokens.includes(t));
  if (eosAt !== -1 && eosAt !== tokens.length - 1) return { ok: false, reason: 'eos-not-last', index: eosAt };
  if (stopped && eosAt !== -1) return { ok: false, reason: 'bad-finish' };
  if (claim.finishReason === 'length' && tokens.length !== limit) return { ok: false, reason: 'early-end' };
  if (claim.finishReason === 'length' && eosAt !== -1) return { ok: false, reason: 'bad-finish' };

  const sequence = [...request.prompt, ...tokens.slice(0, -1)];
  const feeds = stepFeeds(model, sequence, 0, undefined);
  const rows = logitRows(
    await model.session.run(feeds, request.signal ? { signal: request.signal } : {}),
    sequence.length,
  );
  const prng = createSplitMix64(request.seed);
  for (let i = 0; i < tokens.length; i++) {
    const logits = rows[request.prompt.length - 1 + i] as Float32Array;
    if (!acceptsToken(logits, request.sampling, prng.nextFloat(), tokens[i] as number, tolerance)) {
      return { ok: false, reason: 'wrong-token', index: i };
    }
  }
  return { ok: true };
}
