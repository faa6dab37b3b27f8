/** onnxruntime-node (native CPU) as an {@link InferenceRuntime}: the relay's pool and the Node worker. */
import * as ort from 'onnxruntime-node';
import { createOrtRuntime } from '#client/inference/ort-runtime.ts';
import type { InferenceRuntime } from '#core/models/runtime.ts';

export interface OrtNodeInit {
  /** Intra-op threads per session. Default 1. */
  readonly threads?: number;
}

export function createOrtNodeRuntime(init: OrtNodeInit = {}): InferenceRuntime {
  return createOrtRuntime(ort, {
    name: 'onnxruntime-node',
    backend: 'native',
    sessionOptions: { executionProviders: ['cpu'], intraOpNumThreads: init.threads ?? 1, interOpNumThreads: 1 },
  });
}
