import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import vectors from '#vectors/canonical.json';
import {
  AcnError,
  decodeCanonical,
  encodeCanonical,
  MAX_CANONICAL_BYTES,
  MalformedEncodingError,
  NonCanonicalEncodingError,
  TooLargeError,
} from '#core/index.ts';
import { hex, unhex } from '#test/network.ts';
import { ENCODING_ERROR_NAMES, expectError, fromJsonValue } from '#test/values.ts';

describe('canonical encoding vectors', () => {
  it('has RFC 8949 vectors, boundary vectors and refusals', () => {
    expect(vectors.valid.filter((v) => v.rfc8949 === true).length).toBeGreaterThanOrEqual(30);
    expect(vectors.valid.length).toBeGreaterThan(60);
    expect(vectors.invalid.length).toBeGreaterThan(45);
  });

  for (const vector of vectors.valid) {
    it(`encodes and decodes ${vector.name}`, () => {
      const value = fromJsonValue(vector.value);
      expect(hex(encodeCanonical(value))).toBe(vector.hex);
      const decoded = decodeCanonical(unhex(vector.hex));
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) return;
      expect(decoded.value).toEqual(value);
    });
  }

  for (const vector of vectors.invalid) {
    it(`refuses ${vector.name} with ${vector.code}`, () => {
      const name = ENCODING_ERROR_NAMES[vector.code];
      expect(name).toBeDefined();
      expectError(decodeCanonical(unhex(vector.hex)), name ?? '', vector.code);
    });
  }
});

describe('decodeCanonical', () => {
  it('error classes carry stable names and codes', () => {
    const errors = [new MalformedEncodingError('x'), new NonCanonicalEncodingError('x'), new TooLargeError('x')];
    expect(errors.map((e) => [e.name, e.code])).toEqual([
      ['MalformedEncodingError', 'malformed-encoding'],
      ['NonCanonicalEncodingError', 'non-canonical-encoding'],
      ['TooLargeError', 'too-large'],
    ]);
    for (const e of errors) expect(e).toBeInstanceOf(AcnError);
  });

  it('accepts input exactly at the cap and refuses one byte more, before decoding', () => {
    const bytes = encodeCanonical(new Uint8Array(20)); // 0x54 + 20 bytes
    expect(bytes.length).toBe(21);
    expect(decodeCanonical(bytes, { maxBytes: 21 }).ok).toBe(true);
    expectError(decodeCanonical(bytes, { maxBytes: 20 }), 'TooLargeError', 'too-large');
    // The size check comes first: junk over the cap is "too large", not "malformed".
    expectError(decodeCanonical(new Uint8Array(22).fill(0xff), { maxBytes: 21 }), 'TooLargeError', 'too-large');
  });

  it('defaults to a 1 MiB cap', () => {
    expect(MAX_CANONICAL_BYTES).toBe(1024 * 1024);
    // A byte string whose encoding (5-byte header + content) is exactly 1 MiB.
    const atCap = encodeCanonical(new Uint8Array(MAX_CANONICAL_BYTES - 5));
    expect(atCap.length).toBe(MAX_CANONICAL_BYTES);
    expect(decodeCanonical(atCap).ok).toBe(true);
    const overCap = encodeCanonical(new Uint8Array(MAX_CANONICAL_BYTES - 4));
    expectError(decodeCanonical(overCap), 'TooLargeError', 'too-large');
  });

  it('refuses input that is not a Uint8Array', () => {
    for (const junk of [undefined, null, 'a0', [0xa0], {}, 7, new ArrayBuffer(1)]) {
      expectError(decodeCanonical(junk as Uint8Array), 'MalformedEncodingError', 'malformed-encoding');
    }
  });

  it('decodes a view into a larger buffer by its own bytes only', () => {
    const buffer = unhex('ff8301020300ff');
    const decoded = decodeCanonical(buffer.subarray(1, 5));
    expect(decoded).toEqual({ ok: true, value: [1, 2, 3] });
  });
});

describe('encodeCanonical', () => {
  it('refuses values outside the data model', () => {
    const bad: unknown[] = [undefined, NaN, Infinity, -Infinity, { a: undefined }, [NaN], () => 1, Symbol('s')];
    for (const value of bad) expect(() => encodeCanonical(value)).toThrow();
  });

  it('returns a plain Uint8Array on every platform, whose slice() is a copy', () => {
    // cborg hands back a Node Buffer for some sizes; Buffer#slice is a view, not a copy.
    for (let size = 0; size < 600; size += 7) {
      const bytes = encodeCanonical({ x: new Uint8Array(size) });
      expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
      const copy = bytes.slice();
      copy[0] = (copy[0] as number) ^ 0xff;
      expect(copy[0]).not.toBe(bytes[0]);
    }
  });

  it('never hands out memory a later encode writes over', () => {
    // cborg reuses its write buffer; in Node it used to return views into it.
    for (let size = 0; size < 300; size += 3) {
      const first = encodeCanonical({ x: new Uint8Array(size).fill(1) });
      const snapshot = first.slice();
      for (let other = 0; other < 300; other += 37) encodeCanonical({ y: new Uint8Array(other).fill(2) });
      expect(first).toEqual(snapshot);
    }
  });

  it('encodes object keys in canonical order whatever the insertion order', () => {
    const a = encodeCanonical({ zz: 1, a: 2, b: { y: 1, x: 2 } });
    const b = encodeCanonical({ b: { x: 2, y: 1 }, a: 2, zz: 1 });
    expect(hex(a)).toBe(hex(b));
  });
});

// Values of the DAG-CBOR data model that survive a round trip unchanged:
// no -0 (it encodes as the integer 0), bigints only outside the safe range
// (inside it they decode as numbers), no lone surrogates (UTF-8 cannot hold them).
const scalar = fc.oneof(
  fc.boolean(),
  fc.constant(null),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -24, -25),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)),
  fc.oneof(
    fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }),
    fc.bigInt({ min: -(2n ** 64n), max: -(2n ** 53n) - 1n }),
  ),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.uint8Array({ maxLength: 40 }),
);
const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('tree'), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), tie('tree'), { maxKeys: 5 }),
  ),
}));

describe('round trip (property)', () => {
  it('decode(encode(x)) equals x, and re-encoding gives identical bytes', () => {
    fc.assert(
      fc.property(tree, (value) => {
        const bytes = encodeCanonical(value);
        const decoded = decodeCanonical(bytes);
        expect(decoded.ok).toBe(true);
        if (!decoded.ok) return;
        expect(decoded.value).toEqual(value);
        expect(hex(encodeCanonical(decoded.value))).toBe(hex(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('every accepted byte string is the encoding of what it decodes to', () => {
    // Random CBOR-ish bytes: whatever decodeCanonical accepts must re-encode to itself.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 12 }), (bytes) => {
        const decoded = decodeCanonical(bytes);
        if (decoded.ok) expect(hex(encodeCanonical(decoded.value))).toBe(hex(bytes));
        else expect(decoded.error).toBeInstanceOf(AcnError);
      }),
      { numRuns: 1000 },
    );
  });
});
