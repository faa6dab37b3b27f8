/**
 * The account key as a libp2p private key. The relay accepts an advert only
 * over its signer's own connection (account id = PeerId), so the browser
 * worker's libp2p identity must be the account key itself. That key is a
 * non-extractable WebCrypto key (or a noble signer whose seed never leaves
 * web/keys), so libp2p gets a key object that signs through the account's
 * {@link Signer} and has no raw bytes to hand out.
 *
 * libp2p awaits `sign` everywhere the node's own key signs (the Noise
 * handshake's identity signature, signed peer records), and reads `raw` only
 * to export or store a key (keychain), which this node never does.
 */
import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey, Ed25519PublicKey } from '@libp2p/interface';
import type { Signer } from '#core/identity/signer.ts';

/** Thrown when something asks for the key's bytes: they are not readable by design. */
export class KeyNotExportableError extends Error {
  override readonly name = 'KeyNotExportableError';
  readonly code = 'key-not-exportable';
}

export function signerPrivateKey(signer: Signer): Ed25519PrivateKey {
  const publicKey = publicKeyFromRaw(signer.publicKey);
  if (publicKey.type !== 'Ed25519') throw new TypeError('the account key is not an Ed25519 key');
  const ed25519Public: Ed25519PublicKey = publicKey;
  return {
    type: 'Ed25519',
    publicKey: ed25519Public,
    get raw(): Uint8Array {
      throw new KeyNotExportableError('the account key cannot be exported');
    },
    equals(key?: unknown): boolean {
      const other = key as { type?: unknown; publicKey?: { equals?: (k: unknown) => boolean } } | undefined;
      return other?.type === 'Ed25519' && other.publicKey?.equals?.(ed25519Public) === true;
    },
    sign(data) {
      return signer.sign(data instanceof Uint8Array ? data : data.subarray());
    },
  };
}
