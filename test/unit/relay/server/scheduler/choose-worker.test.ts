/**
 * The scheduler's choice of a worker, as the pure function it is: who may run
 * a model at all (its adverts, the size class), who rests after failures or
 * is below the reputation floor, and how the rest are ranked.
 */
import { describe, expect, it } from 'vitest';
import type { AccountId } from '#core/identity/ids.ts';
import { chooseWorker, mayRun, workerScore, type ChoiceRules } from '#server/scheduler/choose-worker.ts';
import type { WorkerInfo } from '#server/scheduler/scheduler.ts';
import { fakeWorker, languageEntry } from '#test/task-service-fakes.ts';
import { T0 } from '#test/network.ts';

const entry = languageEntry();
const AT = T0 + 60_000;

function worker(
  name: string,
  changes: Partial<WorkerInfo> = {},
  advert: Partial<WorkerInfo['advert']> = {},
): WorkerInfo {
  const base = fakeWorker(name, entry, advert).info;
  return { ...base, ...changes };
}

function rules(overrides: Partial<ChoiceRules> = {}, reputations: Record<string, number> = {}): ChoiceRules {
  return {
    reputation: (account: AccountId) => reputations[account] ?? 500,
    minReputation: 300,
    maxConsecutiveFailures: 3,
    failureBackoffMs: 30_000,
    ...overrides,
  };
}

describe('mayRun', () => {
  it('needs the model in the advert, and keeps heavy models on the relay', () => {
    expect(mayRun(worker('a'), entry)).toBe(true);
    expect(mayRun(worker('a', {}, { models: [] }), entry)).toBe(false);
    expect(mayRun(worker('a'), languageEntry({ sizeClass: 'heavy' }))).toBe(false);
  });

  it('sends desktop models to desktop workers only', () => {
    const desktopModel = languageEntry({ sizeClass: 'desktop' });
    expect(mayRun(worker('desk', { sizeClass: 'desktop' }), desktopModel)).toBe(true);
    expect(mayRun(worker('phone', { sizeClass: 'phone' }), desktopModel)).toBe(false);
    expect(mayRun(worker('phone', { sizeClass: 'phone' }), entry)).toBe(true);
  });
});

describe('workerScore', () => {
  it('weighs reputation most, then price, load and latency, less recent failures', () => {
    const plain = worker('a');
    expect(workerScore(plain, 1000, 1, 0)).toBeCloseTo(4 + 2 + 2 + 0.5);
    expect(workerScore(plain, 0, 1, 0)).toBeCloseTo(2 + 2 + 0.5);
    expect(workerScore(plain, 2000, 1, 0)).toBe(workerScore(plain, 1000, 1, 0));
    expect(workerScore(worker('b', { inFlight: 1 }), 1000, 1, 0)).toBeCloseTo(4 + 2 + 1 + 0.5);
    expect(workerScore(worker('c', {}, { pricePerUnit: 3 }), 1000, 1, 0)).toBeCloseTo(4 + 1 + 2 + 0.5);
    expect(workerScore(worker('d', { latencyMs: 9 }), 1000, 1, 9)).toBeCloseTo(4 + 2 + 2 + 1);
    expect(workerScore(worker('e', { consecutiveFailures: 9 }), 1000, 1, 0)).toBeCloseTo(4 + 2 + 2 + 0.5 - 2);
  });
});

describe('chooseWorker', () => {
  it('chooses none for a heavy model, or when no worker may take it', () => {
    expect(chooseWorker([worker('a')], languageEntry({ sizeClass: 'heavy' }), AT, rules())).toBeUndefined();
    expect(chooseWorker([], entry, AT, rules())).toBeUndefined();
    expect(chooseWorker([worker('a', {}, { models: [] })], entry, AT, rules())).toBeUndefined();
  });

  it('leaves out excluded workers', () => {
    const a = worker('a');
    const b = worker('b');
    expect(chooseWorker([a, b], entry, AT, rules(), { exclude: [a.account] })).toBe(b);
    expect(chooseWorker([a, b], entry, AT, rules(), { exclude: new Set([a.account, b.account]) })).toBeUndefined();
  });

  it('leaves out workers below the reputation floor', () => {
    const low = worker('low');
    const ok = worker('ok');
    const choice = rules({}, { [low.account]: 299, [ok.account]: 300 });
    expect(chooseWorker([low, ok], entry, AT, choice)).toBe(ok);
    expect(chooseWorker([low], entry, AT, choice)).toBeUndefined();
  });

  it('rests a worker after consecutive failures until the backoff has passed', () => {
    const tired = worker('tired', { consecutiveFailures: 3, lastFailure: { reason: 'timeout', at: AT - 10_000 } });
    expect(chooseWorker([tired], entry, AT, rules())).toBeUndefined();
    expect(chooseWorker([tired], entry, AT + 20_000, rules())).toBe(tired);
    const twice = worker('twice', { consecutiveFailures: 2, lastFailure: { reason: 'timeout', at: AT } });
    expect(chooseWorker([twice], entry, AT, rules())).toBe(twice);
  });

  it('leaves out workers asking more than the task pays per unit', () => {
    const cheap = worker('cheap', {}, { pricePerUnit: 2 });
    const dear = worker('dear', {}, { pricePerUnit: 8 });
    expect(chooseWorker([dear, cheap], entry, AT, rules(), { maxPricePerUnit: 5 })).toBe(cheap);
  });

  it('prefers the better reputation, then the cheaper, less loaded and faster worker', () => {
    const trusted = worker('trusted');
    const other = worker('other');
    expect(chooseWorker([other, trusted], entry, AT, rules({}, { [trusted.account]: 900 }))).toBe(trusted);
    const idle = worker('idle');
    const busy = worker('busy', { inFlight: 3 });
    expect(chooseWorker([busy, idle], entry, AT, rules())).toBe(idle);
    const fast = worker('fast', { latencyMs: 10 });
    const slow = worker('slow', { latencyMs: 500 });
    expect(chooseWorker([slow, fast], entry, AT, rules())).toBe(fast);
  });

  it('gives a tie to the earlier worker', () => {
    const first = worker('first');
    const second = worker('second');
    expect(chooseWorker([first, second], entry, AT, rules())).toBe(first);
    expect(chooseWorker([second, first], entry, AT, rules())).toBe(second);
  });
});
