/**
 * Entry of the relay's verifier thread, started by `createVerifierThread` as
 * `new Worker(new URL('./verifier-worker.ts', import.meta.url))` (Node runs
 * it with type stripping). It answers each batch of signature checks in the
 * order received, with the same node:crypto verifier the main thread uses,
 * so the answers cannot differ from checking on the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createNodeVerifier } from './node-verifier.ts';
import { unpackChecks } from './signature-batch.ts';
import type { VerifierWorkerRequest, VerifierWorkerReply, VerifierWorkerSetup } from './verifier-thread.ts';

if (!parentPort) throw new Error('verifier-worker.ts runs only as the worker thread of createVerifierThread');
const port = parentPort;
const setup = workerData as VerifierWorkerSetup;
const verifier = createNodeVerifier({ cacheSize: setup.cacheSize });

port.on('message', ({ id, checks }: VerifierWorkerRequest) => {
  const unpacked = unpackChecks(checks);
  const valid = new Uint8Array(unpacked.length);
  for (const [i, check] of unpacked.entries()) {
    valid[i] = verifier.verify(check.signature, check.message, check.publicKey) ? 1 : 0;
  }
  const reply: VerifierWorkerReply = { id, valid };
  port.postMessage(reply, [valid.buffer]);
});
