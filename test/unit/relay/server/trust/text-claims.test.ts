/**
 * The counting checks of every text-generation answer: an honest answer
 * passes (ended by itself, out of room, or stopped by its requester), and
 * each lie that counting can prove is named: an output that is no result,
 * receipt units other than the pieces, another prompt count, more pieces
 * than allowed, and a stop that is not the requester's for this task here.
 */
import { describe, expect, it } from 'vitest';
import { encodeEnvelope, signEnvelope } from '#core/envelope/envelope.ts';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import { textGenerationInput } from '#core/pipelines/text-generation/prompt.ts';
import { encodeTextResult, type TextGenerationResult } from '#core/pipelines/text-generation/result.ts';
import { isTextGeneration, textClaimFault, type TextClaim } from '#server/trust/text-claims.ts';
import { languageEntry, verifier } from '#test/task-service-fakes.ts';
import { forgeSignature, signerFor, T0 } from '#test/network.ts';

/** A stand-in for the shipped model: byte pieces, a 64-piece context, end-of-text 257. */
const entry: ModelEntry = languageEntry({
  kind: 'text-generation',
  pre: 'text-generation',
  post: 'text-generation',
  textGeneration: {
    tokenizer: 'byte',
    template: 'plain',
    contextLength: 64,
    bos: 256,
    eos: [257],
    cache: { layers: 1, kvHeads: 1, headDim: 4 },
    price: { perThousandPrompt: 5, perThousandGenerated: 20 },
  },
});
const relay = signerFor('relay');
const alice = signerFor('alice');
const task = 'a'.repeat(64) as TaskId;
/** "John 3:16 " and the beginning-of-text piece: 11 pieces, so at most 53 more fit the context. */
const input = textGenerationPipeline.encodeInput(textGenerationInput({ prompt: 'John 3:16 ', maxPieces: 60 }));
const pieces = [...new TextEncoder().encode('For God so loved')];
const honest: TextGenerationResult = { text: 'For God so loved', pieces, promptPieces: 11, finish: 'length' };

function claimOf(answer: TextGenerationResult | Uint8Array, units = pieces.length): TextClaim {
  const output = answer instanceof Uint8Array ? answer : encodeTextResult(answer);
  return { entry, input, task, requester: alice.accountId, network: relay.accountId, output, receipt: { units } };
}

async function stop(signer: Signer = alice, id: string = task, net: AccountId = relay.accountId) {
  return Uint8Array.from(encodeEnvelope(await signEnvelope(signer, 'task/stop', { v: 1, net, task: id, ts: T0 })));
}

describe('text claims', () => {
  it('knows which models are language models', () => {
    expect(isTextGeneration(entry)).toBe(true);
    expect(isTextGeneration(languageEntry())).toBe(false);
  });

  it('passes an honest answer, however it ended', async () => {
    expect(textClaimFault(claimOf(honest), verifier)).toBeUndefined();
    const ended = { ...honest, pieces: [...pieces, 257], finish: 'stop' as const };
    expect(textClaimFault(claimOf(ended, pieces.length + 1), verifier)).toBeUndefined();
    const stopped = { ...honest, finish: 'stopped' as const, stopProof: await stop() };
    expect(textClaimFault(claimOf(stopped), verifier)).toBeUndefined();
  });

  it('names each lie that counting proves', async () => {
    const many = Array.from({ length: 54 }, () => 97);
    const cases: [TextClaim, string][] = [
      [claimOf(new Uint8Array([1, 2, 3])), 'undecodable'],
      [claimOf(honest, pieces.length + 1), 'wrong-units'],
      [claimOf({ ...honest, promptPieces: 12 }), 'wrong-count'],
      [claimOf({ ...honest, pieces: many, text: 'a'.repeat(54) }, 54), 'too-long'],
      [claimOf({ ...honest, finish: 'stopped', stopProof: await stop(signerFor('mallory')) }), 'bad-stop'],
      [claimOf({ ...honest, finish: 'stopped', stopProof: await stop(alice, 'b'.repeat(64)) }), 'bad-stop'],
      [claimOf({ ...honest, finish: 'stopped', stopProof: await stop(alice, task, alice.accountId) }), 'bad-stop'],
      [claimOf({ ...honest, finish: 'stopped', stopProof: new Uint8Array([9, 9]) }), 'bad-stop'],
    ];
    for (const [claim, fault] of cases) expect(textClaimFault(claim, verifier)).toBe(fault);
  });

  it('refuses a stop whose signature does not verify', async () => {
    const proof = Uint8Array.from(forgeSignature(await stop()));
    expect(textClaimFault(claimOf({ ...honest, finish: 'stopped', stopProof: proof }), verifier)).toBe('bad-stop');
  });
});
