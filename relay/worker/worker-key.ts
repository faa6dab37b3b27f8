/**
 * The worker's account key: one Ed25519 key that is its ledger account (where
 * it is paid and stakes), the signer of its adverts and receipts, and its
 * libp2p PeerId. The file format is `acn keygen`'s: 64 lower-case hex
 * characters (the RFC 8032 seed) and a newline, mode 0600, so one key works
 * with both commands.
 */
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import type { AccountId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import { createNodeSigner } from '#node/crypto/node-signer.ts';
import { loadOrCreateKeyFile } from '#node/key-file.ts';

export interface WorkerKey {
  /** Signs adverts, receipts and ledger transactions (node:crypto). */
  readonly signer: Signer;
  /** The same key for libp2p: the worker's PeerId is its account id. */
  readonly privateKey: PrivateKey;
  readonly accountId: AccountId;
  readonly path: string;
  /** True when this call created the key. */
  readonly created: boolean;
}

/**
 * Loads the key in `path`, or creates one there (mode 0600, its directory
 * 0700) when nothing is there. Throws a `KeyFileError` when the file
 * holds something else, or when other users can read it (as ssh does: the
 * key holds the account's tokens).
 */
export async function loadOrCreateWorkerKey(path: string): Promise<WorkerKey> {
  const { seed, created } = await loadOrCreateKeyFile(path, 'refuse');
  const signer = createNodeSigner(seed);
  const privateKey = await generateKeyPairFromSeed('Ed25519', seed);
  return { signer, privateKey, accountId: signer.accountId, path, created };
}
