/**
 * The relay's one identity: a single Ed25519 key that signs ledger blocks as
 * the authority account and is the libp2p PeerId phones dial. Both ids are the
 * same string because an account id *is* the PeerId of its public key.
 *
 * The key lives in `<dataDir>/relay.key` as 64 lower-case hex characters (the
 * RFC 8032 seed) and a newline, readable by the owner only (mode 0600). A file
 * that is there but does not hold such a key is refused, never replaced:
 * replacing it would silently change the ledger's authority.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { AcnError } from '#core/errors.ts';
import type { AccountId } from '#core/identity/ids.ts';
import { ED25519_SECRET_KEY_BYTES, type Signer } from '#core/identity/signer.ts';
import { createNodeSigner } from '#node/crypto/node-signer.ts';
import { KeyFileError, loadOrCreateKeyFile } from '#node/key-file.ts';

/** The file name of the relay key inside the data directory. */
export const RELAY_KEY_FILE = 'relay.key';

/** The relay key file exists but does not hold a key; the relay will not start over it. */
export class MalformedRelayKeyError extends AcnError {
  override readonly name = 'MalformedRelayKeyError';
  readonly code = 'malformed-encoding';
  readonly path: string;
  constructor(path: string) {
    super(
      `${path} is not a relay key (expected 64 lower-case hex characters). ` +
        'Restore it from a backup; delete it only if this relay should become a new authority.',
    );
    this.path = path;
  }
}

export interface RelayKey {
  /** The 32-byte Ed25519 secret seed. */
  readonly seed: Uint8Array;
  /** Signs protocol messages (node:crypto). */
  readonly signer: Signer;
  /** The same key as libp2p wants it: the relay's PeerId is derived from it. */
  readonly privateKey: PrivateKey;
  /** The relay's ledger account id, equal to its PeerId string. */
  readonly accountId: AccountId;
  /** Where the key is stored. */
  readonly path: string;
  /** True when this call generated the key (first start). */
  readonly created: boolean;
}

/**
 * Loads the relay key from `dataDir`, creating the directory (mode 0700) and a
 * fresh key on first start. Throws {@link MalformedRelayKeyError} if the file
 * exists but is not a key.
 */
export async function loadOrCreateRelayKey(dataDir: string): Promise<RelayKey> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, RELAY_KEY_FILE);
  try {
    // A key file others can read is tightened rather than refused: the key is still ours.
    const { seed, created } = await loadOrCreateKeyFile(path, 'tighten');
    return await relayKeyFromSeed(seed, path, created);
  } catch (error) {
    if (error instanceof KeyFileError) throw new MalformedRelayKeyError(path);
    throw error;
  }
}

/** The relay key of a known seed (tests, or a key kept elsewhere). */
export async function relayKeyFromSeed(seed: Uint8Array, path = '', created = false): Promise<RelayKey> {
  if (seed.length !== ED25519_SECRET_KEY_BYTES) {
    throw new TypeError(`seed must be ${ED25519_SECRET_KEY_BYTES} bytes`);
  }
  const signer = createNodeSigner(seed);
  const privateKey = await generateKeyPairFromSeed('Ed25519', seed);
  return { seed, signer, privateKey, accountId: signer.accountId, path, created };
}
