/** Errors of the generation loop, told apart by `name` and `code`. */
import { AcnError } from '../errors.ts';

/** Sampling parameters out of range (a negative temperature, top-p above 1, ...). */
export class InvalidSamplingError extends AcnError {
  override readonly name = 'InvalidSamplingError';
  readonly code = 'invalid-sampling';
}

/** An empty prompt, or one that leaves no room in the model's context for a generated token. */
export class InvalidPromptError extends AcnError {
  override readonly name = 'InvalidPromptError';
  readonly code = 'invalid-prompt';
}

/** The model's session answered without the outputs its cache layout names, or with the wrong shapes. */
export class ModelOutputError extends AcnError {
  override readonly name = 'ModelOutputError';
  readonly code = 'model-output';
}
