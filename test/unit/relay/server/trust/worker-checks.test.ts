/**
 * The checks on untrusted workers: canaries with known answers, re-checks by
 * the pool or a second worker (the pool deciding between two), and what a
 * proven wrong answer costs: conviction, a slash of the stake with the
 * worker's own receipt as evidence, and no pay.
 */
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '#core/encoding/bytes.ts';
import type { AccountId, Hash, TaskId, TxId } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { InsufficientStakeError } from '#core/ledger/errors.ts';
import { createReputationBook } from '#server/scheduler/reputation-book.ts';
import type { CanaryStore } from '#server/trust/canary-store.ts';
import { createTrustTally } from '#server/trust/trust-tally.ts';
import {
  createWorkerChecks,
  type AuditKind,
  type CheckedTask,
  type WorkerChecksInit,
  type WorkerRun,
} from '#server/trust/worker-checks.ts';
import { fakeLedger, fakeWorker, languageEntry, languageOutput, TEXT, verifier } from '#test/task-service-fakes.ts';
import { signerFor } from '#test/network.ts';

const entry = languageEntry();
const relay = signerFor('relay');
const task: CheckedTask = { id: 'a'.repeat(64) as TaskId, entry, input: TEXT };
const honest = languageOutput('eng');
const wrong = languageOutput('fra');

function runBy(worker: AccountId, output: Uint8Array, receipt = new Uint8Array([7])): WorkerRun {
  return { worker, output, receipt, outputHash: sha256Hex(output) as Hash };
}

interface StartedAudit {
  readonly kind: AuditKind;
  readonly worker: AccountId;
  readonly task: TaskId;
  answer: (run: WorkerRun | undefined) => void;
  readonly judged: boolean[];
}

function setup(overrides: Partial<WorkerChecksInit> = {}) {
  const ledger = fakeLedger(relay);
  const first = fakeWorker('first', entry);
  const second = fakeWorker('second', entry);
  for (const worker of [first, second]) ledger.set(worker.info.account, { stake: 1000 });
  const reputation = createReputationBook({ ledgerReputation: () => 500 });
  const tally = createTrustTally();
  const audits: StartedAudit[] = [];
  const poolRuns: TaskId[] = [];
  const slashes: { task: TaskId; tx: TxId }[] = [];
  const errors: unknown[] = [];
  let auditCount = 0;
  const canaries: CanaryStore = {
    supports: () => true,
    take: () => Promise.resolve({ input: TEXT, output: honest, units: 1 }),
  };
  const checks = createWorkerChecks({
    canaryRate: 0,
    recheckRate: 0,
    slashShare: 0.5,
    random: () => 0.5,
    ledger,
    verifier,
    reputation,
    tally,
    catalogue: () => Promise.resolve({ v: 1, models: [entry] }),
    workers: () => [first.info, second.info],
    canaries,
    canAudit: true,
    pickWorker: (_entry: ModelEntry, exclude: readonly AccountId[]) =>
      [first.info, second.info].find((w) => !exclude.includes(w.account)),
    runOnPool(id) {
      poolRuns.push(id);
      return Promise.resolve(runBy(relay.accountId, honest));
    },
    startAudit(kind, worker) {
      auditCount++;
      const id = sha256Hex(new TextEncoder().encode(`audit ${auditCount}`)) as TaskId;
      let answer: (run: WorkerRun | undefined) => void = () => undefined;
      const answered = new Promise<WorkerRun | undefined>((resolve) => {
        answer = resolve;
      });
      const judged: boolean[] = [];
      audits.push({ kind, worker, task: id, answer, judged });
      return Promise.resolve({ task: id, answer: answered, judge: (pay) => judged.push(pay) });
    },
    requesterOf: () => signerFor('alice').accountId,
    recordSlash: (id, tx) => slashes.push({ task: id, tx }),
    onError: (error) => errors.push(error),
    ...overrides,
  });
  return {
    ledger,
    first,
    second,
    reputation,
    tally,
    audits,
    poolRuns,
    slashes,
    errors,
    checks,
  };
}

/** Lets the audit started by `maybeCanary` or a re-check reach its answer. */
async function nextAudit(audits: StartedAudit[], index: number): Promise<StartedAudit> {
  for (let i = 0; i < 20 && audits[index] === undefined; i++) await new Promise((resolve) => setImmediate(resolve));
  const audit = audits[index];
  if (audit === undefined) throw new Error(`no audit ${index}`);
  return audit;
}

