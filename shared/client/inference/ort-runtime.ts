/**
 * The one adapter from onnxruntime's API to {@link InferenceRuntime}.
 * onnxruntime-web and onnxruntime-node share that API (onnxruntime-common), so
 * the caller passes in whichever module its platform has; shared/ imports
 * only its types.
 */
import type * as Ort from 'onnxruntime-common';
import type { Hash } from '#core/identity/ids.ts';
import type { Backend } from '#core/messages/receipt.ts';
import type { InferenceRuntime, ModelSession } from '#core/models/runtime.ts';
import { checkModelBytes } from '#core/models/runtime.ts';
import type { Tensor, TensorType } from '#core/models/tensor.ts';

export interface OrtModule {
  readonly InferenceSession: typeof Ort.InferenceSession;
  readonly Tensor: typeof Ort.Tensor;
}

export interface OrtRuntimeInit {
  readonly name: string;
  readonly backend: Backend;
  /** Passed to every `InferenceSession.create`; defaults to onnxruntime's. */
  readonly sessionOptions?: Ort.InferenceSession.SessionOptions;
}

const TENSOR_TYPES = new Set<string>(['float32', 'int32', 'int64', 'uint8']);

export function createOrtRuntime(ort: OrtModule, init: OrtRuntimeInit): InferenceRuntime {
  return {
    name: init.name,
    backend: init.backend,
    async load(bytes: Uint8Array, expected: Hash, options = {}): Promise<ModelSession> {
      const checked = checkModelBytes(bytes, expected);
      if (!checked.ok) throw checked.error;
      options.signal?.throwIfAborted();
      const session = await ort.InferenceSession.create(bytes, init.sessionOptions ?? {});
      return {
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        async run(feeds, runOptions = {}) {
          runOptions.signal?.throwIfAborted();
          const ortFeeds: Record<string, Ort.Tensor> = {};
          for (const [name, tensor] of Object.entries(feeds)) {
            ortFeeds[name] = new ort.Tensor(tensor.type, tensor.data, tensor.dims);
          }
          const results = await session.run(ortFeeds);
          runOptions.signal?.throwIfAborted();
          const out: Record<string, Tensor> = {};
          for (const [name, value] of Object.entries(results)) {
            if (!TENSOR_TYPES.has(value.type)) throw new TypeError(`output ${name} has unsupported type ${value.type}`);
            out[name] = { type: value.type as TensorType, data: value.data as Tensor['data'], dims: value.dims };
          }
          return out;
        },
        release: () => session.release(),
      };
    },
  };
}
