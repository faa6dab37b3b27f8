/**
 * The account key on this device: one Ed25519 key, kept in IndexedDB.
 *
 * Where the browser has WebCrypto Ed25519, signing uses a non-extractable
 * CryptoKey (stored by structured clone), so page scripts can sign but never
 * read the key. Elsewhere a noble signer signs in JavaScript. Either way the
 * 32-byte seed is also kept, for the encrypted backup, but only sealed with
 * AES-GCM under a non-extractable "device key" that sits beside it: the raw
 * seed is never written to storage. (A page on a plain `http://` LAN origin
 * has no SubtleCrypto at all; only there is the seed stored as is, because
 * the alternative is no account.)
 */
import { concatBytes, fromBase64Url, utf8ToBytes } from '#core/encoding/bytes.ts';
import { accountIdFromPublicKey, type AccountId } from '#core/identity/ids.ts';
import {
  createWebCryptoSigner,
  ED25519_SECRET_KEY_BYTES,
  type Signer,
  type WebCryptoKeyPair,
} from '#core/identity/webcrypto-signer.ts';
import type { createNobleSigner } from '#core/identity/signer.ts';
import type { AcnDb } from '#browser-storage/db.ts';
import { AccountKeyCorruptError, CryptoUnavailableError, NoAccountKeyError } from './errors.ts';

/** The key of the one record in the `keys` store. */
export const ACCOUNT_KEY_ID = 'account';

export type { AccountKeyKind, AccountKeyRecord, DeviceSealedSeed, PlainSeed } from '#browser-storage/db.ts';
import type { AccountKeyKind, AccountKeyRecord, DeviceSealedSeed, PlainSeed } from '#browser-storage/db.ts';

/** The account key, ready to sign. */
export interface AccountKey {
  readonly account: AccountId;
  readonly publicKey: Uint8Array;
  readonly signer: Signer;
  /** Who signs: a non-extractable WebCrypto key, or noble in JavaScript. */
  readonly kind: AccountKeyKind;
}

export interface AccountKeyOptions {
  readonly signal?: AbortSignal;
  /** Use WebCrypto Ed25519 when the browser has it. Default true; false forces noble (tests, a buggy platform). */
  readonly webCrypto?: boolean;
}

// RFC 8410 PKCS#8 DER header of an Ed25519 private key: the 32-byte seed follows.
// WebCrypto imports a private key from a seed only in this form.
const PKCS8_ED25519_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const AES_GCM_IV_BYTES = 12;

/**
 * The device's account key: the stored one, or a new one created and stored
 * on first use. Two contexts starting at once (page and service worker) end
 * up with the same key: whichever stores first wins, and the other adopts it.
 */
export async function loadOrCreateAccountKey(db: AcnDb, options: AccountKeyOptions = {}): Promise<AccountKey> {
  options.signal?.throwIfAborted();
  const stored = await db.get('keys', ACCOUNT_KEY_ID);
  if (stored) return accountKeyFromRecord(stored);
  const seed = crypto.getRandomValues(new Uint8Array(ED25519_SECRET_KEY_BYTES));
  try {
    const record = await recordFromSeed(seed, options);
    options.signal?.throwIfAborted();
    return await accountKeyFromRecord(await putIfAbsent(db, record));
  } finally {
    seed.fill(0);
  }
}

/** The stored account key, or undefined when the device has none yet. */
export async function loadAccountKey(db: AcnDb, options: { readonly signal?: AbortSignal } = {}) {
  options.signal?.throwIfAborted();
  const stored = await db.get('keys', ACCOUNT_KEY_ID);
  return stored ? accountKeyFromRecord(stored) : undefined;
}

/**
 * Builds what the `keys` store holds for `seed`: a non-extractable WebCrypto
 * key pair when the platform has Ed25519 (and `options.webCrypto` allows it),
 * and the seed sealed under a fresh device key. Does not store it.
 */
export async function recordFromSeed(seed: Uint8Array, options: AccountKeyOptions = {}): Promise<AccountKeyRecord> {
  if (seed.length !== ED25519_SECRET_KEY_BYTES) throw new TypeError(`seed must be ${ED25519_SECRET_KEY_BYTES} bytes`);
  const keyPair = options.webCrypto === false ? undefined : await importWebCryptoKeyPair(seed);
  const publicKey = keyPair?.publicKeyBytes ?? (await nobleSigner(seed)).publicKey;
  const account = accountIdFromPublicKey(publicKey);
  return {
    v: 1,
    kind: keyPair ? 'webcrypto' : 'noble',
    account,
    publicKey,
    ...(keyPair ? { keyPair: { privateKey: keyPair.privateKey, publicKey: keyPair.publicKey } } : {}),
    seed: await sealSeed(seed, account),
    createdAt: Date.now(),
  };
}

/** Replaces the stored account key (backup import). */
export async function replaceAccountKey(db: AcnDb, record: AccountKeyRecord): Promise<AccountKey> {
  const key = await accountKeyFromRecord(record); // checked before anything is written
  await db.put('keys', record, ACCOUNT_KEY_ID);
  return key;
}

