/**
 * Errors of the device's keys: backups and the pinned relay key. They stay on
 * the device (never cross the wire), so their codes live here rather than in
 * shared/errors.ts; callers tell them apart by `name` or `code`.
 */
import type { AccountId } from '#core/identity/ids.ts';

export type KeyErrorCode =
  | 'backup-passphrase'
  | 'backup-format'
  | 'crypto-unavailable'
  | 'no-account-key'
  | 'account-key-corrupt'
  | 'relay-key-changed'
  | 'invalid-join-url';

/** Base class of the key errors. */
export abstract class KeyError extends Error {
  abstract readonly code: KeyErrorCode;
}

/** The backup's passphrase is wrong, or its encrypted part was altered (AES-GCM cannot tell the two apart). */
export class BackupPassphraseError extends KeyError {
  override readonly name = 'BackupPassphraseError';
  readonly code = 'backup-passphrase';
}

/** The text is not a backup this version can read. */
export class BackupFormatError extends KeyError {
  override readonly name = 'BackupFormatError';
  readonly code = 'backup-format';
}

/** This page has no SubtleCrypto (an `http://` origin other than localhost), so it can neither seal nor back up a key. */
export class CryptoUnavailableError extends KeyError {
  override readonly name = 'CryptoUnavailableError';
  readonly code = 'crypto-unavailable';
}

/** There is no account key on this device yet. */
export class NoAccountKeyError extends KeyError {
  override readonly name = 'NoAccountKeyError';
  readonly code = 'no-account-key';
}

/** The stored account key is damaged (its seed does not give its account). */
export class AccountKeyCorruptError extends KeyError {
  override readonly name = 'AccountKeyCorruptError';
  readonly code = 'account-key-corrupt';
}

/** The relay presented another key than the one pinned for its origin: an impostor, or a relay that lost its key. */
export class RelayKeyChangedError extends KeyError {
  override readonly name = 'RelayKeyChangedError';
  readonly code = 'relay-key-changed';
  readonly origin: string;
  readonly pinned: AccountId;
  readonly presented: AccountId;

  constructor(origin: string, pinned: AccountId, presented: AccountId) {
    super(`the relay at ${origin} presented key ${presented}, but ${pinned} is pinned for it`);
    this.origin = origin;
    this.pinned = pinned;
    this.presented = presented;
  }
}

/** A join URL's `#relay=` fragment does not hold an account id. */
export class InvalidJoinUrlError extends KeyError {
  override readonly name = 'InvalidJoinUrlError';
  readonly code = 'invalid-join-url';
}
