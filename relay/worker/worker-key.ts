/**
 * The worker's account key: one Ed25519 key that is its ledger account (where
 * it is paid and stakes), the signer of its adverts and receipts, and its
 * libp2p PeerId. The file format is `acn keygen`'s: 64 lower-case hex
 * characters (the RFC 8032 seed) and a newline, mode 0600, so one key works
 * with both commands.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import type { AccountId } from '../../shared/identity/ids.ts';
import { ED25519_SECRET_KEY_BYTES, type Signer } from '../../shared/identity/signer.ts';
import { createNodeSigner } from '../crypto/node-signer.ts';
import { WorkerKeyError } from './errors.ts';

const KEY_PATTERN = /^([0-9a-f]{64})\r?\n?$/;
const OWNER_ONLY = 0o600;

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
 * 0700) when nothing is there. Throws {@link WorkerKeyError} when the file
 * holds something else, or when other users can read it (as ssh does: the
 * key holds the account's tokens).
 */
export async function loadOrCreateWorkerKey(path: string): Promise<WorkerKey> {
  let seed = await readSeed(path);
  let created = false;
  if (seed === undefined) {
    const fresh = new Uint8Array(randomBytes(ED25519_SECRET_KEY_BYTES));
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // Another process may create the file at the same moment; whichever link wins is the key.
    created = await writeExclusive(path, `${Buffer.from(fresh).toString('hex')}\n`);
    seed = created ? fresh : await readSeed(path);
    if (seed === undefined) throw new WorkerKeyError('bad-key', `${path} vanished while it was being created`);
  }
  const signer = createNodeSigner(seed);
  const privateKey = await generateKeyPairFromSeed('Ed25519', seed);
  return { signer, privateKey, accountId: signer.accountId, path, created };
}

async function readSeed(path: string): Promise<Uint8Array | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'latin1');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const mode = (await stat(path)).mode;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new WorkerKeyError(
      'key-permissions',
      `${path} can be read by other users (mode ${(mode & 0o777).toString(8)}); run \`chmod 600 ${path}\` first`,
    );
  }
  const match = KEY_PATTERN.exec(text);
  if (match?.[1] === undefined) {
    throw new WorkerKeyError('bad-key', `${path} is not an account key (64 lower-case hex characters)`);
  }
  return new Uint8Array(Buffer.from(match[1], 'hex'));
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
    await chmod(path, OWNER_ONLY); // in case a umask or filesystem widened it
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary);
  }
}
