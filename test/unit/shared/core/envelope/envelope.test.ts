import { describe, expect, it } from 'vitest';
import vectors from '#vectors/envelopes.json';
import {
  AcnError,
  BadSignatureError,
  checkFreshness,
  ClockSkewError,
  concatBytes,
  createNobleSigner,
  createWebCryptoSigner,
  decodeCanonical,
  decodeEnvelope,
  decodeReceiptPayload,
  decodeTaskPayload,
  DEFAULT_MAX_AGE_MS,
  DEFAULT_MAX_FUTURE_MS,
  encodeCanonical,
  encodeEnvelope,
  generateWebCryptoKeyPair,
  MAX_ENVELOPE_BYTES,
  MESSAGE_TYPES,
  messageId,
  nobleVerifier,
  openEnvelope,
  readMessage,
  signEnvelope,
  signingBytes,
  transactionDecoders,
  utf8ToBytes,
  verifyEnvelope,
  verifyMessage,
  webCryptoVerify,
  WrongMessageTypeError,
  type Envelope,
  type MessageType,
  type Result,
  type Signer,
} from '#core/index.ts';
import { hex, signerFor, T0, unhex } from '#test/network.ts';
import { expectError, fromJsonValue } from '#test/values.ts';

const alice = signerFor('alice');
const relay = signerFor('relay');

/** A small valid transfer payload. */
const transferPayload = {
  v: 1,
  net: relay.accountId,
  to: signerFor('bob').accountId,
  amount: 5,
  seq: 1,
};

/** The signed bytes, built here from the specification rather than by the module. */
function domainSeparated(type: string, body: Uint8Array): Uint8Array {
  return concatBytes(new TextEncoder().encode(`acn/v1/${type}`), new Uint8Array([0]), body);
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)));
}

/** Encodes a map with its keys in the given order (so possibly not canonical); at most 23 entries. */
function mapInOrder(entries: readonly (readonly [string, unknown])[]): Uint8Array {
  return concatBytes(
    new Uint8Array([0xa0 + entries.length]),
    ...entries.flatMap(([key, value]) => [encodeCanonical(key), encodeCanonical(value)]),
  );
}

/** Signs arbitrary body bytes (canonical or not) as a message of `type`. */
async function signRawBody(signer: Signer, type: MessageType, body: Uint8Array): Promise<Envelope> {
  return { type, body, key: signer.publicKey, sig: await signer.sign(signingBytes(type, body)) };
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
  return copy;
}

const readTransfer = (bytes: Uint8Array) =>
  readMessage(bytes, 'tx/transfer', transactionDecoders['tx/transfer'], nobleVerifier);

describe('sign and verify', () => {
  it('a noble signer round-trips through encode, decode and readMessage', async () => {
    const envelope = await signEnvelope(alice, 'tx/transfer', transferPayload);
    expect(envelope.key).toEqual(alice.publicKey);
    expect(verifyEnvelope(envelope, nobleVerifier)).toBe(true);
    expect(await webCryptoVerify(envelope.sig, domainSeparated('tx/transfer', envelope.body), alice.publicKey)).toBe(
      true,
    );
    const bytes = encodeEnvelope(envelope);
    const decoded = decodeEnvelope(bytes);
    expect(decoded).toEqual({ ok: true, value: envelope });
    const read = readTransfer(bytes);
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    expect(read.value.payload).toEqual(transferPayload);
    expect(read.value.signer).toBe(alice.accountId);
    expect(read.value.id).toBe(messageId(envelope));
    expect(verifyMessage(read.value, nobleVerifier)).toBe(true);
  });

  it('a WebCrypto signer makes envelopes that noble verifies, and the other way round', async () => {
    const pair = await generateWebCryptoKeyPair();
    expect(pair).toBeDefined();
    if (pair === undefined) return;
    const webSigner = await createWebCryptoSigner(pair);
    const envelope = await signEnvelope(webSigner, 'task', { hello: 'world' });
    expect(verifyEnvelope(envelope, nobleVerifier)).toBe(true);
    expect(await webCryptoVerify(envelope.sig, signingBytes('task', envelope.body), webSigner.publicKey)).toBe(true);

    const nobleEnvelope = await signEnvelope(alice, 'task', { hello: 'world' });
    expect(await webCryptoVerify(nobleEnvelope.sig, signingBytes('task', nobleEnvelope.body), alice.publicKey)).toBe(
      true,
    );
    // Same payload, same type, different keys: same body, different signatures and ids.
    expect(hex(envelope.body)).toBe(hex(nobleEnvelope.body));
    expect(messageId(envelope)).not.toBe(messageId(nobleEnvelope));
    expect(verifyEnvelope({ ...envelope, key: alice.publicKey }, nobleVerifier)).toBe(false);
  });

  it('signingBytes is "acn/v1/" + type + 0x00 + body', () => {
    const body = encodeCanonical(transferPayload);
    for (const type of MESSAGE_TYPES) expect(hex(signingBytes(type, body))).toBe(hex(domainSeparated(type, body)));
    expect(() => signingBytes('tx/other' as MessageType, body)).toThrow(TypeError);
  });

  it('no domain tag is a prefix of another', () => {
    const tags = MESSAGE_TYPES.map((type) => hex(signingBytes(type, new Uint8Array(0))));
    for (const a of tags) for (const b of tags) if (a !== b) expect(b.startsWith(a)).toBe(false);
  });

  it('verifyEnvelope never throws on junk', () => {
    const junk: unknown[] = [
      null,
      undefined,
      1,
      'x',
      {},
      { type: 'task' },
      { type: 'task', body: 'x', key: 1, sig: [] },
    ];
    for (const value of junk) expect(verifyEnvelope(value as Envelope, nobleVerifier)).toBe(false);
    const throwing = {
      verify() {
        throw new Error('boom');
      },
    };
    const envelope = {
      type: 'task' as const,
      body: new Uint8Array(1),
      key: new Uint8Array(32),
      sig: new Uint8Array(64),
    };
    expect(verifyEnvelope(envelope, throwing)).toBe(false);
    expect(verifyEnvelope({ ...envelope, type: 'nope' as MessageType }, nobleVerifier)).toBe(false);
  });
});

