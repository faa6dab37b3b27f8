/**
 * A block header, signed by the relay (the network's block producer). A light
 * client keeps these and checks Merkle inclusion proofs against `txRoot`.
 */
import * as v from 'valibot';
import { decoderFor, hash, accountId, timestamp, version } from './fields.ts';

/** The most transactions one block may hold. */
export const MAX_BLOCK_TXS = 10_000;

export const blockHeaderPayloadSchema = v.strictObject({
  v: version,
  net: accountId,
  /** 1 for the first block after genesis. */
  height: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  /** The id of the previous block's header, or of the genesis message for height 1. */
  prev: hash,
  /** RFC 9162 Merkle tree hash of the block's transaction envelopes, in order. */
  txRoot: hash,
  txCount: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_BLOCK_TXS)),
  ts: timestamp,
});

export type BlockHeaderPayload = v.InferOutput<typeof blockHeaderPayloadSchema>;
export const decodeBlockHeaderPayload = decoderFor('block header', blockHeaderPayloadSchema);
