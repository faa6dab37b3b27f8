/**
 * The account key's backup: its 32-byte seed encrypted with AES-GCM 256 under
 * a key derived from a passphrase (PBKDF2-SHA-256, 600,000 iterations, the
 * OWASP 2023 figure), as a small versioned JSON text the user keeps anywhere.
 * The account id is the AES-GCM additional data, so a backup cannot be passed
 * off as another account's.
 *
 *   { "v": 1, "account": "12D3KooW…",
 *     "kdf": { "name": "PBKDF2", "hash": "SHA-256", "iterations": 600000, "salt": "<base64url>" },
 *     "iv": "<base64url>", "ciphertext": "<base64url>" }
 */
import * as v from 'valibot';
import { fromBase64Url, toBase64Url, utf8ToBytes } from '#core/encoding/bytes.ts';
import { parseAccountId, type AccountId } from '#core/identity/ids.ts';
import { createNobleSigner, ED25519_SECRET_KEY_BYTES } from '#core/identity/signer.ts';
import type { AcnDb } from '#browser-storage/db.ts';
import {
  readAccountSeed,
  recordFromSeed,
  replaceAccountKey,
  subtleOrUndefined,
  type AccountKey,
  type AccountKeyOptions,
} from './account-key.ts';
import { BackupFormatError, BackupPassphraseError, CryptoUnavailableError } from './errors.ts';

export const BACKUP_VERSION = 1;
/** PBKDF2 iterations of a new backup. */
export const BACKUP_PBKDF2_ITERATIONS = 600_000;
// A backup with more is refused: a crafted file could otherwise make the import hash for minutes.
const MAX_PBKDF2_ITERATIONS = 10_000_000;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const AES_GCM_TAG_BYTES = 16;

const base64UrlBytes = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.regex(/^[A-Za-z0-9_-]+$/),
    v.transform(fromBase64Url),
    v.check((b) => b.length >= min && b.length <= max, `must be ${min} to ${max} bytes`),
  );

const backupSchema = v.strictObject({
  v: v.literal(BACKUP_VERSION),
  account: v.custom<AccountId>((x) => parseAccountId(x).ok, 'must be an account id'),
  kdf: v.strictObject({
    name: v.literal('PBKDF2'),
    hash: v.literal('SHA-256'),
    iterations: v.pipe(
      v.number(),
      v.safeInteger(),
      v.minValue(BACKUP_PBKDF2_ITERATIONS),
      v.maxValue(MAX_PBKDF2_ITERATIONS),
    ),
    salt: base64UrlBytes(SALT_BYTES, 64),
  }),
  iv: base64UrlBytes(IV_BYTES, IV_BYTES),
  ciphertext: base64UrlBytes(
    ED25519_SECRET_KEY_BYTES + AES_GCM_TAG_BYTES,
    ED25519_SECRET_KEY_BYTES + AES_GCM_TAG_BYTES,
  ),
});
const backupTextSchema = v.pipe(v.string(), v.parseJson(), backupSchema);

export interface BackupOptions {
  readonly signal?: AbortSignal;
}

/**
 * The stored account key as an encrypted backup text. Takes about a second
 * on a phone (the key derivation is deliberately slow).
 * Throws {@link NoAccountKeyError} when there is no key yet, and
 * {@link CryptoUnavailableError} on an origin without SubtleCrypto.
 */
export async function exportBackup(db: AcnDb, passphrase: string, options: BackupOptions = {}): Promise<string> {
  if (passphrase.length === 0) throw new TypeError('the passphrase must not be empty');
  const subtle = requireSubtle();
  options.signal?.throwIfAborted();
  const { account, seed } = await readAccountSeed(db);
  try {
    const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const key = await passphraseKey(subtle, passphrase, salt, BACKUP_PBKDF2_ITERATIONS, 'encrypt');
    options.signal?.throwIfAborted();
    const ciphertext = new Uint8Array(
      await subtle.encrypt(aesParams(iv, account), key, seed as Uint8Array<ArrayBuffer>),
    );
    return JSON.stringify({
      v: BACKUP_VERSION,
      account,
      kdf: {
        name: 'PBKDF2',
        hash: 'SHA-256',
        iterations: BACKUP_PBKDF2_ITERATIONS,
        salt: toBase64Url(salt),
      },
      iv: toBase64Url(iv),
      ciphertext: toBase64Url(ciphertext),
    });
  } finally {
    seed.fill(0);
  }
}

/**
 * Restores the account key from a backup, replacing the key stored on this
 * device, and returns it. Everything is checked before anything is written:
 * on {@link BackupFormatError} (not a backup) or {@link BackupPassphraseError}
 * (wrong passphrase, or an altered backup) the stored key is left as it was.
 */
export async function importBackup(
  db: AcnDb,
  text: string,
  passphrase: string,
  options: BackupOptions & Pick<AccountKeyOptions, 'webCrypto'> = {},
): Promise<AccountKey> {
  const subtle = requireSubtle();
  const backup = parseBackup(text);
  options.signal?.throwIfAborted();
  const key = await passphraseKey(subtle, passphrase, backup.kdf.salt, backup.kdf.iterations, 'decrypt');
  options.signal?.throwIfAborted();
  let seed: Uint8Array;
  try {
    seed = new Uint8Array(
      await subtle.decrypt(aesParams(backup.iv, backup.account), key, backup.ciphertext as Uint8Array<ArrayBuffer>),
    );
  } catch {
    throw new BackupPassphraseError('the passphrase is wrong, or the backup was altered');
  }
  try {
    // Only someone who knew the passphrase could get here with a seed of another account.
    if (createNobleSigner(seed).accountId !== backup.account) {
      throw new BackupFormatError('the backup’s key is not the account it names');
    }
    const record = await recordFromSeed(seed, options);
    options.signal?.throwIfAborted();
    return await replaceAccountKey(db, record);
  } finally {
    seed.fill(0);
  }
}

/** The account a backup text names, without decrypting it (to show before asking for the passphrase). */
export function backupAccount(text: string): AccountId {
  return parseBackup(text).account;
}

function parseBackup(text: string): v.InferOutput<typeof backupSchema> {
  let parsed;
  try {
    parsed = v.safeParse(backupTextSchema, text, { abortEarly: true });
  } catch {
    throw new BackupFormatError('this is not an account backup'); // base64url that does not decode
  }
  if (!parsed.success) {
    const issue = parsed.issues[0];
    throw new BackupFormatError(
      `this is not an account backup: ${v.getDotPath(issue) ?? 'text'} ${issue.message}`.trim(),
    );
  }
  return parsed.output;
}

async function passphraseKey(
  subtle: SubtleCrypto,
  passphrase: string,
  salt: Uint8Array,
  iterations: number,
  usage: 'encrypt' | 'decrypt',
): Promise<CryptoKey> {
  // NFC: the same passphrase typed on two keyboards can arrive as different code points.
  const secret = utf8ToBytes(passphrase.normalize('NFC'));
  const base = await subtle.importKey('raw', secret, 'PBKDF2', false, ['deriveKey']);
  return subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: salt as Uint8Array<ArrayBuffer>, iterations },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    [usage],
  );
}

function aesParams(iv: Uint8Array, account: AccountId): AesGcmParams {
  return {
    name: 'AES-GCM',
    iv: iv as Uint8Array<ArrayBuffer>,
    additionalData: utf8ToBytes(account),
  };
}

function requireSubtle(): SubtleCrypto {
  const subtle = subtleOrUndefined();
  if (!subtle) throw new CryptoUnavailableError('backups need SubtleCrypto: open the app over https');
  return subtle;
}
