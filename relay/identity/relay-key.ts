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
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { AcnError } from '../../shared/errors.ts';
import type { AccountId } from '../../shared/identity/ids.ts';
import { ED25519_SECRET_KEY_BYTES, type Signer } from '../../shared/identity/signer.ts';
import { createNodeSigner } from '../crypto/node-signer.ts';

/** The file name of the relay key inside the data directory. */
export const RELAY_KEY_FILE = 'relay.key';
const KEY_PATTERN = /^([0-9a-f]{64})\r?\n?$/;
const OWNER_ONLY = 0o600;

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
  let seed = await readSeed(path);
  let created = false;
  if (seed === undefined) {
    const fresh = new Uint8Array(randomBytes(ED25519_SECRET_KEY_BYTES));
    // Another process may create the file at the same moment; whichever link wins is the key.
    created = await writeExclusive(path, `${Buffer.from(fresh).toString('hex')}\n`);
    seed = created ? fresh : await readSeed(path);
    if (seed === undefined) throw new MalformedRelayKeyError(path);
  }
  return relayKeyFromSeed(seed, path, created);
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

async function readSeed(path: string): Promise<Uint8Array | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'latin1');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const match = KEY_PATTERN.exec(text);
  if (match === null) throw new MalformedRelayKeyError(path);
  // A key file others can read is tightened rather than refused: the key is still ours.
  if (((await stat(path)).mode & 0o077) !== 0) await chmod(path, OWNER_ONLY);
  return new Uint8Array(Buffer.from(match[1] as string, 'hex'));
}

/** Writes `text` to `path` only if nothing is there; false if another writer got there first. */
async function writeExclusive(path: string, text: string): Promise<boolean> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', OWNER_ONLY);
  try {
    await handle.writeFile(text, 'latin1');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary);
  }
}