describe('worker checks', () => {
  describe('canaries', () => {
    it('sends none without audit accounts, at a zero rate, or when the draw is above the rate', () => {
      expect(setup({ canAudit: false, canaryRate: 1 }).checks.maybeCanary(setup().first.info, task)).toBeUndefined();
      const zero = setup();
      expect(zero.checks.maybeCanary(zero.first.info, task)).toBeUndefined();
      const above = setup({ canaryRate: 0.4, random: () => 0.4 });
      expect(above.checks.maybeCanary(above.first.info, task)).toBeUndefined();
    });

    it('passes a worker that gives the known answer: verified, paid, and its task accepted', async () => {
      const { first, reputation, tally, audits, checks } = setup({ canaryRate: 1 });
      const canary = checks.maybeCanary(first.info, task);
      const audit = await nextAudit(audits, 0);
      expect(audit).toMatchObject({ kind: 'canary', worker: first.info.account });
      audit.answer(runBy(first.info.account, honest));
      await expect(canary).resolves.toBe('passed');
      expect(audit.judged[0]).toBe(true);
      expect(reputation.adjustment(first.info.account)).toBeGreaterThan(0);
      expect(tally.snapshot().canaries.passed).toBe(1);
      const run = runBy(first.info.account, honest);
      await expect(checks.check(task, run, canary, [])).resolves.toBe(run);
    });

    it('convicts and slashes a worker that gets the canary wrong, refuses its pay and its task', async () => {
      const { ledger, first, reputation, tally, audits, slashes, checks } = setup({ canaryRate: 1 });
      const canary = checks.maybeCanary(first.info, task);
      const audit = await nextAudit(audits, 0);
      const evidence = new Uint8Array([4, 2]);
      audit.answer(runBy(first.info.account, wrong, evidence));
      await expect(canary).resolves.toBe('mismatch');
      expect(audit.judged[0]).toBe(false);
      expect(reputation.isConvicted(first.info.account)).toBe(true);
      expect(ledger.of('tx/slash').map((c) => c.payload)).toEqual([
        { worker: first.info.account, task: audit.task, amount: 500, evidence },
      ]);
      expect(slashes).toEqual([{ task: audit.task, tx: ledger.of('tx/slash')[0]?.id }]);
      expect(tally.snapshot()).toMatchObject({ mismatches: 1, slashes: 1, slashedTokens: 500 });
      await expect(checks.check(task, runBy(first.info.account, honest), canary, [])).resolves.toBeUndefined();
    });

    it('learns nothing from a worker that gives no answer, and refunds the canary', async () => {
      const { first, tally, audits, checks } = setup({ canaryRate: 1 });
      const canary = checks.maybeCanary(first.info, task);
      const audit = await nextAudit(audits, 0);
      audit.answer(undefined);
      await expect(canary).resolves.toBe('none');
      expect(audit.judged).toEqual([false]);
      expect(tally.snapshot().canaries['no-answer']).toBe(1);
    });

    it('sends none when no known answer can be made', async () => {
      const { first, audits, checks } = setup({
        canaryRate: 1,
        canaries: { supports: () => true, take: () => Promise.resolve(undefined) },
      });
      await expect(checks.maybeCanary(first.info, task)).resolves.toBe('none');
      expect(audits).toEqual([]);
    });
  });

  describe('re-checks', () => {
    it('accepts without a re-check when the draw is above the rate', async () => {
      const { first, poolRuns, checks } = setup({ recheckRate: 0.5, random: () => 0.5 });
      const run = runBy(first.info.account, honest);
      await expect(checks.check(task, run, undefined, [])).resolves.toBe(run);
      expect(poolRuns).toEqual([]);
    });

    it('re-runs on the pool without audit accounts, and accepts an answer that agrees', async () => {
      const { first, reputation, tally, poolRuns, checks } = setup({ recheckRate: 1, canAudit: false });
      const run = runBy(first.info.account, honest);
      await expect(checks.check(task, run, undefined, [])).resolves.toBe(run);
      expect(poolRuns).toEqual([task.id]);
      expect(tally.snapshot().rechecks['pool-agreed']).toBe(1);
      expect(reputation.adjustment(first.info.account)).toBeGreaterThan(0);
    });

    it('settles the pool’s answer instead of a wrong one, convicting and slashing the worker', async () => {
      const { ledger, first, reputation, slashes, checks } = setup({ recheckRate: 1, canAudit: false });
      const receipt = new Uint8Array([1, 2, 3]);
      const accepted = await checks.check(task, runBy(first.info.account, wrong, receipt), undefined, []);
      expect(accepted?.worker).toBe(relay.accountId);
      expect(accepted?.output).toEqual(honest);
      expect(reputation.isConvicted(first.info.account)).toBe(true);
      expect(ledger.of('tx/slash')[0]?.payload).toEqual({
        worker: first.info.account,
        task: task.id,
        amount: 500,
        evidence: receipt,
      });
      expect(slashes.map((s) => s.task)).toEqual([task.id]);
    });

    it('never asks a worker that failed the task for the second opinion: the pool gives it', async () => {
      const third = fakeWorker('third', entry);
      const { first, audits, poolRuns, checks } = setup({
        recheckRate: 1,
        pickWorker: (_entry, exclude) => [third.info, first.info].find((w) => !exclude.includes(w.account)),
      });
      const run = runBy(first.info.account, honest);
      await expect(checks.check(task, run, undefined, [third.info.account])).resolves.toBe(run);
      expect(audits).toEqual([]);
      expect(poolRuns).toEqual([task.id]);
    });

    it('pays a second worker that agrees, verifying both', async () => {
      const { first, second, reputation, tally, audits, poolRuns, checks } = setup({ recheckRate: 1 });
      const run = runBy(first.info.account, honest);
      const checking = checks.check(task, run, undefined, []);
      const audit = await nextAudit(audits, 0);
      expect(audit).toMatchObject({ kind: 'recheck', worker: second.info.account });
      audit.answer(runBy(second.info.account, honest));
      await expect(checking).resolves.toBe(run);
      expect(audit.judged[0]).toBe(true);
      expect(poolRuns).toEqual([]);
      expect(tally.snapshot().rechecks['worker-agreed']).toBe(1);
      expect(reputation.adjustment(second.info.account)).toBeGreaterThan(0);
    });

    it('lets the pool decide between two workers who disagree, convicting the one who lied', async () => {
      const { first, second, reputation, audits, poolRuns, checks } = setup({ recheckRate: 1 });
      const run = runBy(first.info.account, honest);
      const checking = checks.check(task, run, undefined, []);
      const audit = await nextAudit(audits, 0);
      audit.answer(runBy(second.info.account, wrong));
      await expect(checking).resolves.toBe(run);
      expect(poolRuns).toEqual([task.id]);
      expect(audit.judged[0]).toBe(false);
      expect(reputation.isConvicted(second.info.account)).toBe(true);
      expect(reputation.isConvicted(first.info.account)).toBe(false);
    });

    it('falls back to the pool when the second worker gives no answer', async () => {
      const { first, audits, poolRuns, tally, checks } = setup({ recheckRate: 1 });
      const run = runBy(first.info.account, honest);
      const checking = checks.check(task, run, undefined, []);
      (await nextAudit(audits, 0)).answer(undefined);
      await expect(checking).resolves.toBe(run);
      expect(poolRuns).toEqual([task.id]);
      expect(tally.snapshot().rechecks['pool-agreed']).toBe(1);
    });
  });

  it('refuses the run of a worker already convicted', async () => {
    const { first, reputation, checks } = setup();
    reputation.convict(first.info.account);
    await expect(checks.check(task, runBy(first.info.account, honest), undefined, [])).resolves.toBeUndefined();
  });

  describe('slashes', () => {
    it('takes at least one token, and none from a worker with no stake left', async () => {
      const { ledger, first, second, checks } = setup({
        recheckRate: 1,
        canAudit: false,
        slashShare: 0.0001,
      });
      await checks.check(task, runBy(first.info.account, wrong), undefined, []);
      expect(ledger.of('tx/slash')[0]?.payload.amount).toBe(1);
      ledger.set(second.info.account, { stake: 0 });
      await checks.check(task, runBy(second.info.account, wrong), undefined, []);
      expect(ledger.of('tx/slash')).toHaveLength(1);
    });

    it('reports a slash the ledger refuses, and still convicts', async () => {
      const { ledger, first, reputation, slashes, errors, checks } = setup({ recheckRate: 1, canAudit: false });
      ledger.refuse('tx/slash', new InsufficientStakeError('gone'));
      await expect(checks.check(task, runBy(first.info.account, wrong), undefined, [])).resolves.toMatchObject({
        worker: relay.accountId,
      });
      expect(errors).toEqual([expect.objectContaining({ name: 'InsufficientStakeError', code: 'insufficient-stake' })]);
      expect(slashes).toEqual([]);
      expect(reputation.isConvicted(first.info.account)).toBe(true);
    });
  });
});
