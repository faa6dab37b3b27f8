/**
 * Chain vectors (test/vectors/chains.json, written by
 * test/vectors/generate-chains.ts): the valid chain must replay to exactly the
 * state written down for it, and every invalid chain must fail with exactly
 * the InvalidChainError recorded for it: reason, height and txIndex.
 */
import { describe, expect, it } from 'vitest';
import vectors from '#vectors/chains.json';
import {
  accountOf,
  applyBlock,
  decodeBlock,
  decodeEnvelope,
  encodeBlock,
  genesisState,
  nobleVerifier,
  readGenesis,
  replayChain,
  totalValue,
  type AccountId,
  type AcnError,
  type Block,
  type ErrorCode,
  type TaskId,
} from '#core/index.ts';
import { hex, unhex } from '#test/network.ts';

interface HexBlock {
  readonly header: string;
  readonly txs: readonly string[];
}
interface InvalidVector {
  readonly name: string;
  readonly genesis?: string;
  readonly prefix: number;
  readonly blocks: readonly HexBlock[];
  readonly error: { readonly reason: string; readonly height: number; readonly txIndex?: number };
}

const toBlock = (b: HexBlock): Block => ({ header: unhex(b.header), txs: b.txs.map(unhex) });
const validGenesis = unhex(vectors.valid.genesis);
const validBlocks = vectors.valid.blocks.map(toBlock);
const accounts = new Map(Object.entries(vectors.accounts).map(([name, id]) => [name, id as AccountId]));
const invalidChains: readonly InvalidVector[] = vectors.invalid;

describe('chain vectors: the valid chain', () => {
  it('replays to exactly the expected balances, stakes, reputations, escrows and supply', () => {
    const result = replayChain({ genesis: validGenesis, blocks: validBlocks }, nobleVerifier);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { state, head } = result.value;
    const expected = vectors.valid.expected;
    expect(state.network).toBe(vectors.network);
    expect(state.params).toEqual(vectors.params);
    expect(state.supply).toBe(expected.supply);
    expect(totalValue(state)).toBe(expected.supply);
    expect({ height: head.height, id: head.id }).toEqual(expected.head);
    for (const [name, account] of Object.entries(expected.accounts)) {
      expect({ name, ...accountOf(state, accounts.get(name) as AccountId) }).toEqual({ name, ...account });
    }
    // No account beyond those listed was touched.
    expect(state.accounts.size).toBe(Object.keys(expected.accounts).length);
    const escrows = Object.entries(expected.escrows);
    expect(state.escrows.size).toBe(escrows.length);
    for (const [id, escrow] of escrows) {
      expect(state.escrows.get(id as TaskId)).toMatchObject({
        payer: accounts.get(escrow.payer),
        amount: escrow.amount,
        status: escrow.status,
      });
    }
  });

  it('covers every kind of transaction', () => {
    const types = new Set<string>();
    for (const block of validBlocks) {
      for (const t of block.txs) {
        const envelope = decodeEnvelope(t);
        expect(envelope.ok).toBe(true);
        if (envelope.ok) types.add(envelope.value.type);
      }
    }
    expect([...types].sort()).toEqual([
      'tx/escrow',
      'tx/grant',
      'tx/refund',
      'tx/settle',
      'tx/slash',
      'tx/stake',
      'tx/transfer',
      'tx/unstake',
    ]);
  });

  it('gives the same state block by block with applyBlock, leaving every earlier result untouched', () => {
    const genesis = readGenesis(validGenesis, nobleVerifier);
    expect(genesis.ok).toBe(true);
    if (!genesis.ok) return;
    let at = genesisState(genesis.value);
    const history = [at];
    for (const block of validBlocks) {
      const next = applyBlock(at, block, nobleVerifier);
      expect(next.ok).toBe(true);
      if (!next.ok) return;
      at = next.value;
      history.push(at);
    }
    expect(history.map((h) => h.head.height)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(history.map((h) => h.state.supply)).toEqual([0, 4000, 4000, 4000, 4000, 4000]);
    const replayed = replayChain({ genesis: validGenesis, blocks: validBlocks }, nobleVerifier);
    expect(replayed.ok && replayed.value.state.accounts.toJS()).toEqual(at.state.accounts.toJS());
  });

  it('survives encodeBlock and decodeBlock byte for byte', () => {
    for (const block of validBlocks) {
      const decoded = decodeBlock(encodeBlock(block));
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) return;
      expect(hex(decoded.value.header)).toBe(hex(block.header));
      expect(decoded.value.txs.map(hex)).toEqual(block.txs.map(hex));
    }
  });
});

describe('chain vectors: invalid chains', () => {
  it('include every required kind of fault', () => {
    const reasons = new Set(invalidChains.map((c) => c.error.reason));
    const required: ErrorCode[] = [
      'unauthorized',
      'bad-signature',
      'invalid-block',
      'already-granted',
      'insufficient-funds',
      'bad-sequence',
      'unknown-escrow',
      'escrow-closed',
      'wrong-network',
      'invalid-proof-of-work',
      'receipt-mismatch',
      'price-above-escrow',
      'insufficient-stake',
      'already-slashed',
    ];
    for (const reason of required) expect(reasons).toContain(reason);
    expect(invalidChains.some((c) => c.error.height === 0)).toBe(true);
  });

  for (const vector of invalidChains) {
    it(`${vector.name}: ${vector.error.reason} at block ${vector.error.height}${vector.error.txIndex === undefined ? '' : ` tx ${vector.error.txIndex}`}`, () => {
      const chain = {
        genesis: vector.genesis === undefined ? validGenesis : unhex(vector.genesis),
        blocks: [...validBlocks.slice(0, vector.prefix), ...vector.blocks.map(toBlock)],
      };
      const result = replayChain(chain, nobleVerifier);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      const error = result.error;
      expect(error.name).toBe('InvalidChainError');
      expect(error.code).toBe('invalid-chain');
      expect({ reason: error.reason, height: error.height, txIndex: error.txIndex }).toEqual({
        reason: vector.error.reason,
        height: vector.error.height,
        txIndex: vector.error.txIndex,
      });
      expect((error.cause as AcnError).code).toBe(vector.error.reason);
      // The chain is fine up to the fault: the blocks before it replay.
      const before = replayChain(
        { genesis: chain.genesis, blocks: chain.blocks.slice(0, Math.max(0, error.height - 1)) },
        nobleVerifier,
      );
      expect(before.ok).toBe(error.height > 0);
    });
  }
});
