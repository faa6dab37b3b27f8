/**
 * Ed25519 verification on a second core: a worker thread running the
 * node:crypto verifier, fed in batches. At a few thousand submissions a
 * second, verification is about a third of the relay's work on its event
 * loop; here the event loop only packs the checks.
 *
 * Checks go to the thread in batches, each one transferred buffer (see
 * signature-batch.ts): those asked for during one turn of the event loop
 * leave together once the loop has handled its pending I/O (`setImmediate`),
 * and while the thread works on a batch (`maxInFlight`) new checks wait and
 * leave together when it answers, so under load batches grow instead of
 * messages multiplying (each costs both threads a wake-up). The thread
 * answers batches in order, so the answers to well-formed checks come in call
 * order (a malformed one is answered false at once).
 *
 * If the thread fails, the checks it had and every later one are verified on
 * the calling thread instead: slower, never a different answer.
 */
import { Worker } from 'node:worker_threads';
import type { AsyncEd25519Verifier, AsyncVerifyOptions } from './async-verifier.ts';
import { createNodeVerifier } from './node-verifier.ts';
import { isWellFormed, packChecks, type SignatureCheck } from './signature-batch.ts';

export interface VerifierThreadInit {
  /** Public keys kept as ready `KeyObject`s, on each thread. Default 10,000. */
  readonly cacheSize?: number;
  /** Most checks sent to the thread in one message. Default 256. */
  readonly maxBatch?: number;
  /** Batches the thread holds at once; more checks wait and go together once one is answered. Default 1. */
  readonly maxInFlight?: number;
  /** Told when the thread fails (checks then run on the calling thread). Default: nothing. */
  readonly onError?: (error: Error) => void;
  /** The worker's entry. Default verifier-worker.ts beside this file (tests swap it to make it fail). */
  readonly workerScript?: URL;
}

export interface VerifierThread extends AsyncEd25519Verifier {
  /** Checks handed to the thread and not answered yet. */
  pending(): number;
  /** Answers what waits, then ends the thread; later checks run on the calling thread. */
  close(): Promise<void>;
}

/** What the worker thread is started with. */
export interface VerifierWorkerSetup {
  readonly cacheSize: number;
}

/** One batch for the thread: checks packed by `packChecks`, transferred. */
export interface VerifierWorkerRequest {
  readonly id: number;
  readonly checks: ArrayBuffer;
}

/** The thread's answer to a batch: one byte per check, 1 for valid, transferred. */
export interface VerifierWorkerReply {
  readonly id: number;
  readonly valid: Uint8Array;
}

interface Waiting {
  readonly check: SignatureCheck;
  readonly resolve: (valid: boolean) => void;
}

/** Starts the verifier thread; see the module comment. */
export function createVerifierThread(init: VerifierThreadInit = {}): VerifierThread {
  const cacheSize = init.cacheSize ?? 10_000;
  const maxBatch = Math.max(1, init.maxBatch ?? 256);
  const maxInFlight = Math.max(1, init.maxInFlight ?? 1);
  const inline = createNodeVerifier({ cacheSize });
  /** Batches sent to the thread, by id, in the order sent. */
  const sent = new Map<number, Waiting[]>();
  const queued: Waiting[] = [];
  let flushScheduled = false;
  let nextId = 1;
  let closing = false;
  let onDrained: (() => void) | undefined;

  const setup: VerifierWorkerSetup = { cacheSize };
  let worker: Worker | undefined = new Worker(init.workerScript ?? new URL('./verifier-worker.ts', import.meta.url), {
    workerData: setup,
  });
  // An idle thread does not keep the process alive; one with work does (see send).
  worker.unref();
  worker.on('message', ({ id, valid }: VerifierWorkerReply) => {
    const batch = sent.get(id);
    if (batch === undefined) return;
    sent.delete(id);
    for (const [i, waiting] of batch.entries()) waiting.resolve(valid[i] === 1);
    flush();
  });
  worker.on('error', (error) => {
    fail(error);
  });
  worker.on('exit', (code) => {
    if (!closing || sent.size > 0) fail(new Error(`the verifier thread exited with code ${code}`));
  });

  /** The thread is gone: answer everything it had here, in order, and keep verifying here. */
  function fail(error: Error): void {
    if (worker === undefined) return;
    worker = undefined;
    for (const batch of sent.values()) answerInline(batch);
    sent.clear();
    flush();
    init.onError?.(error);
  }

  function answerInline(batch: readonly Waiting[]): void {
    for (const { check, resolve } of batch) resolve(inline.verify(check.signature, check.message, check.publicKey));
  }

  function settled(): void {
    if (sent.size > 0) return;
    worker?.unref();
    if (queued.length === 0) onDrained?.();
  }

  function flush(): void {
    flushScheduled = false;
    while (queued.length > 0 && (worker === undefined || sent.size < maxInFlight)) send(queued.splice(0, maxBatch));
    settled();
  }

  function send(batch: Waiting[]): void {
    if (worker === undefined) {
      answerInline(batch);
      return;
    }
    const id = nextId++;
    const checks = packChecks(batch.map((waiting) => waiting.check));
    const request: VerifierWorkerRequest = { id, checks };
    sent.set(id, batch);
    worker.ref();
    worker.postMessage(request, [checks]);
  }

  function enqueue(check: SignatureCheck): Promise<boolean> {
    return new Promise((resolve) => {
      queued.push({ check, resolve });
      if (queued.length >= maxBatch) flush();
      else if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    });
  }

  return {
    verify: (signature, message, publicKey) => inline.verify(signature, message, publicKey),

    verifyAsync(signature, message, publicKey, options: AsyncVerifyOptions = {}) {
      const { signal } = options;
      if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
      const check = { signature, message, publicKey };
      if (!isWellFormed(check)) return Promise.resolve(false);
      const answer =
        worker === undefined ? Promise.resolve(inline.verify(signature, message, publicKey)) : enqueue(check);
      return signal === undefined ? answer : abortable(answer, signal);
    },

    pending: () => queued.length + [...sent.values()].reduce((n, batch) => n + batch.length, 0),

    async close() {
      if (closing) return;
      closing = true;
      const thread = worker;
      if (thread === undefined) return;
      flush();
      if (sent.size > 0) {
        await new Promise<void>((resolve) => {
          onDrained = resolve;
        });
      }
      worker = undefined;
      await thread.terminate();
    },
  };
}

/** `answer`, or a rejection with the signal's reason if it is aborted first. */
function abortable<T>(answer: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    void answer.then((value) => {
      signal.removeEventListener('abort', onAbort);
      resolve(value);
    });
  });
}
