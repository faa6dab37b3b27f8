/**
 * The device's account key in real Chromium: a non-extractable WebCrypto
 * Ed25519 key in IndexedDB (and the noble fallback), its seed sealed under a
 * device key, the encrypted backup round trip and its typed failures, and the
 * relay key pinned from a join URL.
 */
import { deleteDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import { utf8ToBytes } from '#core/encoding/bytes.ts';
import { signEnvelope, verifyEnvelope } from '#core/envelope/envelope.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import { nobleVerifier, webCryptoVerify } from '#core/identity/verifier.ts';
import {
  ACCOUNT_KEY_ID,
  loadAccountKey,
  loadOrCreateAccountKey,
  readAccountSeed,
  type AccountKeyRecord,
} from '#web/keys/account-key.ts';
import { BACKUP_PBKDF2_ITERATIONS, backupAccount, exportBackup, importBackup } from '#web/keys/backup.ts';
import { checkRelayKey, getRelayPin, pinRelayFromJoinUrl } from '#web/keys/relay-pin.ts';
import { openAcnDb, type AcnDb } from '#browser-storage/db.ts';

const opened: AcnDb[] = [];
const names = new Set<string>();

async function freshDb(name = `keys-test-${crypto.randomUUID()}`): Promise<AcnDb> {
  names.add(name);
  const db = await openAcnDb({ name });
  opened.push(db);
  return db;
}

afterEach(async () => {
  for (const db of opened.splice(0)) db.close();
  for (const name of names) await deleteDB(name);
  names.clear();
});

const message = utf8ToBytes('acn test message');

async function storedRecord(db: AcnDb): Promise<AccountKeyRecord> {
  const record = await db.get('keys', ACCOUNT_KEY_ID);
  if (!record) throw new Error('no key stored');
  return record;
}

/** Every byte array reachable in a stored record, to look for the seed in it. */
function byteArraysIn(value: unknown): Uint8Array[] {
  if (value instanceof Uint8Array) return [value];
  if (typeof value !== 'object' || value === null || value instanceof CryptoKey) return [];
  return Object.values(value).flatMap(byteArraysIn);
}

function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

describe('account key', () => {
  it('creates a non-extractable WebCrypto key whose signatures verify, and keeps it across a reopen', async () => {
    const name = `keys-test-${crypto.randomUUID()}`;
    const db = await freshDb(name);
    const key = await loadOrCreateAccountKey(db);
    expect(key.kind).toBe('webcrypto');
    expect(key.account).toBe(key.signer.accountId);
    expect(key.account).toMatch(/^12D3KooW/);

    const signature = await key.signer.sign(message);
    expect(nobleVerifier.verify(signature, message, key.publicKey)).toBe(true);
    expect(await webCryptoVerify(signature, message, key.publicKey)).toBe(true);
    const envelope = await signEnvelope(key.signer, 'task', { hello: 'world' });
    expect(verifyEnvelope(envelope, nobleVerifier)).toBe(true);

    const record = await storedRecord(db);
    const privateKey = record.keyPair?.privateKey as CryptoKey;
    expect(privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('pkcs8', privateKey)).rejects.toMatchObject({ name: 'InvalidAccessError' });
    await expect(crypto.subtle.exportKey('jwk', privateKey)).rejects.toMatchObject({ name: 'InvalidAccessError' });
    expect(record.seed.kind).toBe('device-key');
    if (record.seed.kind !== 'device-key') return;
    expect(record.seed.deviceKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('raw', record.seed.deviceKey)).rejects.toMatchObject({
      name: 'InvalidAccessError',
    });
    // The seed sits nowhere in storage in plaintext.
    const { seed } = await readAccountSeed(db);
    expect(seed).toHaveLength(32);
    for (const bytes of byteArraysIn(record)) expect(containsBytes(bytes, seed)).toBe(false);

    db.close();
    const again = await freshDb(name);
    const reloaded = await loadOrCreateAccountKey(again);
    expect(reloaded.account).toBe(key.account);
    expect(reloaded.kind).toBe('webcrypto');
    // Ed25519 is deterministic: the same key gives the same signature.
    expect(await reloaded.signer.sign(message)).toEqual(signature);
  });

  it('falls back to a noble signer, its seed still sealed, and keeps it across a reopen', async () => {
    const name = `keys-test-${crypto.randomUUID()}`;
    const db = await freshDb(name);
    const key = await loadOrCreateAccountKey(db, { webCrypto: false });
    expect(key.kind).toBe('noble');
    expect('secretKey' in key.signer).toBe(false);
    const signature = await key.signer.sign(message);
    expect(nobleVerifier.verify(signature, message, key.publicKey)).toBe(true);
    const record = await storedRecord(db);
    expect(record.keyPair).toBeUndefined();
    expect(record.seed.kind).toBe('device-key');
    db.close();

    const reloaded = await loadOrCreateAccountKey(await freshDb(name));
    expect(reloaded.kind).toBe('noble');
    expect(reloaded.account).toBe(key.account);
    expect(await reloaded.signer.sign(message)).toEqual(signature);
  });

  it('still has an account on an origin without SubtleCrypto (plain http on a LAN), but no backup', async () => {
    const name = `keys-test-${crypto.randomUUID()}`;
    const db = await freshDb(name);
    // What an insecure context looks like: crypto.getRandomValues, and no crypto.subtle.
    Object.defineProperty(crypto, 'subtle', { value: undefined, configurable: true });
    try {
      const key = await loadOrCreateAccountKey(db);
      expect(key.kind).toBe('noble');
      expect(nobleVerifier.verify(await key.signer.sign(message), message, key.publicKey)).toBe(true);
      expect((await storedRecord(db)).seed.kind).toBe('plain');
      expect((await loadOrCreateAccountKey(db)).account).toBe(key.account);
      await expect(exportBackup(db, 'passphrase')).rejects.toMatchObject({
        name: 'CryptoUnavailableError',
        code: 'crypto-unavailable',
      });
    } finally {
      Reflect.deleteProperty(crypto, 'subtle');
    }
    expect(crypto.subtle).toBeDefined();
  });

  it('gives two connections creating a key at once the same key', async () => {
    const name = `keys-test-${crypto.randomUUID()}`;
    const [a, b] = await Promise.all([freshDb(name), freshDb(name)]);
    const [first, second] = await Promise.all([loadOrCreateAccountKey(a), loadOrCreateAccountKey(b)]);
    expect(first.account).toBe(second.account);
    expect(await first.signer.sign(message)).toEqual(await second.signer.sign(message));
    expect((await loadAccountKey(a))?.account).toBe(first.account);
  });

  it('has no key before one is created', async () => {
    const db = await freshDb();
    expect(await loadAccountKey(db)).toBeUndefined();
    await expect(exportBackup(db, 'passphrase')).rejects.toMatchObject({
      name: 'NoAccountKeyError',
      code: 'no-account-key',
    });
  });
});

describe('backup', () => {
  it('exports a versioned PBKDF2 + AES-GCM backup that restores the same account and signatures', async () => {
    const source = await freshDb();
    const key = await loadOrCreateAccountKey(source);
    const signature = await key.signer.sign(message);
    const started = performance.now();
    const text = await exportBackup(source, 'correct horse battery staple');
    console.info(`backup export: ${(performance.now() - started).toFixed(0)} ms`);

    const backup = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(backup).sort()).toEqual(['account', 'ciphertext', 'iv', 'kdf', 'v']);
    expect(backup).toMatchObject({
      v: 1,
      account: key.account,
      kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: BACKUP_PBKDF2_ITERATIONS },
    });
    expect(BACKUP_PBKDF2_ITERATIONS).toBeGreaterThanOrEqual(600_000);
    expect(backupAccount(text)).toBe(key.account);

    const target = await freshDb();
    const importStarted = performance.now();
    const restored = await importBackup(target, text, 'correct horse battery staple');
    console.info(`backup import: ${(performance.now() - importStarted).toFixed(0)} ms`);
    expect(restored.account).toBe(key.account);
    expect(restored.kind).toBe('webcrypto');
    expect(await restored.signer.sign(message)).toEqual(signature);
    const reloaded = await loadAccountKey(target);
    expect(reloaded?.account).toBe(key.account);
    expect(await reloaded?.signer.sign(message)).toEqual(signature);
    // The restored key is as protected as a created one.
    const record = await storedRecord(target);
    expect(record.keyPair?.privateKey.extractable).toBe(false);
    expect(record.seed.kind).toBe('device-key');
  });

  it('replaces the key already on the device', async () => {
    const source = await freshDb();
    const key = await loadOrCreateAccountKey(source, { webCrypto: false });
    const text = await exportBackup(source, 'pass phrase');
    const target = await freshDb();
    const other = await loadOrCreateAccountKey(target);
    expect(other.account).not.toBe(key.account);
    const restored = await importBackup(target, text, 'pass phrase');
    expect(restored.account).toBe(key.account);
    expect((await loadOrCreateAccountKey(target)).account).toBe(key.account);
  });

  it('refuses a wrong passphrase and an altered backup with typed errors, changing nothing', async () => {
    const source = await freshDb();
    const key = await loadOrCreateAccountKey(source);
    const text = await exportBackup(source, 'the right one');
    const target = await freshDb();
    const existing = await loadOrCreateAccountKey(target);
    const before = await storedRecord(target);

    const backup = JSON.parse(text) as { account: string; ciphertext: string; iv: string };
    const flip = (s: string) => (s.startsWith('A') ? 'B' : 'A') + s.slice(1);
    const attempts: [string, string, string][] = [
      [text, 'the wrong one', 'BackupPassphraseError'],
      [JSON.stringify({ ...backup, ciphertext: flip(backup.ciphertext) }), 'the right one', 'BackupPassphraseError'],
      [JSON.stringify({ ...backup, iv: flip(backup.iv) }), 'the right one', 'BackupPassphraseError'],
      // Another real account id: the account is the AES-GCM additional data.
      [
        JSON.stringify({ ...backup, account: generateNobleSigner().accountId }),
        'the right one',
        'BackupPassphraseError',
      ],
      ['not json', 'the right one', 'BackupFormatError'],
      ['{}', 'the right one', 'BackupFormatError'],
      [JSON.stringify({ ...backup, v: 2 }), 'the right one', 'BackupFormatError'],
      [JSON.stringify({ ...backup, extra: 1 }), 'the right one', 'BackupFormatError'],
      [JSON.stringify({ ...backup, account: 'not-an-account' }), 'the right one', 'BackupFormatError'],
      [JSON.stringify({ ...backup, ciphertext: backup.ciphertext.slice(4) }), 'the right one', 'BackupFormatError'],
      [JSON.stringify({ ...backup, iv: '!!!!' }), 'the right one', 'BackupFormatError'],
      [
        JSON.stringify({
          ...backup,
          kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: 1000, salt: 'AAAAAAAAAAAAAAAAAAAAAA' },
        }),
        'the right one',
        'BackupFormatError',
      ],
    ];
    for (const [attempt, passphrase, name] of attempts) {
      const code = name === 'BackupPassphraseError' ? 'backup-passphrase' : 'backup-format';
      await expect(importBackup(target, attempt, passphrase), attempt).rejects.toMatchObject({ name, code });
    }
    const after = await storedRecord(target);
    expect(after.account).toBe(existing.account);
    expect(after.createdAt).toBe(before.createdAt);
    expect(after.seed).toEqual(before.seed);
    expect((await loadAccountKey(target))?.account).toBe(existing.account);
    // The right passphrase still works afterwards.
    expect((await importBackup(target, text, 'the right one')).account).toBe(key.account);
  });
});