describe('domain separation', () => {
  it('a signature made for one message type verifies as no other type', async () => {
    const body = encodeCanonical(transferPayload);
    const signed = await Promise.all(MESSAGE_TYPES.map((type) => signRawBody(alice, type, body)));
    for (const envelope of signed) {
      expect(verifyEnvelope(envelope, nobleVerifier)).toBe(true);
      for (const other of MESSAGE_TYPES) {
        if (other === envelope.type) continue;
        const relabelled = { ...envelope, type: other };
        expect(verifyEnvelope(relabelled, nobleVerifier), `${envelope.type} as ${other}`).toBe(false);
        const read = readMessage(encodeEnvelope(relabelled), other, () => ({ ok: true, value: null }), nobleVerifier);
        expectError(read, 'BadSignatureError', 'bad-signature');
      }
    }
  });
});

describe('verification is over the exact received bytes', () => {
  it('flipping any single bit of key or sig, or a bit of any body byte, makes it fail', async () => {
    const envelope = await signEnvelope(alice, 'tx/transfer', transferPayload);
    expect(verifyEnvelope(envelope, nobleVerifier)).toBe(true);
    const cases: ['body' | 'key' | 'sig', number][] = [];
    // Every bit of the key and the signature.
    for (const field of ['key', 'sig'] as const) {
      for (let bit = 0; bit < envelope[field].length * 8; bit++) cases.push([field, bit]);
    }
    // Every byte of the body (a different bit of each; all 8 bits of the first and last bytes).
    const bodyBits = envelope.body.length * 8;
    for (let byte = 0; byte < envelope.body.length; byte++) cases.push(['body', byte * 8 + (byte % 8)]);
    for (let bit = 0; bit < 8; bit++) cases.push(['body', bit], ['body', bodyBits - 8 + bit]);
    for (const [field, bit] of cases) {
      const tampered = { ...envelope, [field]: flipBit(envelope[field], bit) };
      if (verifyEnvelope(tampered, nobleVerifier)) expect.fail(`${field} bit ${bit} flipped still verifies`);
    }
    expect(verifyEnvelope(envelope, nobleVerifier)).toBe(true); // the original was not touched
  });

  it('a body re-encoded differently (same value) does not verify and is refused', async () => {
    // Sign the canonical body, then offer an equivalent non-canonical one with the same signature.
    const envelope = await signEnvelope(alice, 'tx/transfer', transferPayload);
    const reordered = mapInOrder(Object.entries(transferPayload));
    expect(hex(reordered)).not.toBe(hex(envelope.body));
    expect(decodeCanonical(reordered).ok).toBe(false);
    expect(verifyEnvelope({ ...envelope, body: reordered }, nobleVerifier)).toBe(false);
  });

  it('the verifier sees the body bytes as received, never a re-encoding', async () => {
    const envelope = await signEnvelope(alice, 'tx/transfer', transferPayload);
    const seen: string[] = [];
    const spy = {
      verify(sig: Uint8Array, message: Uint8Array, key: Uint8Array) {
        seen.push(hex(message));
        return nobleVerifier.verify(sig, message, key);
      },
    };
    expect(readTransfer(encodeEnvelope(envelope)).ok).toBe(true);
    expect(readMessage(encodeEnvelope(envelope), 'tx/transfer', transactionDecoders['tx/transfer'], spy).ok).toBe(true);
    expect(seen).toEqual([hex(domainSeparated('tx/transfer', envelope.body))]);
  });
});

