/**
 * A model pipeline: everything around the ONNX graph that makes a model a
 * task, in pure code shared by every runner: decoding the task's input bytes,
 * pre-processing into tensors, post-processing the outputs, encoding the
 * result canonically (its SHA-256 is what receipts sign), and comparing two
 * results within the catalogue's tolerance.
 */
import type { Result } from '../result.ts';
import type { ModelEntry, TextGenerationSpec, TextUsage, Tolerance } from './catalogue.ts';
import type { InvalidModelInputError } from './errors.ts';
import type { ModelSession, RunOptions } from './runtime.ts';

/** What a pipeline runs on: the main model's session plus its assets (sessions or raw files) by role. */
export interface PipelineModels {
  readonly main: ModelSession;
  readonly sessions: Readonly<Record<string, ModelSession>>;
  readonly files: Readonly<Record<string, Uint8Array>>;
  /** The catalogue entry's `textGeneration` section, for a language model. */
  readonly textGeneration?: TextGenerationSpec | undefined;
}

/** A run's options: its cancellation, and where partial results go as they are made. */
export interface PipelineRunOptions extends RunOptions {
  /** Text generation: called with each generated piece's index and the text it makes final ('' while held back). */
  readonly onText?: ((index: number, text: string) => void) | undefined;
}

/** What a check of a claimed output found: right, or wrong and why. */
export type ClaimVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface ModelPipeline<I, O> {
  /** Matches `ModelEntry.pre` / `post`. */
  readonly name: string;
  /** Asset roles that are ONNX models to load as sessions; every other asset is handed over as raw bytes. */
  readonly sessionAssets?: readonly string[];
  /** Turns a task's input bytes into the pipeline's input. Never throws. */
  decodeInput(bytes: Uint8Array): Result<I, InvalidModelInputError>;
  encodeInput(input: I): Uint8Array;
  /**
   * Units of work in `input`, as the catalogue entry's price counts them
   * (what a receipt's `units` says). A pipeline priced by usage counts what
   * `output` generated, or at most what `input` allows without one.
   */
  units(input: I, output?: O): number;
  run(models: PipelineModels, input: I, options?: PipelineRunOptions): Promise<O>;
  /** Canonical bytes of a result: the receipt signs their hash. */
  encodeOutput(output: O): Uint8Array;
  decodeOutput(bytes: Uint8Array): Result<O, InvalidModelInputError>;
  /** True when two results agree within `tolerance` (float results differ across backends). */
  agree(a: O, b: O, tolerance: Tolerance): boolean;
  /**
   * For pipelines priced by what they read and write (text generation): the
   * pieces `input` reads and `output` wrote, or, without an output, the most
   * it may write. Fails for an input the model cannot take (a prompt longer
   * than its context).
   */
  usage?(entry: ModelEntry, input: I, output?: O): Result<TextUsage, InvalidModelInputError>;
  /**
   * Checks a claimed output for `input` more cheaply than running it again
   * (text generation: one forced pass over prompt and claimed pieces).
   */
  check?(models: PipelineModels, input: I, claimed: O, options?: RunOptions): Promise<ClaimVerdict>;
}
