/**
 * onnxruntime-web as an {@link InferenceRuntime}: WebGPU when the browser has
 * an adapter and the caller allows it, else WASM (threads only when the page
 * is cross-origin isolated). Also runs in Node (WASM), for tests and benches.
 */
import * as ort from 'onnxruntime-web';
import { createOrtRuntime } from '../../shared/models/ort-runtime.ts';
import type { InferenceRuntime } from '../../shared/models/runtime.ts';

export interface OrtWebInit {
  /** Where onnxruntime-web's `.wasm`/`.mjs` files are served from. Default: next to the bundle. */
  readonly wasmPaths?: string;
  /** WASM threads; fixed at onnxruntime's first initialisation. Default 1. */
  readonly numThreads?: number;
  /** Use WebGPU when an adapter exists. Default false. */
  readonly webgpu?: boolean;
}

export async function createOrtWebRuntime(init: OrtWebInit = {}): Promise<InferenceRuntime> {
  if (init.wasmPaths !== undefined) ort.env.wasm.wasmPaths = init.wasmPaths;
  ort.env.wasm.numThreads = init.numThreads ?? 1;
  const useWebGpu = init.webgpu === true && (await hasWebGpuAdapter());
  return createOrtRuntime(ort, {
    name: 'onnxruntime-web',
    backend: useWebGpu ? 'webgpu' : 'wasm',
    sessionOptions: { executionProviders: [useWebGpu ? 'webgpu' : 'wasm'] },
  });
}

/**
 * WASM threads onnxruntime runs with in this context: what it was given, or 1
 * where the page is not cross-origin isolated (no SharedArrayBuffer, so
 * onnxruntime-web falls back to one thread).
 */
export function ortWasmThreads(): number {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return isolated ? Math.max(1, ort.env.wasm.numThreads ?? 1) : 1;
}

async function hasWebGpuAdapter(): Promise<boolean> {
  const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } } | undefined)?.gpu;
  if (gpu === undefined) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}
