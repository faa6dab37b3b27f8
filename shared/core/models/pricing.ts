/**
 * What a task costs, for every kind of model: a unit-priced model costs its
 * units times the unit price, whatever its result; a language model costs
 * the pieces it reads and writes, so a task's quote (what the relay escrows
 * at most) counts its prompt and the most it may generate, and its settled
 * price counts what it did generate.
 */
import { err, ok, type Result } from '../result.ts';
import { generationPrice, priceOf, type ModelEntry, type TextUsage } from './catalogue.ts';
import { InvalidModelError, type InvalidModelInputError } from './errors.ts';
import type { ModelPipeline } from './pipeline.ts';

export interface Quote {
  readonly price: number;
  /** Units of work (for a language model, the most pieces it may generate). */
  readonly units: number;
  /** Pieces read and (at most) written, for a language model. */
  readonly usage?: TextUsage;
}

/** The price of `input` on `entry`, with `output` its result (without one: the most it may cost). */
export function quoteTask<I, O>(
  entry: ModelEntry,
  pipeline: ModelPipeline<I, O>,
  input: I,
  output?: O,
): Result<Quote, InvalidModelInputError | InvalidModelError> {
  if (pipeline.usage === undefined) {
    const units = pipeline.units(input, output);
    return ok({ price: priceOf(entry, units), units });
  }
  const spec = entry.textGeneration;
  if (spec === undefined) {
    return err(new InvalidModelError(`${entry.name} has no textGeneration section to price it by`));
  }
  const usage = pipeline.usage(entry, input, output);
  if (!usage.ok) return usage;
  return ok({ price: generationPrice(spec, usage.value), units: usage.value.generatedPieces, usage: usage.value });
}
