/**
 * Reading request bodies: every string a client can put where the API takes
 * base64url bytes either decodes to exactly the bytes it encodes or is a
 * typed 400 naming the field, never a plain exception (which the error
 * handler would answer as a 500). And the default body cap admits the
 * documented largest input once base64url has inflated it.
 */
import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { toBase64Url } from '#core/encoding/bytes.ts';
import { MAX_ENVELOPE_BYTES } from '#core/envelope/envelope.ts';
import { MAX_TASK_INPUT_BYTES } from '#core/messages/task.ts';
import { toHttpError } from '#server/http/errors.ts';
import { base64Bytes, MAX_API_BODY_BYTES, readBody } from '#server/http/wire.ts';

const schema = v.strictObject({ tx: base64Bytes(64) });

/** The status and code the relay would answer `body` with, or the bytes it read. */
function answer(body: unknown): { status: number; code: string } | { bytes: Uint8Array } {
  try {
    return { bytes: readBody('transaction', schema, body).tx };
  } catch (error) {
    const { status, body: answered } = toHttpError(error);
    return { status, code: answered.error.code };
  }
}

describe('base64Bytes', () => {
  it('refuses text that passes the alphabet but does not decode, as a typed 400', () => {
    // One character carries 6 bits, not a byte; "AB" and "AAB" end in non-zero spare bits.
    for (const tx of ['A', 'AB', 'AAB', 'AAAAA', '_', 'AAAAAB']) {
      expect(answer({ tx }), tx).toEqual({ status: 400, code: 'invalid-message' });
    }
    // Not the alphabet, padding, too long, wrong types.
    for (const tx of ['!!', 'AA==', 'A'.repeat(200), 1, null, [], {}, true]) {
      expect(answer({ tx }), JSON.stringify(tx)).toEqual({ status: 400, code: 'invalid-message' });
    }
    expect(answer('AAAA')).toEqual({ status: 400, code: 'malformed-encoding' });
    expect(answer({ tx: 'AQ' })).toEqual({ bytes: Uint8Array.of(1) });
  });

  it('reads every string as its bytes or a typed 400, never a plain exception', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: fc.constantFrom('A', 'Z', 'a', 'z', '0', '9', '-', '_', 'Q'), maxLength: 100 }),
          fc.string({ maxLength: 100 }),
          fc.uint8Array({ maxLength: 80 }).map((bytes) => toBase64Url(bytes)),
        ),
        (tx) => {
          const read = answer({ tx });
          if ('bytes' in read) {
            // Only canonical base64url of at most 64 bytes gets through, as exactly those bytes.
            expect(toBase64Url(read.bytes)).toBe(tx);
            expect(read.bytes.length).toBeLessThanOrEqual(64);
          } else expect(read).toEqual({ status: 400, code: 'invalid-message' });
        },
      ),
      { seed: 16_002, numRuns: 2000 },
    );
  });
});

describe('MAX_API_BODY_BYTES', () => {
  it('admits a task of the documented largest input with its envelope', () => {
    const body = JSON.stringify({
      task: 'A'.repeat(Math.ceil((MAX_ENVELOPE_BYTES * 4) / 3)),
      input: 'A'.repeat(Math.ceil((MAX_TASK_INPUT_BYTES * 4) / 3)),
      route: 'brokered',
    });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_API_BODY_BYTES);
    // And not much more: about 21.4 MiB.
    expect(MAX_API_BODY_BYTES).toBeLessThan(22 * 1024 * 1024);
  });
});
