/**
 * The running hash chain over stored transactions: each row carries
 * `chain = sha256(previous chain || raw tx id)`, starting from the raw genesis
 * id. Rewriting, dropping or reordering any stored transaction changes every
 * later value, so `verifyLedger` notices even an edit that keeps the rules.
 */
import { createHash } from 'node:crypto';
import type { Hash, TxId } from '#core/identity/ids.ts';

/** The chain value after `txId`, given the value before it (the genesis id for the first). */
export function nextChainHash(previous: Hash, txId: TxId): Hash {
  return createHash('sha256')
    .update(Buffer.from(previous, 'hex'))
    .update(Buffer.from(txId, 'hex'))
    .digest('hex') as Hash;
}
