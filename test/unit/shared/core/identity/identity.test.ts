import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import rfc8032 from '#vectors/ed25519-rfc8032.json';
import {
  accountIdFromPublicKey,
  AcnError,
  createNobleSigner,
  ED25519_PUBLIC_KEY_BYTES,
  formatAccountId,
  formatHash,
  hashFromBytes,
  InvalidIdError,
  parseAccountId,
  parseBlockHash,
  parseHash,
  parseModelId,
  parseTaskId,
  parseTxId,
  publicKeyOfAccount,
  type AccountId,
} from '#core/index.ts';
import { hex, signerFor, unhex } from '#test/network.ts';
import { expectError } from '#test/values.ts';

/** The PeerId string of a raw Ed25519 key, computed by libp2p alone. */
function libp2pId(publicKey: Uint8Array): string {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey)).toString();
}

/** A fresh Ed25519 key no cache has seen. */
function freshKey(): Uint8Array {
  return ed25519.getPublicKey(ed25519.utils.randomSecretKey());
}

describe('account ids', () => {
  it('are the libp2p PeerId strings of the RFC 8032 keys', () => {
    for (const vector of rfc8032.valid) {
      const key = unhex(vector.publicKey);
      const id = accountIdFromPublicKey(key);
      expect(id).toBe(libp2pId(key));
      expect(id).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/);
    }
  });

  it('match keys made by @libp2p/crypto', async () => {
    for (let i = 0; i < 3; i++) {
      const privateKey = await generateKeyPair('Ed25519');
      const expected = peerIdFromPublicKey(privateKey.publicKey).toString();
      expect(accountIdFromPublicKey(privateKey.publicKey.raw)).toBe(expected);
      expect(parseAccountId(expected)).toEqual({ ok: true, value: expected });
      expect(hex(publicKeyOfAccount(expected as AccountId))).toBe(hex(privateKey.publicKey.raw));
    }
  });

  it('a signer reports the account id of its public key', () => {
    const signer = signerFor('alice');
    expect(signer.accountId).toBe(libp2pId(signer.publicKey));
    const again = createNobleSigner(signer.secretKey);
    expect(again.accountId).toBe(signer.accountId);
  });

  it('round-trip key -> id -> key for random keys (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        const key = ed25519.getPublicKey(seed);
        const id = accountIdFromPublicKey(key);
        expect(id).toBe(libp2pId(key));
        const parsed = parseAccountId(id);
        expect(parsed.ok).toBe(true);
        expect(hex(publicKeyOfAccount(id))).toBe(hex(key));
      }),
      { numRuns: 100 },
    );
  });

  it('round-trips ids first seen as text (not yet cached)', () => {
    for (let i = 0; i < 5; i++) {
      const key = freshKey();
      const id = libp2pId(key);
      // publicKeyOfAccount straight from the string, then parse, then derive.
      expect(hex(publicKeyOfAccount(id as AccountId))).toBe(hex(key));
      const other = freshKey();
      const otherId = libp2pId(other);
      expect(parseAccountId(otherId)).toEqual({ ok: true, value: otherId });
      expect(hex(publicKeyOfAccount(otherId as AccountId))).toBe(hex(other));
      expect(accountIdFromPublicKey(other)).toBe(otherId);
    }
  });

  it('stay correct after the memo cache fills and is cleared', () => {
    const keys = Array.from({ length: 4200 }, (_, i) => {
      const key = new Uint8Array(32);
      new DataView(key.buffer).setUint32(0, i + 1);
      key[31] = 0x42;
      return key;
    });
    const ids = keys.map((key) => accountIdFromPublicKey(key));
    for (const i of [0, 1, 4095, 4096, 4097, 4199]) {
      const key = keys[i] as Uint8Array;
      expect(ids[i]).toBe(libp2pId(key));
      expect(hex(publicKeyOfAccount(ids[i] as AccountId))).toBe(hex(key));
      expect(parseAccountId(ids[i]).ok).toBe(true);
    }
    expect(new Set(ids).size).toBe(keys.length);
  });

  it('formatAccountId is the id itself', () => {
    const id = signerFor('alice').accountId;
    expect(formatAccountId(id)).toBe(id);
  });

  it('a key that is not 32 bytes has no account id', () => {
    expect(ED25519_PUBLIC_KEY_BYTES).toBe(32);
    for (const length of [0, 31, 33, 64]) {
      expect(() => accountIdFromPublicKey(new Uint8Array(length))).toThrow(InvalidIdError);
    }
  });
});

