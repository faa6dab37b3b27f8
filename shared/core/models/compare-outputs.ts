/**
 * Whether two runs of a model gave the same answer, by the model's own
 * measure: the catalogue entry's `tolerance` (top-1 label, exact text, or a
 * bounded numeric error) as its pipeline interprets it. The relay uses this
 * to judge a worker's output against a known answer (a canary) or against a
 * second run (a re-check) before paying for it, so a "no" here can cost a
 * worker its stake: the reference must be trusted, and anything the
 * candidate sends that does not even decode is a wrong answer.
 */
import { equalBytes } from '../encoding/bytes.ts';
import { err, ok, type Result } from '../result.ts';
import type { ModelEntry } from './catalogue.ts';
import { InvalidModelError, InvalidModelInputError } from './errors.ts';
import { pipelineFor } from '../pipelines/registry.ts';

/**
 * - `identical`: the same bytes (the encodings are canonical, so the same result);
 * - `within-tolerance`: different bytes, the same answer by the model's measure;
 * - `outside-tolerance`: a different answer;
 * - `undecodable`: the candidate is not a result of this model at all.
 */
export type OutputComparisonReason = 'identical' | 'within-tolerance' | 'outside-tolerance' | 'undecodable';

export interface OutputComparison {
  /** True when the candidate gives the reference's answer. */
  readonly agree: boolean;
  readonly reason: OutputComparisonReason;
}

/**
 * Compares `candidate` (an untrusted run's canonical output bytes) with
 * `reference` (a trusted run's) for the model `entry`. Pure; never throws.
 * Fails with {@link InvalidModelError} when no pipeline is named `entry.pre`,
 * and with {@link InvalidModelInputError} when the reference itself does not
 * decode: then nothing can be concluded about the candidate.
 */
export function compareOutputs(
  entry: Pick<ModelEntry, 'pre' | 'tolerance'>,
  reference: Uint8Array,
  candidate: Uint8Array,
): Result<OutputComparison, InvalidModelError | InvalidModelInputError> {
  const pipeline = pipelineFor(entry.pre);
  if (pipeline === undefined) return err(new InvalidModelError(`no pipeline ${entry.pre} to compare outputs with`));
  const expected = pipeline.decodeOutput(reference);
  if (!expected.ok) {
    return err(new InvalidModelInputError(`the reference output does not decode: ${expected.error.message}`));
  }
  if (equalBytes(reference, candidate)) return ok({ agree: true, reason: 'identical' });
  const actual = pipeline.decodeOutput(candidate);
  if (!actual.ok) return ok({ agree: false, reason: 'undecodable' });
  return pipeline.agree(expected.value, actual.value, entry.tolerance)
    ? ok({ agree: true, reason: 'within-tolerance' })
    : ok({ agree: false, reason: 'outside-tolerance' });
}
