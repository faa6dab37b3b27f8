/**
 * The relay's known answers for canary tasks: a small set per model, each a
 * fresh generated input with the answer the relay's own pool gave for it.
 * A case goes to a given worker at most once (a worker that remembered the
 * inputs it has seen would otherwise spot a repeat) and is retired after
 * `maxUses` workers, so the pool's run is shared by a few canaries.
 *
 * A model whose pipeline checks a claimed answer itself (text generation)
 * needs no known answer when the pool has that checker: the worker's answer
 * is judged by the pool's forced pass (see ./worker-checks.ts), so its case
 * is only a fresh input and costs the pool nothing until it is judged.
 */
import type { AccountId, ModelId } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import type { InferencePool } from '#node/pool/inference-pool.ts';
import { canaryInputGenerator, isClearAnswer, type CanaryInputGenerator } from './canary-inputs.ts';

/** A canary input and its known answer. */
export interface CanaryCase {
  readonly input: Uint8Array;
  /**
   * The pool's canonical output for `input`: the known answer. Absent for a
   * model the pool's checker judges (text generation), which needs none.
   */
  readonly output?: Uint8Array;
  /** The units of the known answer; absent with it. */
  readonly units?: number;
}

export interface CanaryStoreInit {
  /** Runs the reference: the relay's own pool. With a `check`, models it can check get no reference run. */
  readonly pool: Pick<InferencePool, 'run'> & Partial<Pick<InferencePool, 'check'>>;
  /** Default `Math.random`. */
  readonly random?: () => number;
  /** Cases kept per model. Default 4. */
  readonly perModel?: number;
  /** Workers a case is sent to before it is retired. Default 4. */
  readonly maxUses?: number;
  /** Inputs tried for one case before giving up (when answers are too close to call). Default 8. */
  readonly maxAttempts?: number;
  /** Told the pool's time of every reference run, in ms: compute spent on verification. */
  readonly onCompute?: (ms: number) => void;
  /** Default {@link canaryInputGenerator}. */
  readonly generatorFor?: (pre: string) => CanaryInputGenerator | undefined;
}

export interface TakeCanaryOptions {
  readonly signal?: AbortSignal;
}

export interface CanaryStore {
  /** Whether the relay can make canaries for `entry`. */
  supports(entry: ModelEntry): boolean;
  /**
   * A case for `entry` that `worker` has not been sent, made on the pool when
   * none is left; undefined when none could be made (no generator, the pool
   * refused, or no input gave a clear answer).
   */
  take(entry: ModelEntry, worker: AccountId, options?: TakeCanaryOptions): Promise<CanaryCase | undefined>;
}

interface StoredCase {
  readonly value: CanaryCase;
  readonly sentTo: Set<AccountId>;
}

export function createCanaryStore(init: CanaryStoreInit): CanaryStore {
  const pool = init.pool;
  const random = init.random ?? Math.random;
  const perModel = Math.max(1, init.perModel ?? 4);
  const maxUses = Math.max(1, init.maxUses ?? 4);
  const maxAttempts = Math.max(1, init.maxAttempts ?? 8);
  const generatorFor = init.generatorFor ?? canaryInputGenerator;
  const cases = new Map<ModelId, StoredCase[]>();
  const poolChecks = typeof pool.check === 'function';

  async function make(entry: ModelEntry, signal: AbortSignal | undefined): Promise<CanaryCase | undefined> {
    const generate = generatorFor(entry.pre);
    if (generate === undefined) return undefined;
    // The pool's forced pass will judge the answer to this input: nothing to learn beforehand.
    if (poolChecks && pipelineFor(entry.pre)?.check !== undefined) {
      signal?.throwIfAborted();
      return { input: generate(random) };
    }
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      signal?.throwIfAborted();
      const input = generate(random);
      let result;
      try {
        result = await pool.run(entry.id, input, signal === undefined ? {} : { signal });
      } catch {
        return undefined; // a busy or stopping pool: no canary this time
      }
      init.onCompute?.(result.runMs);
      if (isClearAnswer(entry.pre, result.output)) return { input, output: result.output, units: result.units };
    }
    return undefined;
  }

  return {
    supports: (entry) => entry.sizeClass !== 'heavy' && generatorFor(entry.pre) !== undefined,

    async take(entry, worker, options = {}) {
      const list = cases.get(entry.id) ?? [];
      cases.set(entry.id, list);
      let found = list.find((c) => !c.sentTo.has(worker));
      if (found === undefined) {
        const made = await make(entry, options.signal);
        if (made === undefined) return undefined;
        found = { value: made, sentTo: new Set() };
        list.push(found);
        if (list.length > perModel) list.shift();
      }
      found.sentTo.add(worker);
      const index = list.indexOf(found);
      if (found.sentTo.size >= maxUses && index >= 0) list.splice(index, 1);
      return found.value;
    },
  };
}
