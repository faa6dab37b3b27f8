/**
 * One interface over every inference runtime: onnxruntime-web (browser:
 * WebGPU or WASM; Node: WASM) and onnxruntime-node (relay pool, Node worker).
 * Pre- and post-processing live in shared/ and only ever see these types.
 */
import { sha256Hex } from '../encoding/bytes.ts';
import type { Hash } from '../identity/ids.ts';
import type { Backend } from '../messages/receipt.ts';
import { err, ok, type Result } from '../result.ts';
import { ModelHashMismatchError } from './errors.ts';
import type { Tensor } from './tensor.ts';

export interface RunOptions {
  readonly signal?: AbortSignal;
}

export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Readonly<Record<string, Tensor>>, options?: RunOptions): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

export interface LoadOptions {
  readonly signal?: AbortSignal;
}

export interface InferenceRuntime {
  /** For example `onnxruntime-web` or `onnxruntime-node`. */
  readonly name: string;
  /** What receipts name as the backend. */
  readonly backend: Backend;
  /**
   * Creates a session from model bytes after checking that their SHA-256 is
   * `expected`; rejects with {@link ModelHashMismatchError} otherwise.
   */
  load(bytes: Uint8Array, expected: Hash, options?: LoadOptions): Promise<ModelSession>;
}

/** Checks model bytes against their content address. Every runtime calls this before loading. */
export function checkModelBytes(bytes: Uint8Array, expected: Hash): Result<Uint8Array, ModelHashMismatchError> {
  const actual = sha256Hex(bytes);
  if (actual !== expected) {
    return err(new ModelHashMismatchError(`model bytes hash to ${actual}, expected ${expected}`));
  }
  return ok(bytes);
}
