/**
 * Running totals of the relay's checks on untrusted workers: canaries sent
 * and how they ended, re-checks, proven mismatches, slashes, and the compute
 * spent on real work and on verification (what the verification budget is
 * measured against). The task service keeps one; the metrics endpoint and the
 * bench read it.
 */

/** What the compute was for: the real task, a canary (the worker's run and the pool's reference), a re-check. */
export type ComputeKind = 'task' | 'canary' | 'recheck';
export type CanaryOutcome = 'passed' | 'mismatch' | 'no-answer';
export type RecheckOutcome = 'agreed' | 'mismatch';
/** Who gave the second opinion. */
export type RecheckBy = 'worker' | 'pool';

export interface TrustTallySnapshot {
  readonly canaries: Readonly<Record<CanaryOutcome, number>>;
  readonly rechecks: Readonly<Record<`${RecheckBy}-${RecheckOutcome}`, number>>;
  /** Workers caught with a wrong answer (one per worker and task). */
  readonly mismatches: number;
  /** Slash transactions committed, and the stake they took. */
  readonly slashes: number;
  readonly slashedTokens: number;
  /** Runs and their time in ms, by what they were for. */
  readonly runs: Readonly<Record<ComputeKind, number>>;
  readonly computeMs: Readonly<Record<ComputeKind, number>>;
}

export interface TrustTally {
  canary(outcome: CanaryOutcome): void;
  recheck(by: RecheckBy, outcome: RecheckOutcome): void;
  mismatch(): void;
  slash(amount: number): void;
  /** One run of `ms` for `kind`. */
  compute(kind: ComputeKind, ms: number): void;
  snapshot(): TrustTallySnapshot;
}

export function createTrustTally(): TrustTally {
  const canaries = { passed: 0, mismatch: 0, 'no-answer': 0 };
  const rechecks = { 'worker-agreed': 0, 'worker-mismatch': 0, 'pool-agreed': 0, 'pool-mismatch': 0 };
  const runs = { task: 0, canary: 0, recheck: 0 };
  const computeMs = { task: 0, canary: 0, recheck: 0 };
  let mismatches = 0;
  let slashes = 0;
  let slashedTokens = 0;
  return {
    canary(outcome) {
      canaries[outcome]++;
    },
    recheck(by, outcome) {
      rechecks[`${by}-${outcome}`]++;
    },
    mismatch() {
      mismatches++;
    },
    slash(amount) {
      slashes++;
      slashedTokens += amount;
    },
    compute(kind, ms) {
      runs[kind]++;
      computeMs[kind] += Math.max(0, ms);
    },
    snapshot: () => ({
      canaries: { ...canaries },
      rechecks: { ...rechecks },
      mismatches,
      slashes,
      slashedTokens,
      runs: { ...runs },
      computeMs: { ...computeMs },
    }),
  };
}

/** Verification's share of all compute (0 when nothing ran), by time and by runs. */
export function verificationShare(snapshot: TrustTallySnapshot): { readonly time: number; readonly runs: number } {
  const share = (of: Readonly<Record<ComputeKind, number>>): number => {
    const total = of.task + of.canary + of.recheck;
    return total === 0 ? 0 : (of.canary + of.recheck) / total;
  };
  return { time: share(snapshot.computeMs), runs: share(snapshot.runs) };
}
