/**
 * Errors across the worker-thread boundary: structured cloning keeps only a
 * plain Error's message, so errors travel as `{ name, code, message }` and the
 * pool rebuilds the typed class of every error it knows by name.
 */
import { InvalidModelError, InvalidModelInputError, ModelHashMismatchError } from '#core/models/errors.ts';
import {
  InferenceFailedError,
  PoolBusyError,
  PoolNotRunningError,
  UnknownModelError,
  WorkerCrashedError,
} from './errors.ts';
import type { ErrorData } from './pool-messages.ts';

/** The name, code (if any) and message of anything thrown. */
export function serialiseError(error: unknown): ErrorData {
  if (error instanceof Error || error instanceof DOMException) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: String(error) };
}

const TYPED: Readonly<Record<string, new (message: string) => Error>> = {
  InvalidModelInputError,
  ModelHashMismatchError,
  InvalidModelError,
  UnknownModelError,
  PoolBusyError,
  PoolNotRunningError,
  WorkerCrashedError,
  InferenceFailedError,
};

/**
 * The typed error `data` describes: the shared model errors and the pool's own
 * by name, an `AbortError` or `TimeoutError` as the platform's DOMException,
 * anything else as {@link InferenceFailedError} naming the original error.
 */
export function rebuildError(data: ErrorData): Error {
  const typed = Object.hasOwn(TYPED, data.name) ? TYPED[data.name] : undefined;
  if (typed) return new typed(data.message);
  if (data.name === 'AbortError' || data.name === 'TimeoutError') return new DOMException(data.message, data.name);
  return new InferenceFailedError(`${data.name}: ${data.message}`);
}
