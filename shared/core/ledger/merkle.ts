/**
 * Merkle trees as in RFC 9162 (Certificate Transparency v2): domain-separated
 * leaf and node hashes, no duplicated nodes for odd sizes, and inclusion
 * proofs a light client checks with one hash per level.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, equalBytes, hexToBytes } from '../encoding/bytes.ts';
import { hashFromBytes, parseHash, type Hash } from '../identity/ids.ts';

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

export interface InclusionProof {
  /** Position of the leaf, from 0. */
  readonly index: number;
  /** Number of leaves in the tree. */
  readonly size: number;
  /** Sibling hashes from the leaf up to the root. */
  readonly path: readonly Hash[];
}

export function leafHash(data: Uint8Array): Uint8Array {
  return sha256(concatBytes(LEAF, data));
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(concatBytes(NODE, left, right));
}

/** The Merkle tree hash of `leaves` (raw data, hashed as leaves here). */
export function merkleRoot(leaves: readonly Uint8Array[]): Hash {
  if (leaves.length === 0) return hashFromBytes(sha256(new Uint8Array(0)));
  let level = leaves.map(leafHash);
  while (level.length > 1) level = nextLevel(level);
  return hashFromBytes(level[0] as Uint8Array);
}

// Building level by level and carrying an unpaired last node up unchanged gives
// exactly RFC 9162's tree, which splits at the largest power of two below n.
function nextLevel(level: readonly Uint8Array[]): Uint8Array[] {
  const next: Uint8Array[] = [];
  for (let i = 0; i < level.length; i += 2) {
    const left = level[i] as Uint8Array;
    const right = level[i + 1];
    next.push(right === undefined ? left : nodeHash(left, right));
  }
  return next;
}

/** Inclusion proofs for every leaf, built in one pass (O(n log n)). */
export function merkleProofs(leaves: readonly Uint8Array[]): InclusionProof[] {
  const size = leaves.length;
  const paths: Hash[][] = leaves.map(() => []);
  let level = leaves.map(leafHash);
  // position[i] is where leaf i's ancestor sits in the current level.
  const position = leaves.map((_, i) => i);
  while (level.length > 1) {
    for (let leaf = 0; leaf < size; leaf++) {
      const at = position[leaf] as number;
      const sibling = level[at ^ 1];
      if (sibling !== undefined) (paths[leaf] as Hash[]).push(bytesToHex(sibling) as Hash);
      position[leaf] = at >> 1;
    }
    level = nextLevel(level);
  }
  return paths.map((path, index) => ({ index, size, path }));
}

/** The inclusion proof of one leaf. */
export function merkleProof(leaves: readonly Uint8Array[], index: number): InclusionProof {
  const proof = merkleProofs(leaves)[index];
  if (proof === undefined) throw new RangeError(`no leaf ${index} in a tree of ${leaves.length}`);
  return proof;
}

/**
 * Checks that `data` is leaf `proof.index` of a tree of `proof.size` leaves
 * whose root is `root` (RFC 9162 §2.1.3.2). Never throws.
 */
export function verifyInclusion(data: Uint8Array, proof: InclusionProof, root: Hash): boolean {
  try {
    const { index, size, path } = proof;
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
    if (!Array.isArray(path) || path.length > 64 || !parseHash(root).ok) return false;
    let fn = index;
    let sn = size - 1;
    let r = leafHash(data);
    for (const siblingHex of path as readonly unknown[]) {
      const parsed = parseHash(siblingHex);
      if (!parsed.ok || sn === 0) return false;
      const sibling = hexToBytes(parsed.value);
      if (fn % 2 === 1 || fn === sn) {
        r = nodeHash(sibling, r);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        r = nodeHash(r, sibling);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && equalBytes(r, hexToBytes(root));
  } catch {
    return false;
  }
}
