/**
 * Prometheus counters for the checks on untrusted workers, read from the task
 * service's {@link TrustTally} at each scrape (so nothing is pushed and the
 * tally stays the one source):
 *
 * - `acn_relay_trust_canaries_total{outcome}`: passed, mismatch, no-answer;
 * - `acn_relay_trust_rechecks_total{by, outcome}`: by a second worker or the pool; agreed or mismatch;
 * - `acn_relay_trust_mismatches_total`: workers caught with a wrong answer;
 * - `acn_relay_trust_slashes_total` and `acn_relay_trust_slashed_tokens_total`;
 * - `acn_relay_trust_compute_seconds_total{kind}` and `acn_relay_trust_runs_total{kind}`:
 *   task, canary, recheck (verification overhead = canary + recheck over all).
 */
import { Counter, type Registry } from 'prom-client';
import type { TrustTallySnapshot } from './trust-tally.ts';

/** The relay's metric prefix (relay/http/metrics.ts's `METRIC_PREFIX`), repeated to keep this module free of the HTTP layer. */
const PREFIX = 'acn_relay_trust_';

/** Registers the trust counters in `registry`, reading `tally()` whenever Prometheus scrapes. */
export function registerTrustMetrics(registry: Registry, tally: () => TrustTallySnapshot): void {
  const registers = [registry];
  // Counters cannot be set: each adds what its running total gained since the last scrape.
  const reported = new Map<string, number>();
  const catchUp = (counter: Counter, key: string, total: number, labels: Record<string, string> = {}) => {
    const before = reported.get(key) ?? 0;
    if (total > before) counter.inc(labels, total - before);
    reported.set(key, Math.max(before, total));
  };

  new Counter<'outcome'>({
    name: `${PREFIX}canaries_total`,
    help: 'Known-answer canary tasks sent to workers, by outcome',
    labelNames: ['outcome'],
    registers,
    collect() {
      for (const [outcome, n] of Object.entries(tally().canaries)) catchUp(this, `canary ${outcome}`, n, { outcome });
    },
  });
  new Counter<'by' | 'outcome'>({
    name: `${PREFIX}rechecks_total`,
    help: 'Worker results re-run before settlement, by who re-ran them and the outcome',
    labelNames: ['by', 'outcome'],
    registers,
    collect() {
      for (const [key, n] of Object.entries(tally().rechecks)) {
        const [by = '', outcome = ''] = key.split('-');
        catchUp(this, `recheck ${key}`, n, { by, outcome });
      }
    },
  });
  new Counter({
    name: `${PREFIX}mismatches_total`,
    help: 'Workers caught with a wrong answer',
    registers,
    collect() {
      catchUp(this, 'mismatches', tally().mismatches);
    },
  });
  new Counter({
    name: `${PREFIX}slashes_total`,
    help: 'Slash transactions committed against workers',
    registers,
    collect() {
      catchUp(this, 'slashes', tally().slashes);
    },
  });
  new Counter({
    name: `${PREFIX}slashed_tokens_total`,
    help: 'Stake taken by slashes',
    registers,
    collect() {
      catchUp(this, 'slashed tokens', tally().slashedTokens);
    },
  });
  new Counter<'kind'>({
    name: `${PREFIX}compute_seconds_total`,
    help: 'Inference time of real tasks and of verification (canaries, re-checks)',
    labelNames: ['kind'],
    registers,
    collect() {
      for (const [kind, ms] of Object.entries(tally().computeMs)) catchUp(this, `seconds ${kind}`, ms / 1000, { kind });
    },
  });
  new Counter<'kind'>({
    name: `${PREFIX}runs_total`,
    help: 'Inference runs of real tasks and of verification (canaries, re-checks)',
    labelNames: ['kind'],
    registers,
    collect() {
      for (const [kind, n] of Object.entries(tally().runs)) catchUp(this, `runs ${kind}`, n, { kind });
    },
  });
}
