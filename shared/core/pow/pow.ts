/**
 * Onboarding proof-of-work: a hashcash puzzle that makes minting a grant cost
 * some seconds of CPU. The puzzle is bound to the new account's public key and
 * the network, so a solution cannot be reused for another key or relay.
 *
 *   sha256("acn/v1/pow" 0x00 network 0x00 publicKey nonce_u64be) has at least
 *   `difficulty` leading zero bits.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from '../encoding/bytes.ts';
import type { AccountId } from '../identity/ids.ts';

export interface PowPuzzle {
  readonly network: AccountId;
  /** Raw 32-byte Ed25519 public key of the account being onboarded. */
  readonly publicKey: Uint8Array;
  /** Leading zero bits required, 0 to 64. */
  readonly difficulty: number;
}

export interface PowSolution {
  readonly nonce: number;
  readonly difficulty: number;
}

export interface PowProgress {
  /** Nonces tried so far. */
  readonly attempts: number;
  /** Attempts expected on average (2^difficulty). */
  readonly expected: number;
  /** A smooth 0..1 estimate for a progress bar: 1 - e^(-attempts/expected). */
  readonly fraction: number;
}

export interface SolveOptions {
  readonly signal?: AbortSignal;
  /** Called after every batch. */
  readonly onProgress?: (progress: PowProgress) => void;
  /** Nonces tried between yields to the event loop. Default 20,000. */
  readonly batchSize?: number;
  /** First nonce to try. Default 0. */
  readonly startNonce?: number;
}

const NONCE_BYTES = 8;

/** Verifies a solution: one hash. Never throws. */
export function verifyPow(puzzle: PowPuzzle, solution: PowSolution): boolean {
  if (!validPuzzle(puzzle) || solution.difficulty !== puzzle.difficulty) return false;
  if (!Number.isSafeInteger(solution.nonce) || solution.nonce < 0) return false;
  const digest = sha256(concatBytes(prefixOf(puzzle), nonceBytes(solution.nonce)));
  return leadingZeroBits(digest) >= puzzle.difficulty;
}

/**
 * Searches for a solution, yielding to the event loop between batches so a
 * page stays responsive, reporting progress, and stopping with the signal's
 * reason when aborted.
 */
export async function solvePow(puzzle: PowPuzzle, options: SolveOptions = {}): Promise<PowSolution> {
  if (!validPuzzle(puzzle)) throw new RangeError('difficulty must be an integer from 0 to 64 and publicKey 32 bytes');
  const batchSize = options.batchSize ?? 20_000;
  const expected = 2 ** puzzle.difficulty;
  const prefixState = sha256.create().update(prefixOf(puzzle));
  const buffer = new Uint8Array(NONCE_BYTES);
  const view = new DataView(buffer.buffer);
  let nonce = options.startNonce ?? 0;
  let attempts = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const end = nonce + batchSize;
    for (; nonce < end; nonce++) {
      view.setBigUint64(0, BigInt(nonce));
      const digest = prefixState.clone().update(buffer).digest();
      if (leadingZeroBits(digest) >= puzzle.difficulty) {
        options.onProgress?.({ attempts: attempts + 1, expected, fraction: 1 });
        return { nonce, difficulty: puzzle.difficulty };
      }
      attempts++;
    }
    options.onProgress?.({ attempts, expected, fraction: 1 - Math.exp(-attempts / expected) });
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

function validPuzzle(puzzle: PowPuzzle): boolean {
  return (
    Number.isInteger(puzzle.difficulty) &&
    puzzle.difficulty >= 0 &&
    puzzle.difficulty <= 64 &&
    puzzle.publicKey instanceof Uint8Array &&
    puzzle.publicKey.length === 32
  );
}

function prefixOf(puzzle: PowPuzzle): Uint8Array {
  return concatBytes(utf8ToBytes(`acn/v1/pow\0${puzzle.network}\0`), puzzle.publicKey);
}

function nonceBytes(nonce: number): Uint8Array {
  const bytes = new Uint8Array(NONCE_BYTES);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(nonce));
  return bytes;
}

/** Counts the zero bits before the first one bit. */
export function leadingZeroBits(bytes: Uint8Array): number {
  let bits = 0;
  for (const byte of bytes) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}
