/**
 * The task answerer's streaming and Stop, over a real length-prefixed
 * DAG-CBOR channel on an in-memory stream pair: a run's text goes to the
 * sender as `{ text }` frames before the answer; a stop signed by the task's
 * requester for this task aborts the run with a `StopRequest` carrying its
 * bytes, and the shorter answer is receipted; a stop from anyone else, or for
 * another task, changes nothing; a stop that finds the task still waiting
 * for a slot is answered `stopped`.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { streamPair } from '@libp2p/utils';
import type { Connection } from '@libp2p/interface';
import { beforeEach, describe, expect, it } from 'vitest';
import { encodeEnvelope, readMessage, signEnvelope } from '#core/envelope/envelope.ts';
import { StopRequest } from '#core/generation/stop-request.ts';
import type { TaskId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import { decodeReceiptPayload } from '#core/messages/receipt.ts';
import {
  MAX_TASK_MESSAGE_BYTES,
  messageChannel,
  readTaskAnswer,
  type MessageChannel,
  type TaskAnswer,
} from '#client/p2p/task-protocol.ts';
import { createTaskAnswerer, type TaskRun } from '#client/worker-session/task-answerer.ts';
import { createTaskSlots, type TaskSlots } from '#client/worker-session/task-slots.ts';
import { createTestNetwork, signerFor, T0, type TestNetwork } from '#test/network.ts';
import { taskRequest } from './session-fakes.ts';

const worker = signerFor('worker');
const requester = signerFor('requester');
const stranger = signerFor('stranger');
const input = new TextEncoder().encode('John 3:16');

let net: TestNetwork;
beforeEach(async () => {
  net = await createTestNetwork();
});

/**
 * A generation stand-in: reports a piece every few ms until it has made
 * `pieces`, or until its signal aborts; aborted with a StopRequest it ends
 * with what it made (as the pipeline does), otherwise it rejects.
 */
function generatingRun(pieces: number): { run: TaskRun; reasons: unknown[]; made: () => number } {
  const reasons: unknown[] = [];
  let made = 0;
  const run: TaskRun = async (signal, { onText }) => {
    while (made < pieces) {
      if (signal.aborted) {
        reasons.push(signal.reason);
        if (!(signal.reason instanceof StopRequest)) throw signal.reason as Error;
        break;
      }
      onText(made, `p${made} `);
      made++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return { output: new TextEncoder().encode(`made ${made}`), units: made, backend: 'native', runMs: 3, threads: 1 };
  };
  return { run, reasons, made: () => made };
}

async function signedStop(signer: Signer, task: TaskId): Promise<Uint8Array> {
  return encodeEnvelope(await signEnvelope(signer, 'task/stop', { v: 1, net: net.relay.accountId, task, ts: T0 }));
}

/** Opens a task stream from the relay to an answerer running `run`, and writes the request. */
async function openTask(
  run: TaskRun,
  slots: TaskSlots = createTaskSlots({ concurrency: 1, dutyCycle: 1, maxWaitMs: 5000 }),
): Promise<{ channel: MessageChannel; id: TaskId }> {
  const relay = peerIdFromString(net.relay.accountId);
  const answerer = createTaskAnswerer({
    relay,
    network: net.relay.accountId,
    signer: worker,
    verifier: nobleVerifier,
    slots,
    prepare: () => run,
    signal: new AbortController().signal,
  });
  const [outbound, inbound] = await streamPair();
  void answerer(inbound, { remotePeer: relay, limits: undefined } as unknown as Connection);
  const channel = messageChannel(outbound, MAX_TASK_MESSAGE_BYTES);
  const { request, id } = await taskRequest(net, requester, input);
  await channel.write(request);
  return { channel, id };
}

function outputOf(answer: TaskAnswer): string {
  if ('error' in answer) throw new Error(`the worker failed: ${answer.error.code} ${answer.error.message}`);
  return new TextDecoder().decode(answer.output);
}

describe('task answerer: streaming and stop', () => {
  it('sends each piece as a text frame, in order, before the receipted answer', async () => {
    const { channel, id } = await openTask(generatingRun(6).run);
    const frames: [number, string][] = [];
    const answer = await readTaskAnswer(channel, { onText: (index, text) => frames.push([index, text]) });
    expect(outputOf(answer)).toBe('made 6');
    expect(frames).toEqual([0, 1, 2, 3, 4, 5].map((i) => [i, `p${i} `]));
    if ('error' in answer) throw new Error('no receipt');
    const receipt = readMessage(answer.receipt, 'receipt', decodeReceiptPayload, nobleVerifier);
    expect(receipt.ok && receipt.value.payload).toMatchObject({ task: id, units: 6 });
  });

  it("ends the run on the requester's stop with a StopRequest carrying the stop, and answers what it made", async () => {
    const generation = generatingRun(1000);
    const { channel, id } = await openTask(generation.run);
    const stop = await signedStop(requester, id);
    let seen = 0;
    const answer = await readTaskAnswer(channel, {
      onText: () => {
        seen++;
        if (seen === 3) void channel.write({ stop });
      },
    });
    expect(generation.reasons).toHaveLength(1);
    const reason = generation.reasons[0];
    expect(reason).toBeInstanceOf(StopRequest);
    expect((reason as StopRequest).proof).toEqual(stop);
    expect(generation.made()).toBeGreaterThanOrEqual(3);
    expect(generation.made()).toBeLessThan(1000);
    // Every piece made was sent before the answer.
    expect(seen).toBe(generation.made());
    expect(outputOf(answer)).toBe(`made ${generation.made()}`);
  });

  it('ignores a stop signed by someone else, one for another task, and anything that is not a stop', async () => {
    const generation = generatingRun(30);
    const { channel, id } = await openTask(generation.run);
    const other = (await taskRequest(net, requester, input)).id;
    await channel.write({ stop: await signedStop(stranger, id) });
    await channel.write({ stop: await signedStop(requester, other) });
    await channel.write({ stop: new Uint8Array([1, 2, 3]) });
    await channel.write({ hello: 'there' });
    const answer = await readTaskAnswer(channel);
    expect(generation.reasons).toEqual([]);
    expect(outputOf(answer)).toBe('made 30');
  });

  it('answers `stopped` when the stop comes while the task still waits for a slot', async () => {
    const slots = createTaskSlots({ concurrency: 1, dutyCycle: 1, maxWaitMs: 5000 });
    let release: () => void = () => undefined;
    // The one slot is taken by a task that ends when the test says so.
    const busy = slots.run(
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    );
    const generation = generatingRun(10);
    const { channel, id } = await openTask(generation.run, slots);
    await channel.write({ stop: await signedStop(requester, id) });
    const answer = await readTaskAnswer(channel);
    expect(answer).toEqual({ error: { code: 'stopped', message: expect.any(String) as string } });
    expect(generation.made()).toBe(0);
    release();
    await busy;
  });
});
