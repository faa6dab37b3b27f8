/** The relay's persisted identity and its node:crypto signer. */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeSigner } from '#node/crypto/node-signer.ts';
import {
  loadOrCreateRelayKey,
  MalformedRelayKeyError,
  RELAY_KEY_FILE,
  relayKeyFromSeed,
} from '#server/identity/relay-key.ts';
import { accountIdFromPublicKey, createNobleSigner, nobleVerifier } from '#core/index.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'acn-relay-key-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('relay key', () => {
  it('is created once, owner-only, in a new data directory, and loaded again unchanged', async () => {
    const dataDir = join(root, 'fresh', 'nested');
    const first = await loadOrCreateRelayKey(dataDir);
    expect(first.created).toBe(true);
    expect((await stat(first.path)).mode & 0o777).toBe(0o600);
    expect((await stat(dataDir)).mode & 0o077).toBe(0);
    expect(await readFile(first.path, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);

    const again = await loadOrCreateRelayKey(dataDir);
    expect(again.created).toBe(false);
    expect(again.seed).toEqual(first.seed);
    expect(again.accountId).toBe(first.accountId);
  });

  it('gives one identity: PeerId = ledger account id = noble and node signers', async () => {
    const key = await loadOrCreateRelayKey(join(root, 'identity'));
    const peerId = peerIdFromPrivateKey(key.privateKey).toString();
    expect(peerId).toBe(key.accountId);
    expect(peerId).toBe(accountIdFromPublicKey(key.signer.publicKey));
    expect(peerId).toBe(createNobleSigner(key.seed).accountId);
    expect(key.privateKey.publicKey.raw).toEqual(key.signer.publicKey);
  });

  it('refuses a malformed key file and leaves it in place', async () => {
    const dataDir = join(root, 'malformed');
    await loadOrCreateRelayKey(dataDir);
    const path = join(dataDir, RELAY_KEY_FILE);
    for (const text of ['', 'not a key\n', 'AB'.repeat(32), '00'.repeat(31), `${'00'.repeat(32)}\nextra`]) {
      await writeFile(path, text);
      const attempt = loadOrCreateRelayKey(dataDir);
      await expect(attempt).rejects.toBeInstanceOf(MalformedRelayKeyError);
      await expect(attempt).rejects.toMatchObject({ code: 'malformed-encoding', path });
      expect(await readFile(path, 'utf8')).toBe(text);
    }
  });

  it('tightens a key file others can read', async () => {
    const dataDir = join(root, 'loose');
    const key = await loadOrCreateRelayKey(dataDir);
    await chmod(key.path, 0o644);
    await loadOrCreateRelayKey(dataDir);
    expect((await stat(key.path)).mode & 0o777).toBe(0o600);
  });

  it('agrees when two processes create it at once', async () => {
    const dataDir = join(root, 'race');
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateRelayKey(dataDir)));
    expect(new Set(keys.map((k) => k.accountId)).size).toBe(1);
    expect(keys.filter((k) => k.created)).toHaveLength(1);
  });
});

describe('node:crypto signer', () => {
  it('signs exactly as the noble signer does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 300 }),
        async (seed, message) => {
          const node = createNodeSigner(seed);
          const noble = createNobleSigner(seed);
          expect(node.publicKey).toEqual(noble.publicKey);
          expect(node.accountId).toBe(noble.accountId);
          const signature = await node.sign(message);
          expect(signature).toEqual(await noble.sign(message));
          expect(nobleVerifier.verify(signature, message, node.publicKey)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('rejects a seed that is not 32 bytes', async () => {
    expect(() => createNodeSigner(new Uint8Array(31))).toThrow(TypeError);
    await expect(relayKeyFromSeed(new Uint8Array(33))).rejects.toThrow(TypeError);
  });
});
