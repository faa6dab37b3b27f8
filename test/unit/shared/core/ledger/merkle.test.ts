/**
 * Merkle trees against a reference written here straight from RFC 9162
 * §2.1.1 (MTH) and §2.1.3.1 (PATH), recursive and unoptimised, so the
 * level-by-level implementation in shared/ledger/merkle.ts is checked against
 * the definition rather than against itself.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  leafHash,
  merkleProof,
  merkleProofs,
  merkleRoot,
  verifyInclusion,
  type Hash,
  type InclusionProof,
} from '#core/index.ts';
import { hex } from '#test/network.ts';

// ---- Reference (RFC 9162 §2.1.1 and §2.1.3.1) ----

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

/** The largest power of two smaller than n (n > 1). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[lo:hi]), memoised per tree so PATH stays cheap for large trees. */
class ReferenceTree {
  private readonly memo = new Map<string, Uint8Array>();
  private readonly leaves: readonly Uint8Array[];

  constructor(leaves: readonly Uint8Array[]) {
    this.leaves = leaves;
  }

  mth(lo = 0, hi = this.leaves.length): Uint8Array {
    const n = hi - lo;
    if (n === 0) return sha256(new Uint8Array(0)); // MTH({}) = HASH()
    if (n === 1) return sha256(concat(new Uint8Array([0x00]), this.leaves[lo] as Uint8Array)); // HASH(0x00 || d0)
    const key = `${lo}:${hi}`;
    const cached = this.memo.get(key);
    if (cached) return cached;
    const k = splitPoint(n);
    const value = sha256(concat(new Uint8Array([0x01]), this.mth(lo, lo + k), this.mth(lo + k, hi)));
    this.memo.set(key, value);
    return value;
  }

  /** PATH(m, D[lo:hi]): sibling hashes from the leaf up. */
  path(m: number, lo = 0, hi = this.leaves.length): Uint8Array[] {
    const n = hi - lo;
    if (n <= 1) return [];
    const k = splitPoint(n);
    if (m < k) return [...this.path(m, lo, lo + k), this.mth(lo + k, hi)];
    return [...this.path(m - k, lo + k, hi), this.mth(lo, lo + k)];
  }
}

/**
 * The root a proof implies, by recursion over the same split (a second,
 * independent verifier): null when the path has the wrong length.
 */
function referenceRootFromPath(leaf: Uint8Array, m: number, n: number, path: readonly Uint8Array[]): Uint8Array | null {
  if (n === 1) return path.length === 0 ? sha256(concat(new Uint8Array([0x00]), leaf)) : null;
  const last = path[path.length - 1];
  if (last === undefined) return null;
  const rest = path.slice(0, -1);
  const k = splitPoint(n);
  if (m < k) {
    const left = referenceRootFromPath(leaf, m, k, rest);
    return left && sha256(concat(new Uint8Array([0x01]), left, last));
  }
  const right = referenceRootFromPath(leaf, m - k, n - k, rest);
  return right && sha256(concat(new Uint8Array([0x01]), last, right));
}

function referenceVerifies(leaf: Uint8Array, proof: InclusionProof, root: string): boolean {
  if (proof.index < 0 || proof.index >= proof.size) return false;
  const implied = referenceRootFromPath(leaf, proof.index, proof.size, proof.path.map(unhexStrict));
  return implied !== null && hex(implied) === root;
}

function unhexStrict(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
}

// ---- Fixtures ----

/** Distinct leaves: "leaf <i>". */
function leavesOf(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => new TextEncoder().encode(`leaf ${i}`));
}

const asHex = (path: readonly Uint8Array[]) => path.map(hex);

function flipHexDigit(hash: string, at: number): Hash {
  const digit = parseInt(hash[at] ?? '0', 16) ^ 1;
  return `${hash.slice(0, at)}${digit.toString(16)}${hash.slice(at + 1)}` as Hash;
}

