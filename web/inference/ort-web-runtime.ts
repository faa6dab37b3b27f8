/**
 * onnxruntime-web as an {@link InferenceRuntime}: WebGPU when the browser has
 * an adapter and the caller allows it, else WASM (threads only when the page
 * is cross-origin isolated). Also runs in Node (WASM), for tests and benches.
 *
 * In a browser each backend loads its own build of onnxruntime-web: the
 * WASM-only build's wasm is 14 MB (3.7 MB gzipped), the WebGPU build's 28 MB
 * (6.7 MB gzipped), so a phone without WebGPU downloads and compiles half as
 * much. Node takes the package's Node build (its `node` export) for both: the
 * browser builds cannot start their thread workers there.
 */
import type * as Ort from 'onnxruntime-web';
import { createOrtRuntime } from '#client/inference/ort-runtime.ts';
import type { InferenceRuntime } from '#core/models/runtime.ts';

export interface OrtWebInit {
  /** Where onnxruntime-web's `.wasm`/`.mjs` files are served from. Default: next to the bundle. */
  readonly wasmPaths?: string;
  /** WASM threads; fixed at onnxruntime's first initialisation. Default 1. */
  readonly numThreads?: number;
  /** Use WebGPU when an adapter exists. Default false. */
  readonly webgpu?: boolean;
}

export interface OrtWebRuntime extends InferenceRuntime {
  /**
   * WASM threads onnxruntime runs with: those asked for, or 1 where the
   * context is not cross-origin isolated (no SharedArrayBuffer, so
   * onnxruntime-web falls back to one thread).
   */
  readonly threads: number;
}

export async function createOrtWebRuntime(init: OrtWebInit = {}): Promise<OrtWebRuntime> {
  const useWebGpu = init.webgpu === true && (await hasWebGpuAdapter());
  const inNode =
    typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
  const ort: typeof Ort = useWebGpu || inNode ? await import('onnxruntime-web') : await import('onnxruntime-web/wasm');
  if (init.wasmPaths !== undefined) ort.env.wasm.wasmPaths = init.wasmPaths;
  const numThreads = Math.max(1, init.numThreads ?? 1);
  ort.env.wasm.numThreads = numThreads;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const runtime = createOrtRuntime(ort, {
    name: 'onnxruntime-web',
    backend: useWebGpu ? 'webgpu' : 'wasm',
    sessionOptions: { executionProviders: [useWebGpu ? 'webgpu' : 'wasm'] },
  });
  return Object.assign(runtime, { threads: isolated ? numThreads : 1 });
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