/** The stored seed, unsealed; only the backup needs it. The caller zeroes it after use. */
export async function readAccountSeed(db: AcnDb): Promise<{ account: AccountId; seed: Uint8Array }> {
  const record = await db.get('keys', ACCOUNT_KEY_ID);
  if (!record) throw new NoAccountKeyError('this device has no account key yet');
  return { account: record.account, seed: await unsealSeed(record) };
}

async function accountKeyFromRecord(record: AccountKeyRecord): Promise<AccountKey> {
  let signer: Signer;
  if (record.kind === 'webcrypto' && record.keyPair) {
    signer = await createWebCryptoSigner(record.keyPair);
  } else {
    const seed = await unsealSeed(record);
    // Only the Signer interface leaves this module: noble's signer also exposes the seed.
    const noble = await nobleSigner(seed);
    signer = { publicKey: noble.publicKey, accountId: noble.accountId, sign: (message) => noble.sign(message) };
  }
  if (signer.accountId !== record.account) {
    throw new AccountKeyCorruptError(`the stored key signs as ${signer.accountId}, not ${record.account}`);
  }
  return { account: record.account, publicKey: signer.publicKey, signer, kind: record.kind };
}

/** A noble signer, for browsers without WebCrypto Ed25519: noble is imported only there. */
async function nobleSigner(seed: Uint8Array): Promise<ReturnType<typeof createNobleSigner>> {
  const { createNobleSigner } = await import('#core/identity/signer.ts');
  return createNobleSigner(seed);
}

async function putIfAbsent(db: AcnDb, record: AccountKeyRecord): Promise<AccountKeyRecord> {
  // get and add in one readwrite transaction: IndexedDB runs those one at a
  // time, so of two contexts creating keys at once exactly one stores its own.
  const tx = db.transaction('keys', 'readwrite');
  const existing = await tx.store.get(ACCOUNT_KEY_ID);
  if (!existing) await tx.store.add(record, ACCOUNT_KEY_ID);
  await tx.done;
  return existing ?? record;
}

/**
 * The seed as a non-extractable WebCrypto key pair, or undefined where the
 * browser has no Ed25519. Everything here is native: the public key comes from
 * a one-off extractable import (JWK `x`), not from noble, whose first use
 * precomputes tables in a long task that a phone feels on first open.
 */
async function importWebCryptoKeyPair(
  seed: Uint8Array,
): Promise<(WebCryptoKeyPair & { readonly publicKeyBytes: Uint8Array }) | undefined> {
  const subtle = subtleOrUndefined();
  if (!subtle) return undefined;
  const pkcs8 = concatBytes(PKCS8_ED25519_PREFIX, seed);
  try {
    const once = await subtle.importKey('pkcs8', pkcs8, 'Ed25519', true, ['sign']);
    const { x } = await subtle.exportKey('jwk', once);
    if (x === undefined) return undefined;
    const publicKeyBytes = fromBase64Url(x);
    const privateKey = await subtle.importKey('pkcs8', pkcs8, 'Ed25519', false, ['sign']);
    const publicKey = await subtle.importKey('raw', publicKeyBytes as Uint8Array<ArrayBuffer>, 'Ed25519', true, [
      'verify',
    ]);
    // One signature round trip: a platform whose Ed25519 does not verify its own signatures is not used.
    const probe = utf8ToBytes('acn/v1/key-check');
    const signature = await subtle.sign('Ed25519', privateKey, probe);
    if (!(await subtle.verify('Ed25519', publicKey, signature, probe))) return undefined;
    return { privateKey, publicKey, publicKeyBytes };
  } catch {
    return undefined; // no Ed25519 in this browser's WebCrypto
  } finally {
    pkcs8.fill(0);
  }
}

async function sealSeed(seed: Uint8Array, account: AccountId): Promise<DeviceSealedSeed | PlainSeed> {
  const subtle = subtleOrUndefined();
  if (!subtle) return { kind: 'plain', seed: Uint8Array.from(seed) };
  const deviceKey = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const iv = crypto.getRandomValues(new Uint8Array(AES_GCM_IV_BYTES));
  const ciphertext = new Uint8Array(
    await subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: utf8ToBytes(account) as Uint8Array<ArrayBuffer> },
      deviceKey,
      seed as Uint8Array<ArrayBuffer>,
    ),
  );
  return { kind: 'device-key', deviceKey, iv, ciphertext };
}

async function unsealSeed(record: AccountKeyRecord): Promise<Uint8Array> {
  if (record.seed.kind === 'plain') return Uint8Array.from(record.seed.seed);
  const subtle = subtleOrUndefined();
  if (!subtle) throw new CryptoUnavailableError('this page has no SubtleCrypto to unseal the account key');
  const { deviceKey, iv, ciphertext } = record.seed;
  try {
    return new Uint8Array(
      await subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: iv as Uint8Array<ArrayBuffer>,
          additionalData: utf8ToBytes(record.account) as Uint8Array<ArrayBuffer>,
        },
        deviceKey,
        ciphertext as Uint8Array<ArrayBuffer>,
      ),
    );
  } catch {
    throw new AccountKeyCorruptError('the sealed account seed does not decrypt under its device key');
  }
}

/** SubtleCrypto, which exists only in secure contexts (https, localhost). */
export function subtleOrUndefined(): SubtleCrypto | undefined {
  return (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
}
