/**
 * The scheduler's choice among live workers, as a pure function: which
 * workers may take a model at all, and which of them is best. Kept apart from
 * the libp2p side so the rule can be read, and tested, on its own.
 */
import type { AccountId } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { WorkerInfo } from './scheduler.ts';

export interface ChoiceRules {
  /** A worker's reputation, 0 to 1000. */
  readonly reputation: (account: AccountId) => number;
  /** Workers below this reputation are never chosen. */
  readonly minReputation: number;
  /** Consecutive failures after which a worker rests for `failureBackoffMs`. */
  readonly maxConsecutiveFailures: number;
  readonly failureBackoffMs: number;
}

export interface ChoiceOptions {
  /** Workers not to choose (for example those a task already failed on). */
  readonly exclude?: Iterable<AccountId>;
  /** Skip workers asking more than this per unit. */
  readonly maxPricePerUnit?: number;
}

/** Whether `worker` may run `entry`: it has the model, and the model's size class fits ('heavy' stays on the relay). */
export function mayRun(worker: WorkerInfo, entry: ModelEntry): boolean {
  if (entry.sizeClass === 'heavy') return false;
  if (entry.sizeClass === 'desktop' && worker.sizeClass !== 'desktop') return false;
  return worker.advert.models.includes(entry.id);
}

function resting(worker: WorkerInfo, at: number, rules: ChoiceRules): boolean {
  return (
    worker.consecutiveFailures >= rules.maxConsecutiveFailures &&
    worker.lastFailure !== undefined &&
    at - worker.lastFailure.at < rules.failureBackoffMs
  );
}

/**
 * Higher is better. Reputation weighs most (up to 4), then price against the
 * cheapest candidate (up to 2), load (up to 2: 1 / (1 + in flight)), and
 * latency against the fastest candidate (up to 1; unknown counts 0.5), less
 * 0.5 per recent consecutive failure.
 */
export function workerScore(worker: WorkerInfo, reputation: number, cheapest: number, fastest: number): number {
  const rep = Math.min(1000, Math.max(0, reputation)) / 1000;
  const price = (cheapest + 1) / (worker.advert.pricePerUnit + 1);
  const load = 1 / (1 + worker.inFlight);
  const latency = worker.latencyMs === undefined ? 0.5 : (fastest + 1) / (worker.latencyMs + 1);
  return 4 * rep + 2 * price + 2 * load + latency - 0.5 * Math.min(4, worker.consecutiveFailures);
}

/**
 * The best of `workers` for `entry` at time `at`, or undefined when none may
 * take it: excluded, without the model, resting after failures, below the
 * reputation threshold, or too expensive. Ties go to the earlier worker.
 */
export function chooseWorker(
  workers: readonly WorkerInfo[],
  entry: ModelEntry,
  at: number,
  rules: ChoiceRules,
  options: ChoiceOptions = {},
): WorkerInfo | undefined {
  if (entry.sizeClass === 'heavy') return undefined;
  const exclude = new Set(options.exclude ?? []);
  const reputations = new Map<AccountId, number>();
  const candidates = workers.filter((w) => {
    if (exclude.has(w.account) || !mayRun(w, entry) || resting(w, at, rules)) return false;
    if (options.maxPricePerUnit !== undefined && w.advert.pricePerUnit > options.maxPricePerUnit) return false;
    const reputation = rules.reputation(w.account);
    reputations.set(w.account, reputation);
    return reputation >= rules.minReputation;
  });
  if (candidates.length === 0) return undefined;
  const cheapest = Math.min(...candidates.map((w) => w.advert.pricePerUnit));
  const fastestSeen = Math.min(...candidates.map((w) => w.latencyMs ?? Infinity));
  const fastest = Number.isFinite(fastestSeen) ? fastestSeen : 0;
  let best: WorkerInfo | undefined;
  let bestScore = -Infinity;
  for (const worker of candidates) {
    const score = workerScore(worker, reputations.get(worker.account) ?? 0, cheapest, fastest);
    if (score > bestScore) {
      best = worker;
      bestScore = score;
    }
  }
  return best;
}
