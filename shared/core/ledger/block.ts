/**
 * Blocks: a signed header over an ordered list of encoded transaction
 * envelopes. The header's `txRoot` is their RFC 9162 Merkle root, so one
 * transaction's inclusion is proven with the header and a short path.
 */
import { decodeCanonical, encodeCanonical } from '../encoding/canonical.ts';
import {
  encodeEnvelope,
  readMessage,
  signEnvelope,
  type ReadMessageError,
  type SignedMessage,
} from '../envelope/envelope.ts';
import type { BlockHash, Hash } from '../identity/ids.ts';
import type { Signer } from '../identity/signer.ts';
import type { Ed25519Verifier } from '../identity/verifier.ts';
import { decodeBlockHeaderPayload, MAX_BLOCK_TXS, type BlockHeaderPayload } from '../messages/block-header.ts';
import type { InvalidMessageError } from '../messages/errors.ts';
import { err, ok, type Result } from '../result.ts';
import { InvalidBlockError, UnauthorizedError } from './errors.ts';
import { merkleRoot, verifyInclusion, type InclusionProof } from './merkle.ts';

export type BlockHeader = SignedMessage<'block', BlockHeaderPayload>;

export interface Block {
  /** The encoded, signed header envelope. */
  readonly header: Uint8Array;
  /** Encoded transaction envelopes, in order. */
  readonly txs: readonly Uint8Array[];
}

export interface BuildBlockInit {
  readonly height: number;
  /** Id of the previous header, or of the genesis message for height 1. */
  readonly prev: Hash;
  readonly txs: readonly Uint8Array[];
  readonly ts: number;
}

/** Builds and signs a block. The signer is the relay, whose account id is the network. */
export async function buildBlock(producer: Signer, init: BuildBlockInit): Promise<Block> {
  if (init.txs.length > MAX_BLOCK_TXS) throw new RangeError(`a block holds at most ${MAX_BLOCK_TXS} transactions`);
  const payload: BlockHeaderPayload = {
    v: 1,
    net: producer.accountId,
    height: init.height,
    prev: init.prev,
    txRoot: merkleRoot(init.txs),
    txCount: init.txs.length,
    ts: init.ts,
  };
  const header = encodeEnvelope(await signEnvelope(producer, 'block', payload));
  return { header, txs: [...init.txs] };
}

/** Reads a block header and checks it is signed by the network's relay. Never throws. */
export function readBlockHeader(
  bytes: Uint8Array,
  verifier: Ed25519Verifier,
): Result<BlockHeader, ReadMessageError | InvalidMessageError | UnauthorizedError> {
  const header = readMessage(bytes, 'block', decodeBlockHeaderPayload, verifier);
  if (!header.ok) return header;
  if (header.value.signer !== header.value.payload.net) {
    return err(new UnauthorizedError('a block must be signed by its network relay'));
  }
  return header;
}

/** Checks that a block's transactions match its header. */
export function checkBlockBody(header: BlockHeader, txs: readonly Uint8Array[]): Result<true, InvalidBlockError> {
  if (txs.length !== header.payload.txCount) {
    return err(new InvalidBlockError(`header says ${header.payload.txCount} transactions, body has ${txs.length}`));
  }
  if (merkleRoot(txs) !== header.payload.txRoot) return err(new InvalidBlockError('transactions do not match txRoot'));
  return ok(true);
}

/**
 * Checks that `header` extends the chain at `previous` (height + 1, prev hash,
 * same network, time not going backwards).
 */
export function checkHeaderLink(
  previous: { readonly id: Hash; readonly height: number; readonly ts: number; readonly net: string },
  header: BlockHeader,
): Result<true, InvalidBlockError> {
  const p = header.payload;
  if (p.net !== previous.net) return err(new InvalidBlockError('block is for another network'));
  if (p.height !== previous.height + 1)
    return err(new InvalidBlockError(`expected height ${previous.height + 1}, got ${p.height}`));
  if (p.prev !== previous.id) return err(new InvalidBlockError('prev does not match the previous block'));
  if (p.ts < previous.ts) return err(new InvalidBlockError('block time goes backwards'));
  return ok(true);
}

/** What a light client checks: `tx` is in the block whose verified header is `header`. */
export function verifyTxInclusion(header: BlockHeader, tx: Uint8Array, proof: InclusionProof): boolean {
  return proof.size === header.payload.txCount && verifyInclusion(tx, proof, header.payload.txRoot);
}

export function blockHash(header: BlockHeader): BlockHash {
  return header.id as BlockHash;
}

export function encodeBlock(block: Block): Uint8Array {
  return encodeCanonical({ header: block.header, txs: block.txs });
}

/** Decodes a block's container (not its signatures). Never throws. */
export function decodeBlock(bytes: Uint8Array, maxBytes = 64 * 1024 * 1024): Result<Block, InvalidBlockError> {
  const decoded = decodeCanonical(bytes, { maxBytes });
  if (!decoded.ok) return err(new InvalidBlockError(decoded.error.message));
  const raw = decoded.value;
  if (typeof raw !== 'object' || raw === null) return err(new InvalidBlockError('a block is { header, txs }'));
  const value = raw as { header?: unknown; txs?: unknown };
  if (
    !(value.header instanceof Uint8Array) ||
    !Array.isArray(value.txs) ||
    value.txs.length > MAX_BLOCK_TXS ||
    !value.txs.every((tx) => tx instanceof Uint8Array) ||
    Object.keys(value).length !== 2
  ) {
    return err(new InvalidBlockError('a block is { header, txs }'));
  }
  return ok({ header: value.header, txs: value.txs });
}