describe('readMessage errors', () => {
  it('malformed outer bytes', () => {
    for (const bytes of [new Uint8Array(0), unhex('ff'), unhex('a1'), unhex('8000')]) {
      expectError(readTransfer(bytes), 'MalformedEncodingError', 'malformed-encoding');
    }
  });

  it('an envelope that is not a map of exactly type, body, key and sig', async () => {
    const envelope = await signEnvelope(alice, 'tx/transfer', transferPayload);
    const base = { type: envelope.type, body: envelope.body, key: envelope.key, sig: envelope.sig };
    const without = (key: string) => Object.fromEntries(Object.entries(base).filter(([k]) => k !== key));
    const noType = without('type');
    const noSig = without('sig');
    const shapes: unknown[] = [
      [base.type, base.body, base.key, base.sig],
      'envelope',
      7,
      null,
      noType,
      noSig,
      { ...base, extra: 1 },
      { ...base, type: 'tx/unknown' },
      { ...base, type: 7 },
      { ...base, body: 'text' },
      { ...base, key: base.key.subarray(0, 31) },
      { ...base, key: concatBytes(base.key, new Uint8Array(1)) },
      { ...base, sig: base.sig.subarray(0, 63) },
      { ...base, sig: 'sig' },
    ];
    for (const shape of shapes) {
      const bytes = encodeCanonical(shape);
      expectError(readTransfer(bytes), 'MalformedEncodingError', 'malformed-encoding');
      expectError(decodeEnvelope(bytes), 'MalformedEncodingError', 'malformed-encoding');
    }
  });

  it('a non-canonical outer envelope', async () => {
    const envelope = await signEnvelope(alice, 'tx/transfer', transferPayload);
    const bytes = mapInOrder([
      ['type', envelope.type],
      ['body', envelope.body],
      ['key', envelope.key],
      ['sig', envelope.sig],
    ]);
    expectError(readTransfer(bytes), 'NonCanonicalEncodingError', 'non-canonical-encoding');
  });

  it('an envelope over 64 KiB', async () => {
    expect(MAX_ENVELOPE_BYTES).toBe(64 * 1024);
    const big = await signRawBody(alice, 'tx/transfer', encodeCanonical(new Uint8Array(MAX_ENVELOPE_BYTES)));
    expectError(readTransfer(encodeEnvelope(big)), 'TooLargeError', 'too-large');
  });

  it('a message of another type', async () => {
    const bytes = encodeEnvelope(
      await signEnvelope(alice, 'tx/stake', { v: 1, net: relay.accountId, amount: 1, seq: 1 }),
    );
    const error = expectError(readTransfer(bytes), 'WrongMessageTypeError', 'wrong-message-type');
    expect(error).toBeInstanceOf(WrongMessageTypeError);
  });

  it('a bad signature, even when the payload is also invalid', async () => {
    const envelope = await signEnvelope(alice, 'tx/transfer', transferPayload);
    const error = expectError(
      readTransfer(encodeEnvelope({ ...envelope, sig: flipBit(envelope.sig, 0) })),
      'BadSignatureError',
      'bad-signature',
    );
    expect(error).toBeInstanceOf(BadSignatureError);
    const invalid = await signEnvelope(alice, 'tx/transfer', { ...transferPayload, amount: 0 });
    expectError(
      readTransfer(encodeEnvelope({ ...invalid, key: relay.publicKey })),
      'BadSignatureError',
      'bad-signature',
    );
  });

  it('a correctly signed payload that fails its schema', async () => {
    const bytes = encodeEnvelope(await signEnvelope(alice, 'tx/transfer', { ...transferPayload, amount: 0 }));
    expectError(readTransfer(bytes), 'InvalidMessageError', 'invalid-message');
  });

  it('a correctly signed body that is not canonical, or not CBOR, or too large', async () => {
    const unsorted = mapInOrder(Object.entries(transferPayload));
    const cases: [Uint8Array, string, string][] = [
      [unsorted, 'NonCanonicalEncodingError', 'non-canonical-encoding'],
      [
        concatBytes(encodeCanonical(transferPayload), new Uint8Array([0])),
        'MalformedEncodingError',
        'malformed-encoding',
      ],
      [unhex('ff'), 'MalformedEncodingError', 'malformed-encoding'],
      [new Uint8Array(0), 'MalformedEncodingError', 'malformed-encoding'],
    ];
    for (const [body, name, code] of cases) {
      const envelope = await signRawBody(alice, 'tx/transfer', body);
      expect(verifyEnvelope(envelope, nobleVerifier)).toBe(true);
      expectError(readTransfer(encodeEnvelope(envelope)), name, code);
    }
    // openEnvelope applies the same 64 KiB cap to the body on its own.
    const bigBody = encodeCanonical(new Uint8Array(MAX_ENVELOPE_BYTES));
    expectError(
      openEnvelope(
        { type: 'tx/transfer', body: bigBody, key: alice.publicKey, sig: new Uint8Array(64) },
        'tx/transfer',
        transactionDecoders['tx/transfer'],
      ),
      'TooLargeError',
      'too-large',
    );
  });

  it('openEnvelope refuses a type mismatch without looking at the body', () => {
    const envelope: Envelope = { type: 'task', body: unhex('ff'), key: alice.publicKey, sig: new Uint8Array(64) };
    expectError(openEnvelope(envelope, 'receipt', decodeReceiptPayload), 'WrongMessageTypeError', 'wrong-message-type');
  });
});