describe('reference sanity (RFC 9162 definitions)', () => {
  it('splits at the largest power of two below n', () => {
    expect([2, 3, 4, 5, 8, 9, 1000, 1024, 1025].map(splitPoint)).toEqual([1, 2, 2, 4, 4, 8, 512, 512, 1024]);
  });

  it('empty tree is SHA-256 of nothing; a leaf is prefixed with 0x00; a node with 0x01', () => {
    expect(hex(new ReferenceTree([]).mth())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const [a, b] = leavesOf(2) as [Uint8Array, Uint8Array];
    const la = sha256(concat(new Uint8Array([0]), a));
    const lb = sha256(concat(new Uint8Array([0]), b));
    expect(hex(new ReferenceTree([a]).mth())).toBe(hex(la));
    expect(hex(new ReferenceTree([a, b]).mth())).toBe(hex(sha256(concat(new Uint8Array([1]), la, lb))));
  });
});

describe('merkleRoot and merkleProofs against the reference', () => {
  for (let n = 0; n <= 40; n++) {
    it(`size ${n}: root, every proof, and every proof verifies`, () => {
      const leaves = leavesOf(n);
      const reference = new ReferenceTree(leaves);
      const root = merkleRoot(leaves);
      expect(root).toBe(hex(reference.mth()));
      const proofs = merkleProofs(leaves);
      expect(proofs.length).toBe(n);
      for (let i = 0; i < n; i++) {
        const leaf = leaves[i] as Uint8Array;
        const proof = proofs[i] as InclusionProof;
        expect(proof).toEqual({ index: i, size: n, path: asHex(reference.path(i)) });
        expect(merkleProof(leaves, i)).toEqual(proof);
        expect(hex(leafHash(leaf))).toBe(hex(new ReferenceTree([leaf]).mth()));
        expect(verifyInclusion(leaf, proof, root), `leaf ${i} of ${n}`).toBe(true);
        expect(referenceVerifies(leaf, proof, root)).toBe(true);
      }
    });
  }

  for (const n of [63, 64, 65, 127, 128, 129, 1000, 1023, 1024, 1025, 3000]) {
    it(`size ${n}: root and sampled proofs`, () => {
      const leaves = leavesOf(n);
      const reference = new ReferenceTree(leaves);
      const root = merkleRoot(leaves);
      expect(root).toBe(hex(reference.mth()));
      const proofs = merkleProofs(leaves);
      const sample = new Set(
        [0, 1, 2, n >> 1, splitPoint(n) - 1, splitPoint(n), n - 2, n - 1].filter((i) => i >= 0 && i < n),
      );
      for (let i = 3; i < n; i += 97) sample.add(i);
      for (const i of sample) {
        const proof = proofs[i] as InclusionProof;
        expect(proof.path).toEqual(asHex(reference.path(i)));
        expect(verifyInclusion(leaves[i] as Uint8Array, proof, root)).toBe(true);
      }
      // Every proof of the large tree verifies.
      for (const proof of proofs) {
        if (!verifyInclusion(leaves[proof.index] as Uint8Array, proof, root)) expect.fail(`leaf ${proof.index}`);
      }
    });
  }

  it('merkleProof refuses an index outside the tree', () => {
    const leaves = leavesOf(3);
    expect(() => merkleProof(leaves, 3)).toThrow(RangeError);
    expect(() => merkleProof(leaves, -1)).toThrow(RangeError);
    expect(() => merkleProof([], 0)).toThrow(RangeError);
  });

  it('leaf and node hashes are domain-separated (a node is not a leaf)', () => {
    // The two-leaf root equals HASH(0x01 || l0 || l1); offering l0 || l1 as one leaf must not reproduce it.
    const leaves = leavesOf(2);
    const root = merkleRoot(leaves);
    const joined = concat(leafHash(leaves[0] as Uint8Array), leafHash(leaves[1] as Uint8Array));
    expect(merkleRoot([joined])).not.toBe(root);
    expect(verifyInclusion(joined, { index: 0, size: 1, path: [] }, root)).toBe(false);
  });
});

describe('tampered proofs fail', () => {
  const sizes = [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33];

  it('a flipped digit in any path element, the root or the data', () => {
    for (const n of sizes) {
      const leaves = leavesOf(n);
      const root = merkleRoot(leaves);
      for (const proof of merkleProofs(leaves)) {
        const leaf = leaves[proof.index] as Uint8Array;
        proof.path.forEach((_, j) => {
          for (const at of [0, 31, 63]) {
            const path = proof.path.map((p, k) => (k === j ? flipHexDigit(p, at) : p));
            expect(verifyInclusion(leaf, { ...proof, path }, root)).toBe(false);
          }
        });
        expect(verifyInclusion(leaf, proof, flipHexDigit(root, 10))).toBe(false);
        expect(verifyInclusion(concat(leaf, new Uint8Array([0])), proof, root)).toBe(false);
        expect(verifyInclusion(new TextEncoder().encode('another leaf'), proof, root)).toBe(false);
      }
    }
  });

  it('a path with an element removed, added, repeated or out of order', () => {
    for (const n of sizes) {
      const leaves = leavesOf(n);
      const root = merkleRoot(leaves);
      for (const proof of merkleProofs(leaves)) {
        const leaf = leaves[proof.index] as Uint8Array;
        const extra = root; // any valid-looking hash
        const variants: Hash[][] = [
          [...proof.path, extra],
          [extra, ...proof.path],
        ];
        if (proof.path.length > 0) {
          variants.push(proof.path.slice(1), proof.path.slice(0, -1), [...proof.path, proof.path.at(-1) as Hash]);
        }
        if (proof.path.length > 1) variants.push([...proof.path].reverse());
        for (const path of variants) expect(verifyInclusion(leaf, { ...proof, path }, root)).toBe(false);
      }
    }
  });

  it('another leaf index: valid exactly when the reference says so', () => {
    for (const n of sizes) {
      const leaves = leavesOf(n);
      const root = merkleRoot(leaves);
      for (const proof of merkleProofs(leaves)) {
        const leaf = leaves[proof.index] as Uint8Array;
        for (let index = -1; index <= n; index++) {
          if (index === proof.index) continue;
          const moved = { ...proof, index };
          expect(verifyInclusion(leaf, moved, root)).toBe(false);
          expect(referenceVerifies(leaf, moved, root)).toBe(false);
        }
      }
    }
  });

  it('another tree size: valid exactly when the reference says so', () => {
    // RFC 9162 proofs bind the size only through the root, so e.g. leaf 0 of 3
    // has the same path shape as leaf 0 of 4; the two verifiers must agree.
    for (const n of sizes) {
      const leaves = leavesOf(n);
      const root = merkleRoot(leaves);
      for (const proof of merkleProofs(leaves)) {
        const leaf = leaves[proof.index] as Uint8Array;
        for (const size of [0, 1, n - 1, n + 1, n + 2, 2 * n, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
          if (size === n) continue;
          const resized = { ...proof, size };
          const expected = size <= 2 ** 20 ? referenceVerifies(leaf, resized, root) : false;
          expect(verifyInclusion(leaf, resized, root), `leaf ${proof.index} of ${n} as size ${size}`).toBe(expected);
        }
      }
    }
  });
});

describe('verifyInclusion agrees with the reference verifier on random proofs (property)', () => {
  it('random sizes, indices and paths, with some real siblings mixed in', () => {
    const leaves = leavesOf(24);
    const realHashes = merkleProofs(leaves).flatMap((p) => p.path);
    const hashArb = fc.oneof(
      fc.constantFrom(...realHashes),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => hex(b) as Hash),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: -2, max: 41 }),
        fc.array(hashArb, { maxLength: 7 }),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 1, max: 24 }),
        (size, index, path, leafIndex, rootSize) => {
          const leaf = leaves[leafIndex] as Uint8Array;
          const root = merkleRoot(leaves.slice(0, rootSize));
          const proof = { index, size, path };
          expect(verifyInclusion(leaf, proof, root)).toBe(referenceVerifies(leaf, proof, root));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('never throws and refuses malformed proofs', () => {
    const leaves = leavesOf(5);
    const root = merkleRoot(leaves);
    const good = merkleProof(leaves, 2);
    const leaf = leaves[2] as Uint8Array;
    const bad: unknown[] = [
      { ...good, index: 2.5 },
      { ...good, index: NaN },
      { ...good, size: Infinity },
      { ...good, index: '2' },
      { ...good, path: 'not an array' },
      { ...good, path: [...good.path.slice(0, -1), good.path.at(-1)?.toUpperCase()] },
      { ...good, path: [...good.path.slice(0, -1), 42] },
      { ...good, path: Array.from({ length: 65 }, () => root) },
      {},
      null,
      undefined,
    ];
    for (const proof of bad) expect(verifyInclusion(leaf, proof as InclusionProof, root)).toBe(false);
    expect(verifyInclusion(leaf, good, root.toUpperCase() as Hash)).toBe(false);
    expect(verifyInclusion(leaf, good, 'root' as Hash)).toBe(false);
    expect(verifyInclusion(leaf, good, root)).toBe(true);
  });
});
