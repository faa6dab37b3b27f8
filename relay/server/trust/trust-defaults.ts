/**
 * The default rates of the relay's checks on untrusted workers, in a module
 * of their own so the configuration can name them without loading the task
 * service.
 *
 * Each canary costs the worker's run plus a share of the pool's reference run
 * (a known answer serves up to four workers), each re-check one more run. At
 * 2% and 3% that is at most 2% × 2 + 3% = 7% extra runs, within the 10%
 * verification budget with room for chance (`npm run bench -- workers`
 * measures it).
 */

/** Share of dispatches to a worker that a known-answer canary joins. */
export const DEFAULT_CANARY_RATE = 0.02;
/** Share of worker results re-run before settlement. */
export const DEFAULT_RECHECK_RATE = 0.03;
