/**
 * The light client's one IndexedDB database, `acn`: its typed schema, its
 * version and the migrations that bring an older database up to it.
 *
 * The page, Web Workers and the service worker all open it, so this file uses
 * nothing but IndexedDB (no `window`, no DOM).
 */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import type { WebCryptoKeyPair } from '#core/identity/webcrypto-signer.ts';
import type { StoredConversation } from './conversations.ts';
import type { OutboxEntry, OutboxState } from './outbox/outbox-store.ts';

export const ACN_DB_NAME = 'acn';

/** A verified block header the light client keeps (see shared/client/sdk/header-store.ts). */
export interface StoredBlockHeader {
  readonly height: number;
  /** The encoded, relay-signed header envelope, exactly as received. */
  readonly header: Uint8Array;
}

// The records of the `keys` and `relay` stores (web/keys/ reads and writes them).

export type AccountKeyKind = 'webcrypto' | 'noble';

/** The seed sealed under the device key; the account id is the AES-GCM additional data. */
export interface DeviceSealedSeed {
  readonly kind: 'device-key';
  /** Non-extractable AES-GCM 256 key. */
  readonly deviceKey: CryptoKey;
  readonly iv: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** The seed as is: only on origins without SubtleCrypto. */
export interface PlainSeed {
  readonly kind: 'plain';
  readonly seed: Uint8Array;
}

/** What the `keys` store holds. */
export interface AccountKeyRecord {
  readonly v: 1;
  readonly kind: AccountKeyKind;
  readonly account: AccountId;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Kind `webcrypto`: the key pair, private key non-extractable. */
  readonly keyPair?: WebCryptoKeyPair;
  readonly seed: DeviceSealedSeed | PlainSeed;
  readonly createdAt: number;
}

/** What the `relay` store holds, by origin. */
export interface RelayPin {
  /** The relay's origin, for example `https://relay.example`. */
  readonly origin: string;
  readonly account: AccountId;
  /** Where the pin came from: a join URL, or the first key the relay presented. */
  readonly source: 'join-url' | 'first-use';
  readonly pinnedAt: number;
}

export interface AcnDbSchema extends DBSchema {
  /** The account key (one record, under `account`). */
  keys: { key: string; value: AccountKeyRecord };
  /** The pinned relay key, by the relay's origin. */
  relay: { key: string; value: RelayPin };
  /** Signed tasks waiting to reach the relay, by task id. */
  outbox: { key: TaskId; value: OutboxEntry; indexes: { state: OutboxState } };
  /** Block headers by height. */
  headers: { key: number; value: StoredBlockHeader };
  /** Small settings (contribution preset, …) by name; values are structured-cloneable. */
  settings: { key: string; value: unknown };
  /** The Chat screen's conversations, by id (bounded: see conversations.ts). */
  conversations: { key: string; value: StoredConversation; indexes: { updatedAt: number } };
}

export type AcnDb = IDBPDatabase<AcnDbSchema>;

type UpgradeTransaction = IDBPTransaction<AcnDbSchema, StoreNames<AcnDbSchema>[], 'versionchange'>;

/**
 * One migration per version: `MIGRATIONS[n]` turns a version-n database into
 * version n+1, so a database of any older version runs each step it missed,
 * in order. Steps are append-only: a released step is never edited, because
 * some device out there already ran it.
 */
const MIGRATIONS: readonly ((db: AcnDb, tx: UpgradeTransaction) => void)[] = [
  // 0 → 1: the first schema.
  (db) => {
    db.createObjectStore('keys');
    db.createObjectStore('relay', { keyPath: 'origin' });
    db.createObjectStore('outbox', { keyPath: 'taskId' }).createIndex('state', 'state');
    db.createObjectStore('headers', { keyPath: 'height' });
    db.createObjectStore('settings');
  },
  // 1 → 2: the Chat screen's conversations, listed and dropped by their last change.
  (db) => {
    db.createObjectStore('conversations', { keyPath: 'id' }).createIndex('updatedAt', 'updatedAt');
  },
];

/** The schema version this code reads and writes. */
export const ACN_DB_VERSION = MIGRATIONS.length;

export interface OpenAcnDbOptions {
  /** Database name. Default {@link ACN_DB_NAME} (tests use their own). */
  readonly name?: string;
  readonly signal?: AbortSignal;
  /**
   * Called when a newer version of the app (another tab, a new service
   * worker) needs this connection closed to upgrade the schema. The
   * connection is closed right after; the caller should reload or reopen.
   * Default: nothing besides closing.
   */
  readonly onVersionChange?: () => void;
}

/** Opens (creating or migrating as needed) the light client's database. */
export async function openAcnDb(options: OpenAcnDbOptions = {}): Promise<AcnDb> {
  options.signal?.throwIfAborted();
  const db = await openDB<AcnDbSchema>(options.name ?? ACN_DB_NAME, ACN_DB_VERSION, {
    upgrade(database, oldVersion, newVersion, tx) {
      for (let version = oldVersion; version < (newVersion ?? ACN_DB_VERSION); version++) {
        const migrate = MIGRATIONS[version];
        if (migrate === undefined) throw new RangeError(`no migration from version ${version}`);
        migrate(database, tx);
      }
    },
    blocking() {
      // Holding on would stall the other context's upgrade forever.
      options.onVersionChange?.();
      db.close();
    },
  });
  if (options.signal?.aborted) {
    db.close();
    options.signal.throwIfAborted();
  }
  return db;
}