describe('parseAccountId refuses', () => {
  const id = signerFor('alice').accountId;

  it('junk', () => {
    const junk: unknown[] = [
      '',
      ' ',
      'abc',
      '12D3KooW',
      'Qm',
      id.slice(0, -1),
      `${id}1`,
      ` ${id}`,
      `${id} `,
      `${id}\n`,
      id.replace(/^1/, 'l'),
      'x'.repeat(65),
      `${id}${id}`,
      'f'.repeat(64),
      '0'.repeat(52),
      undefined,
      null,
      5,
      {},
      [],
      unhex(rfc8032.valid[0]?.publicKey ?? ''),
      { toString: () => id },
    ];
    for (const value of junk) {
      const error = expectError(parseAccountId(value), 'InvalidIdError', 'invalid-id');
      expect(error).toBeInstanceOf(InvalidIdError);
      expect(error).toBeInstanceOf(AcnError);
    }
  });

  it('the CIDv1 form of an Ed25519 PeerId (only the canonical base58 form is an account)', () => {
    const key = freshKey();
    const cid = peerIdFromPublicKey(publicKeyFromRaw(key)).toCID().toString();
    expect(cid).toMatch(/^b/);
    expectError(parseAccountId(cid), 'InvalidIdError', 'invalid-id');
  });

  it('a secp256k1 PeerId', async () => {
    // Built deterministically from a fixed secret, and from a key libp2p generates.
    const compressed = secp256k1.getPublicKey(unhex('01'.repeat(32)), true);
    const fixed = peerIdFromPublicKey(publicKeyFromRaw(compressed));
    expect(fixed.type).toBe('secp256k1');
    const generated = peerIdFromPublicKey((await generateKeyPair('secp256k1')).publicKey);
    for (const peerId of [fixed, generated]) {
      expectError(parseAccountId(peerId.toString()), 'InvalidIdError', 'invalid-id');
      expect(() => publicKeyOfAccount(peerId.toString() as AccountId)).toThrow(InvalidIdError);
    }
  });

  it('an RSA PeerId', async () => {
    const rsa = await generateKeyPair('RSA', 1024);
    const peerId = peerIdFromPublicKey(rsa.publicKey);
    expect(peerId.type).toBe('RSA');
    expect(peerId.toString()).toMatch(/^Qm/);
    expectError(parseAccountId(peerId.toString()), 'InvalidIdError', 'invalid-id');
    expect(() => publicKeyOfAccount(peerId.toString() as AccountId)).toThrow(InvalidIdError);
  });

  it('random strings (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), (text) => {
        const result = parseAccountId(text);
        if (result.ok) expect(libp2pId(publicKeyOfAccount(result.value))).toBe(text);
        else expect(result.error).toBeInstanceOf(InvalidIdError);
      }),
      { numRuns: 300 },
    );
  });
});

describe('hashes', () => {
  const digest = hex(new Uint8Array(32).map((_, i) => i * 7));

  it('parse 64 lower-case hex characters', () => {
    for (const parse of [parseHash, parseTaskId, parseTxId, parseBlockHash, parseModelId]) {
      expect(parse(digest)).toEqual({ ok: true, value: digest });
      expect(parse('0'.repeat(64)).ok).toBe(true);
      expect(parse('f'.repeat(64)).ok).toBe(true);
    }
    const parsed = parseHash(digest);
    if (parsed.ok) expect(formatHash(parsed.value)).toBe(digest);
  });

  it('refuse anything else', () => {
    const junk: unknown[] = [
      '',
      digest.slice(1),
      `${digest}0`,
      digest.toUpperCase(),
      `A${digest.slice(1)}`,
      `g${digest.slice(1)}`,
      ` ${digest.slice(1)}`,
      `${digest}\n`,
      `0x${digest.slice(2)}`,
      undefined,
      null,
      5,
      unhex(digest),
      [digest],
    ];
    for (const value of junk) {
      for (const parse of [parseHash, parseTaskId, parseTxId, parseBlockHash, parseModelId]) {
        expectError(parse(value), 'InvalidIdError', 'invalid-id');
      }
    }
  });

  it('come from exactly 32 raw bytes', () => {
    expect(hashFromBytes(unhex(digest))).toBe(digest);
    for (const length of [0, 31, 33]) expect(() => hashFromBytes(new Uint8Array(length))).toThrow(InvalidIdError);
  });
});
