/** Tiny timing helpers shared by the Node and browser benchmark runners. */

export interface Measurement {
  readonly name: string;
  /** Operations per second. */
  readonly opsPerSec: number;
  /** Mean milliseconds per operation. */
  readonly msPerOp: number;
}

/** Runs `fn` (sync or async) repeatedly for at least `minMs` and reports its rate. */
export async function measure(name: string, fn: () => unknown, minMs = 800): Promise<Measurement> {
  // Warm up: let the JIT see the hot path before timing it.
  const warmEnd = performance.now() + minMs / 4;
  while (performance.now() < warmEnd) await fn();
  let count = 0;
  const start = performance.now();
  let now = start;
  while (now - start < minMs) {
    for (let i = 0; i < 16; i++) await fn();
    count += 16;
    now = performance.now();
  }
  const elapsed = now - start;
  return { name, opsPerSec: (count * 1000) / elapsed, msPerOp: elapsed / count };
}

/** Like {@link measure} for a sync function, without an `await` per call. */
export function measureSync(name: string, fn: () => unknown, minMs = 800): Measurement {
  const warmEnd = performance.now() + minMs / 4;
  while (performance.now() < warmEnd) fn();
  let count = 0;
  const start = performance.now();
  let now = start;
  while (now - start < minMs) {
    for (let i = 0; i < 16; i++) fn();
    count += 16;
    now = performance.now();
  }
  const elapsed = now - start;
  return { name, opsPerSec: (count * 1000) / elapsed, msPerOp: elapsed / count };
}