describe('message ids', () => {
  it('are the SHA-256 of the signing bytes and the signer key, stable across calls', async () => {
    const a = await signEnvelope(alice, 'tx/transfer', transferPayload);
    expect(messageId(a)).toBe(messageId(a));
    expect(messageId(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(messageId(a)).toBe(await sha256Hex(concatBytes(domainSeparated('tx/transfer', a.body), alice.publicKey)));
  });

  it('differ between two signers of the same body (two accounts staking the same amount)', async () => {
    const stake = { v: 1, net: relay.accountId, amount: 100, seq: 1 };
    const a = await signEnvelope(alice, 'tx/stake', stake);
    const b = await signEnvelope(relay, 'tx/stake', stake);
    expect(hex(a.body)).toBe(hex(b.body));
    expect(messageId(a)).not.toBe(messageId(b));
  });

  it('differ for every message type over the same body', () => {
    const body = encodeCanonical(transferPayload);
    const ids = new Set(MESSAGE_TYPES.map((type) => messageId({ type, body, key: alice.publicKey })));
    expect(ids.size).toBe(MESSAGE_TYPES.length);
  });

  it('differ when the payload differs', () => {
    const key = alice.publicKey;
    const a = messageId({ type: 'tx/transfer', body: encodeCanonical(transferPayload), key });
    const b = messageId({ type: 'tx/transfer', body: encodeCanonical({ ...transferPayload, seq: 2 }), key });
    expect(a).not.toBe(b);
  });
});

describe('checkFreshness', () => {
  const now = T0;

  it('has a 2 minute future and 24 hour past window by default', () => {
    expect(DEFAULT_MAX_FUTURE_MS).toBe(120_000);
    expect(DEFAULT_MAX_AGE_MS).toBe(86_400_000);
  });

  it('accepts the edges of the window and refuses one millisecond beyond', () => {
    expect(checkFreshness(now, now)).toEqual({ ok: true, value: now });
    expect(checkFreshness(now + DEFAULT_MAX_FUTURE_MS, now).ok).toBe(true);
    expect(checkFreshness(now - DEFAULT_MAX_AGE_MS, now).ok).toBe(true);
    expectError(checkFreshness(now + DEFAULT_MAX_FUTURE_MS + 1, now), 'ClockSkewError', 'clock-skew');
    expectError(checkFreshness(now - DEFAULT_MAX_AGE_MS - 1, now), 'ClockSkewError', 'clock-skew');
  });

  it('honours a custom window, including a zero-width one', () => {
    const window = { maxFutureMs: 1000, maxAgeMs: 5000 };
    expect(checkFreshness(now + 1000, now, window).ok).toBe(true);
    expect(checkFreshness(now - 5000, now, window).ok).toBe(true);
    expectError(checkFreshness(now + 1001, now, window), 'ClockSkewError', 'clock-skew');
    expectError(checkFreshness(now - 5001, now, window), 'ClockSkewError', 'clock-skew');
    const zero = { maxFutureMs: 0, maxAgeMs: 0 };
    expect(checkFreshness(now, now, zero).ok).toBe(true);
    expectError(checkFreshness(now + 1, now, zero), 'ClockSkewError', 'clock-skew');
    expectError(checkFreshness(now - 1, now, zero), 'ClockSkewError', 'clock-skew');
    // Only the given side changes; the other keeps its default.
    expect(checkFreshness(now + DEFAULT_MAX_FUTURE_MS, now, { maxAgeMs: 0 }).ok).toBe(true);
  });

  it('refuses timestamps that are not safe integers', () => {
    for (const ts of [now + 0.5, NaN, Infinity, -Infinity, 2 ** 53]) {
      const result = checkFreshness(ts, now, { maxFutureMs: Number.MAX_VALUE, maxAgeMs: Number.MAX_VALUE });
      const error = expectError(result, 'ClockSkewError', 'clock-skew');
      expect(error).toBeInstanceOf(ClockSkewError);
    }
  });
});

describe('envelope vectors (RFC 8032 key)', () => {
  const signer = createNobleSigner(unhex(vectors.secretKey));
  const decoders: Record<string, (value: unknown) => Result<unknown>> = {
    task: decodeTaskPayload,
    receipt: decodeReceiptPayload,
    'tx/transfer': transactionDecoders['tx/transfer'],
  };

  it('uses the RFC 8032 TEST 1 key', () => {
    expect(hex(signer.publicKey)).toBe(vectors.publicKey);
    expect(signer.accountId).toBe(vectors.signer);
  });

  for (const vector of vectors.envelopes) {
    const type = vector.type as MessageType;
    const payload = fromJsonValue(vector.payload);

    it(`signing ${vector.name} gives the expected bytes and id`, async () => {
      const envelope = await signEnvelope(signer, type, payload);
      expect(hex(encodeEnvelope(envelope))).toBe(vector.hex);
      expect(messageId(envelope)).toBe(vector.id);
    });

    it(`reading ${vector.name} gives the payload, signer and id`, () => {
      const decoder = decoders[vector.type];
      expect(decoder).toBeDefined();
      if (decoder === undefined) return;
      const read = readMessage(unhex(vector.hex), type, decoder, nobleVerifier);
      expect(read.ok).toBe(true);
      if (!read.ok) return;
      expect(read.value.payload).toEqual(payload);
      expect(read.value.signer).toBe(vectors.signer);
      expect(read.value.id).toBe(vector.id);
    });

    it(`${vector.name} checks out independently (WebCrypto verify and digest)`, async () => {
      const outer = decodeCanonical(unhex(vector.hex));
      expect(outer.ok).toBe(true);
      if (!outer.ok) return;
      const { type: outerType, body, key, sig } = outer.value as Record<string, unknown>;
      expect(outerType).toBe(vector.type);
      if (!(body instanceof Uint8Array && key instanceof Uint8Array && sig instanceof Uint8Array)) {
        expect.fail('body, key and sig must be bytes');
      }
      expect(hex(key)).toBe(vectors.publicKey);
      expect(hex(body)).toBe(hex(encodeCanonical(payload)));
      const signed = domainSeparated(vector.type, body);
      expect(await webCryptoVerify(sig, signed, key)).toBe(true);
      expect(await sha256Hex(concatBytes(signed, key))).toBe(vector.id);
      // The same bytes under another type's domain do not verify.
      expect(await webCryptoVerify(sig, domainSeparated('tx/grant', body), key)).toBe(false);
    });
  }

  it('the receipt refers to the task by its id', () => {
    const [taskVector, receiptVector] = vectors.envelopes;
    expect((receiptVector?.payload as { task?: string }).task).toBe(taskVector?.id);
  });

  it('keeps its domain strings stable', () => {
    expect(hex(signingBytes('tx/transfer', new Uint8Array(0)))).toBe(hex(utf8ToBytes('acn/v1/tx/transfer\0')));
  });
});

describe('errors', () => {
  it('are AcnErrors with stable names and codes', () => {
    const errors: AcnError[] = [new BadSignatureError('x'), new WrongMessageTypeError('x'), new ClockSkewError('x')];
    expect(errors.map((e) => [e.name, e.code])).toEqual([
      ['BadSignatureError', 'bad-signature'],
      ['WrongMessageTypeError', 'wrong-message-type'],
      ['ClockSkewError', 'clock-skew'],
    ]);
  });
});
