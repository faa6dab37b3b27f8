/**
 * Account key files, one format for the relay key, the worker's key and
 * `acn keygen`'s: the 32-byte Ed25519 seed (RFC 8032) as 64 lower-case hex
 * characters and a newline, mode 0600 in a directory made 0700. A new file is
 * written under a temporary name, synced, then linked into place, so a crash
 * never leaves half a key and two processes creating it at once agree on one.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

const KEY_PATTERN = /^([0-9a-f]{64})\r?\n?$/;
const SEED_BYTES = 32;
const OWNER_ONLY = 0o600;

export type KeyFileErrorCode = 'bad-key' | 'key-permissions';

/** A key file that holds something else, or that other users can read. */
export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
  readonly code: KeyFileErrorCode;
  readonly path: string;
  constructor(code: KeyFileErrorCode, path: string, message: string) {
    super(message);
    this.code = code;
    this.path = path;
  }
}

/**
 * What to do with a key file other users can read: refuse it, as ssh does
 * (a user's key), or tighten it to 0600 (the relay's own key, which must not
 * keep a relay from starting).
 */
export type LooseKeyFile = 'refuse' | 'tighten';

/** The seed in `path`, or undefined when there is no file. Throws {@link KeyFileError}. */
export async function readKeyFile(path: string, loose: LooseKeyFile): Promise<Uint8Array | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'latin1');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const mode = (await stat(path)).mode;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    if (loose === 'tighten') await chmod(path, OWNER_ONLY);
    else {
      throw new KeyFileError(
        'key-permissions',
        path,
        `${path} can be read by other users (mode ${(mode & 0o777).toString(8)}); run \`chmod 600 ${path}\` first`,
      );
    }
  }
  const hex = KEY_PATTERN.exec(text)?.[1];
  if (hex === undefined) {
    throw new KeyFileError('bad-key', path, `${path} is not an account key (64 lower-case hex characters)`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Writes a fresh key to `path` if nothing is there: its seed, or undefined when a file was already there. */
export async function createKeyFile(path: string): Promise<Uint8Array | undefined> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const seed = new Uint8Array(randomBytes(SEED_BYTES));
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', OWNER_ONLY);
  try {
    await handle.writeFile(`${Buffer.from(seed).toString('hex')}\n`, 'latin1');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, path);
    await chmod(path, OWNER_ONLY); // in case a umask or filesystem widened it
    return seed;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw error;
  } finally {
    await unlink(temporary);
  }
}

/** The key in `path`, created there when missing; `created` tells whether this call made it. */
export async function loadOrCreateKeyFile(
  path: string,
  loose: LooseKeyFile,
): Promise<{ readonly seed: Uint8Array; readonly created: boolean }> {
  const existing = await readKeyFile(path, loose);
  if (existing !== undefined) return { seed: existing, created: false };
  const fresh = await createKeyFile(path);
  if (fresh !== undefined) return { seed: fresh, created: true };
  // Another process created it at the same moment: its key is the key.
  const theirs = await readKeyFile(path, loose);
  if (theirs === undefined) throw new KeyFileError('bad-key', path, `${path} vanished while it was being created`);
  return { seed: theirs, created: false };
}