describe('relay pin', () => {
  const relay = generateNobleSigner().accountId;
  const impostor = generateNobleSigner().accountId;
  const origin = 'https://relay.example:8443';

  it('pins the relay named in a join URL and refuses another key for its origin', async () => {
    const db = await freshDb();
    // The format relay/run.ts joinUrl prints.
    const pin = await pinRelayFromJoinUrl(db, `${origin}/#relay=${relay}`);
    expect(pin).toMatchObject({ origin, account: relay, source: 'join-url' });
    expect(await checkRelayKey(db, relay, { origin })).toMatchObject({ account: relay });
    await expect(checkRelayKey(db, impostor, { origin })).rejects.toMatchObject({
      name: 'RelayKeyChangedError',
      code: 'relay-key-changed',
      pinned: relay,
      presented: impostor,
    });
    // A join URL naming another key does not silently replace the pin.
    await expect(pinRelayFromJoinUrl(db, `${origin}/#relay=${impostor}`)).rejects.toMatchObject({
      name: 'RelayKeyChangedError',
    });
    expect((await getRelayPin(db, { origin }))?.account).toBe(relay);
    // Opening the same join URL again keeps the pin as it was.
    expect(await pinRelayFromJoinUrl(db, `${origin}/#relay=${relay}`)).toEqual(pin);
    // Unless the user confirms the new key.
    await pinRelayFromJoinUrl(db, `${origin}/#relay=${impostor}`, { replace: true });
    expect((await getRelayPin(db, { origin }))?.account).toBe(impostor);
  });

  it('trusts the first key seen when there is no join URL, then holds to it', async () => {
    const db = await freshDb();
    expect(await getRelayPin(db)).toBeUndefined();
    const pin = await checkRelayKey(db, relay);
    expect(pin).toMatchObject({ origin: location.origin, account: relay, source: 'first-use' });
    await expect(checkRelayKey(db, impostor)).rejects.toMatchObject({ name: 'RelayKeyChangedError' });
    // Pins are per origin.
    expect(await checkRelayKey(db, impostor, { origin })).toMatchObject({ account: impostor });
  });

  it('ignores URLs without a relay fragment and refuses a malformed one', async () => {
    const db = await freshDb();
    expect(await pinRelayFromJoinUrl(db, `${origin}/`)).toBeUndefined();
    expect(await pinRelayFromJoinUrl(db, `${origin}/#other=1`)).toBeUndefined();
    await expect(pinRelayFromJoinUrl(db, `${origin}/#relay=nope`)).rejects.toMatchObject({
      name: 'InvalidJoinUrlError',
      code: 'invalid-join-url',
    });
    await expect(pinRelayFromJoinUrl(db, 'not a url')).rejects.toMatchObject({ name: 'InvalidJoinUrlError' });
    expect(await getRelayPin(db, { origin })).toBeUndefined();
  });
});
