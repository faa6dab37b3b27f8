/**
 * A model pipeline: everything around the ONNX graph that makes a model a
 * task, in pure code shared by every runner: decoding the task's input bytes,
 * pre-processing into tensors, post-processing the outputs, encoding the
 * result canonically (its SHA-256 is what receipts sign), and comparing two
 * results within the catalogue's tolerance.
 */
import type { Result } from '../result.ts';
import type { Tolerance } from './catalogue.ts';
import type { InvalidModelInputError } from './errors.ts';
import type { ModelSession, RunOptions } from './runtime.ts';

/** What a pipeline runs on: the main model's session plus its assets (sessions or raw files) by role. */
export interface PipelineModels {
  readonly main: ModelSession;
  readonly sessions: Readonly<Record<string, ModelSession>>;
  readonly files: Readonly<Record<string, Uint8Array>>;
}

export interface ModelPipeline<I, O> {
  /** Matches `ModelEntry.pre` / `post`. */
  readonly name: string;
  /** Asset roles that are ONNX models to load as sessions; every other asset is handed over as raw bytes. */
  readonly sessionAssets?: readonly string[];
  /** Turns a task's input bytes into the pipeline's input. Never throws. */
  decodeInput(bytes: Uint8Array): Result<I, InvalidModelInputError>;
  encodeInput(input: I): Uint8Array;
  /** Units of work in `input`, as the catalogue entry's price counts them. */
  units(input: I): number;
  run(models: PipelineModels, input: I, options?: RunOptions): Promise<O>;
  /** Canonical bytes of a result: the receipt signs their hash. */
  encodeOutput(output: O): Uint8Array;
  decodeOutput(bytes: Uint8Array): Result<O, InvalidModelInputError>;
  /** True when two results agree within `tolerance` (float results differ across backends). */
  agree(a: O, b: O, tolerance: Tolerance): boolean;
}
