/**
 * The relay's verifier thread: the same answers as the node:crypto verifier
 * on the calling thread, in call order, batched; aborts; a failed thread
 * falls back to the calling thread; an idle thread does not keep the process
 * alive.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createVerifierThread, type VerifierThread } from '#node/crypto/verifier-thread.ts';
import { signerFor } from '#test/network.ts';
import { runVerifierContract } from '#test/verifier-contract.ts';

interface Case {
  readonly signature: Uint8Array;
  readonly message: Uint8Array;
  readonly publicKey: Uint8Array;
}

const alice = signerFor('verifier thread alice');
const bob = signerFor('verifier thread bob');

/** `count` checks: valid ones, tampered signatures, wrong keys and malformed lengths, mixed. */
async function cases(count: number): Promise<Case[]> {
  const out: Case[] = [];
  for (let i = 0; i < count; i++) {
    const message = new TextEncoder().encode(`message ${i}`);
    const signature = await alice.sign(message);
    switch (i % 5) {
      case 0:
      case 1:
        out.push({ signature, message, publicKey: alice.publicKey });
        break;
      case 2: {
        const forged = Uint8Array.from(signature);
        forged[7] = (forged[7] as number) ^ 0x10;
        out.push({ signature: forged, message, publicKey: alice.publicKey });
        break;
      }
      case 3:
        out.push({ signature, message, publicKey: bob.publicKey });
        break;
      default:
        out.push({ signature: signature.subarray(0, 63), message, publicKey: alice.publicKey });
    }
  }
  return out;
}

const reference = createNodeVerifier();
const expected = (list: readonly Case[]) => list.map((c) => reference.verify(c.signature, c.message, c.publicKey));

let thread: VerifierThread | undefined;
afterEach(async () => {
  await thread?.close();
  thread = undefined;
});

// Both ways of asking keep the verifier contract: on the calling thread, and on the verifier thread.
runVerifierContract('verifier thread, verify', () => {
  const contracted = createVerifierThread();
  return {
    verify: (signature, message, publicKey) => contracted.verify(signature, message, publicKey),
    teardown: () => contracted.close(),
  };
});
runVerifierContract('verifier thread, verifyAsync', () => {
  const contracted = createVerifierThread({ maxBatch: 4 });
  return {
    verify: (signature, message, publicKey) => contracted.verifyAsync(signature, message, publicKey),
    teardown: () => contracted.close(),
  };
});

describe('verifier thread', () => {
  it('gives the node verifier’s answer for every check, across several batches', async () => {
    const errors: Error[] = [];
    const t = (thread = createVerifierThread({ maxBatch: 16, onError: (error) => errors.push(error) }));
    const list = await cases(100);
    const answers = await Promise.all(list.map((c) => t.verifyAsync(c.signature, c.message, c.publicKey)));
    expect(answers).toEqual(expected(list));
    expect(errors).toEqual([]);
    expect(answers.filter(Boolean)).toHaveLength(40);
    // The synchronous verify answers on the calling thread, alike.
    expect(list.map((c) => t.verify(c.signature, c.message, c.publicKey))).toEqual(expected(list));
  });

  it('settles well-formed checks in the order they were asked for', async () => {
    const t = (thread = createVerifierThread({ maxBatch: 8 }));
    const list = (await cases(50)).filter((c) => c.signature.length === 64);
    const order: number[] = [];
    await Promise.all(list.map((c, i) => t.verifyAsync(c.signature, c.message, c.publicKey).then(() => order.push(i))));
    expect(order).toEqual(list.map((_, i) => i));
    expect(t.pending()).toBe(0);
  });

  it('rejects with the signal’s reason when aborted, before or while waiting', async () => {
    thread = createVerifierThread();
    const [check] = (await cases(1)) as [Case];
    const reason = new Error('stop');
    await expect(
      thread.verifyAsync(check.signature, check.message, check.publicKey, { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    const controller = new AbortController();
    const answer = thread.verifyAsync(check.signature, check.message, check.publicKey, { signal: controller.signal });
    controller.abort(reason);
    await expect(answer).rejects.toBe(reason);
    // An abort does not disturb the checks after it.
    expect(await thread.verifyAsync(check.signature, check.message, check.publicKey)).toBe(true);
  });

  it('verifies on the calling thread, with the same answers, when the thread dies with checks in hand', async () => {
    const errors: Error[] = [];
    // A stand-in worker that dies as soon as it gets a batch.
    const dying = new URL(
      `data:text/javascript,${encodeURIComponent(
        "import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => process.exit(3));",
      )}`,
    );
    const t = (thread = createVerifierThread({ workerScript: dying, onError: (error) => errors.push(error) }));
    const list = await cases(30);
    const answers = await Promise.all(list.map((c) => t.verifyAsync(c.signature, c.message, c.publicKey)));
    expect(answers).toEqual(expected(list));
    expect(errors).toHaveLength(1);
    // Later checks too.
    const more = await cases(10);
    expect(await Promise.all(more.map((c) => t.verifyAsync(c.signature, c.message, c.publicKey)))).toEqual(
      expected(more),
    );
  });

  it('answers what waits on close, and verifies on the calling thread after', async () => {
    const t = (thread = createVerifierThread());
    const list = await cases(20);
    const answers = Promise.all(list.map((c) => t.verifyAsync(c.signature, c.message, c.publicKey)));
    await t.close();
    expect(await answers).toEqual(expected(list));
    const [check] = list as [Case];
    expect(await t.verifyAsync(check.signature, check.message, check.publicKey)).toBe(true);
  });

  it('does not keep a process alive once its checks are answered', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'acn-verifier-thread-'));
    try {
      const script = join(dir, 'idle.mjs');
      const module = new URL('../../../../../relay/node/crypto/verifier-thread.ts', import.meta.url).href;
      await writeFile(
        script,
        `import { createVerifierThread } from ${JSON.stringify(module)};
        const thread = createVerifierThread({ onError: (error) => console.log('failed', error.message) });
        console.log(await thread.verifyAsync(new Uint8Array(64), new Uint8Array(1), new Uint8Array(32)));`,
      );
      const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 20_000 });
      expect(stdout.trim()).toBe('false');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
