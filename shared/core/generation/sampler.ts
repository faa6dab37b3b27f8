/**
 * How the next token is picked from a model's logits, specified exactly so
 * that a sampled answer can be replayed and checked by anyone with the seed:
 *
 * 1. `temperature` 0 is greedy: the highest logit wins, the lowest id on a tie.
 * 2. Otherwise the candidates are every token ordered by logit, highest first
 *    (lowest id first on a tie), cut to the first `topK` (0 keeps them all);
 *    their probabilities are softmax(logit / temperature), computed in
 *    float64 from the float32 logits; then cut to the shortest prefix whose
 *    probability sums to at least `topP`.
 * 3. A draw `u` in [0, 1) from the task's PRNG (./prng.ts; one draw per
 *    generated token, greedy steps included, so the stream of draws never
 *    depends on the temperature) picks the first candidate whose cumulative
 *    probability exceeds `u` times the kept total.
 *
 * A checker that recomputes the logits on another backend gets the same
 * ordering up to the last bits of float arithmetic, so {@link acceptsToken}
 * accepts the claimed token when it lies within a stated tolerance of the
 * checker's own pick.
 */
import { InvalidSamplingError } from './errors.ts';

export interface SamplingParams {
  /** 0 for greedy; otherwise at most 2. */
  readonly temperature: number;
  /** Keep only the `topK` most likely tokens; 0 keeps all. */
  readonly topK: number;
  /** Keep the most likely tokens up to this total probability, in (0, 1]. */
  readonly topP: number;
}

export const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1 };

/** Throws {@link InvalidSamplingError} for parameters out of range. */
export function checkSamplingParams(params: SamplingParams): void {
  const { temperature, topK, topP } = params;
  if (!Number.isFinite(temperature) || temperature < 0 || temperature > 2) {
    throw new InvalidSamplingError(`temperature must be between 0 and 2, not ${temperature}`);
  }
  if (!Number.isSafeInteger(topK) || topK < 0)
    throw new InvalidSamplingError(`top-k must be a whole number ≥ 0, not ${topK}`);
  if (!Number.isFinite(topP) || topP <= 0 || topP > 1) {
    throw new InvalidSamplingError(`top-p must be above 0 and at most 1, not ${topP}`);
  }
}

function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if ((logits[i] as number) > (logits[best] as number)) best = i;
  return best;
}

/** A candidate token and its share of the kept probability mass: the interval [low, high) of draws that pick it. */
interface Candidate {
  readonly token: number;
  readonly low: number;
  readonly high: number;
}

/** The candidates of step 2 with their draw intervals, in pick order. */
function candidates(logits: Float32Array, params: SamplingParams): Candidate[] {
  const order = Array.from(logits.keys()).sort((a, b) => (logits[b] as number) - (logits[a] as number) || a - b);
  const kept = params.topK > 0 ? order.slice(0, params.topK) : order;
  const top = logits[kept[0] as number] as number;
  const weights = kept.map((token) => Math.exp(((logits[token] as number) - top) / params.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let cut = kept.length;
  let sum = 0;
  for (let i = 0; i < kept.length; i++) {
    sum += (weights[i] as number) / total;
    if (sum >= params.topP) {
      cut = i + 1;
      break;
    }
  }
  const keptTotal = weights.slice(0, cut).reduce((a, b) => a + b, 0);
  const out: Candidate[] = [];
  let low = 0;
  for (let i = 0; i < cut; i++) {
    const high = i === cut - 1 ? 1 : low + (weights[i] as number) / keptTotal;
    out.push({ token: kept[i] as number, low, high });
    low = high;
  }
  return out;
}

/** Picks the next token from `logits` with the draw `u` (in [0, 1)). */
export function sampleToken(logits: Float32Array, params: SamplingParams, u: number): number {
  if (params.temperature === 0) return argmax(logits);
  const list = candidates(logits, params);
  // The last candidate's interval ends at exactly 1, so a draw below 1 always finds one.
  return (list.find((c) => u < c.high) ?? list.at(-1))?.token ?? argmax(logits);
}

export interface AcceptTolerance {
  /** Greedy: the claimed token may trail the checker's best logit by this much. */
  readonly logit: number;
  /** Sampled: the draw may miss the claimed token's interval by this much probability. */
  readonly probability: number;
}

/** Float32 results of the same model on WASM, WebGPU and native differ in the last bits, hardly more. */
export const DEFAULT_ACCEPT_TOLERANCE: AcceptTolerance = { logit: 1e-3, probability: 1e-4 };

/**
 * Whether `claimed` is what the sampler would have picked from the checker's
 * `logits` with the draw `u`, allowing for near-ties between backends.
 */
export function acceptsToken(
  logits: Float32Array,
  params: SamplingParams,
  u: number,
  claimed: number,
  tolerance: AcceptTolerance = DEFAULT_ACCEPT_TOLERANCE,
): boolean {
  if (!Number.isSafeInteger(claimed) || claimed < 0 || claimed >= logits.length) return false;
  if (params.temperature === 0) {
    return (logits[claimed] as number) >= (logits[argmax(logits)] as number) - tolerance.logit;
  }
  // A token the checker's backend cuts off (top-k, top-p) is refused: only a near-tie exactly at the cut
  // could put it there honestly, and the draw would also have to land at the cut's edge.
  const hit = candidates(logits, params).find((c) => c.token === claimed);
  return hit !== undefined && u >= hit.low - tolerance.probability && u < hit.high + tolerance.probability;
}
