/**
 * How the browser worker runs one task: the checks, the direct-path
 * assignment rules (a phone that dialled this tab over WebRTC brings the
 * relay's assignment), the slots, the receipt and the answer are every
 * desktop worker's (shared/client/worker-session/); this is the browser
 * worker's own part, the session's `prepare`: not paused, a model it offers,
 * an input its pipeline decodes (which counts the units), run in a Web Worker.
 * A text generation's pieces stream from the Web Worker to the session, and
 * the requester's stop (the signal's `StopRequest`) ends it with what it
 * made; a language model's units are the pieces it did make.
 */
import type { ModelId } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import type { TaskAnswererInit, TaskEvent } from '#client/worker-session/task-answerer.ts';
import { TaskRefusedError } from './errors.ts';
import type { InferenceOutcome, InferenceRunOptions } from './inference-workers.ts';

export type { TaskEvent };

export interface TaskHandlerInit {
  /** The offered entry for `model`, or undefined when it is not offered now. */
  readonly offered: (model: ModelId) => ModelEntry | undefined;
  /** Why no task is taken now (paused), or undefined. */
  readonly pausedReason: () => string | undefined;
  readonly infer: (
    entry: ModelEntry,
    input: Uint8Array,
    options: InferenceRunOptions & { readonly signal: AbortSignal },
  ) => Promise<InferenceOutcome>;
}

/** The session's `prepare` for the browser worker. */
export function createTaskHandler(init: TaskHandlerInit): TaskAnswererInit['prepare'] {
  return ({ model, input }) => {
    const paused = init.pausedReason();
    if (paused !== undefined) throw new TaskRefusedError('paused', `this worker is paused: ${paused}`);
    const entry = init.offered(model);
    if (entry === undefined) throw new TaskRefusedError('unknown-model', `this worker does not offer ${model}`);
    const pipeline = pipelineFor(entry.pre);
    const decoded = pipeline?.decodeInput(input);
    if (pipeline === undefined || decoded?.ok !== true) {
      throw new TaskRefusedError('invalid-task', `the input is not valid for ${entry.name}`);
    }
    return async (signal, { onText }) => {
      try {
        const result = await init.infer(entry, input, { signal, onText });
        // A pipeline priced by what it makes (text generation) counts the output; the others the input.
        const output = pipeline.usage === undefined ? undefined : pipeline.decodeOutput(result.output);
        const units = output?.ok === true ? pipeline.units(decoded.value, output.value) : pipeline.units(decoded.value);
        return { output: result.output, units, backend: result.backend, runMs: result.ms, threads: result.threads };
      } catch (error) {
        if (signal.aborted) throw error;
        throw new TaskRefusedError('inference-failed', error instanceof Error ? error.message : String(error));
      }
    };
  };
}
