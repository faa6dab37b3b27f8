/**
 * The relay's own tasks, sent to check a worker: a canary (an input whose
 * answer the relay knows) or a re-check by a second worker. Each is signed by
 * one of the relay's audit accounts (see ./audit-accounts.ts), escrowed and
 * dispatched like any task, so the worker cannot tell it apart; it goes to
 * its one worker only, and its answer waits for the check that made it:
 * paid when judged right, refunded when not.
 */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '#core/encoding/bytes.ts';
import { encodeEnvelope, readMessage, signEnvelope } from '#core/envelope/envelope.ts';
import type { AccountId, Hash } from '#core/identity/ids.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { quoteTask } from '#core/models/pricing.ts';
import { decodeTaskPayload, TASK_NONCE_BYTES, type TaskPayload } from '#core/messages/task.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { unwrap } from '#core/result.ts';
import type { LedgerService } from '../ledger/ledger-service.ts';
import type { Admission } from '../task-service/admission.ts';
import { deferred } from '../task-service/deferred.ts';
import type { Settlement } from '../task-service/settlement.ts';
import type { TaskBook, TaskRecord } from '../task-service/task-book.ts';
import type { TaskRunner } from '../task-service/task-runner.ts';
import type { AuditAccounts } from './audit-accounts.ts';
import type { AuditHandle, AuditKind, WorkerRun } from './worker-checks.ts';

/** An audit task's link to the check that made it. */
export interface AuditJob {
  readonly kind: AuditKind;
  /** The worker it goes to, and only to. */
  readonly worker: AccountId;
  /** Resolves with the worker's run, or undefined when it gave none. */
  readonly answered: (run: WorkerRun | undefined) => void;
  /** Resolves with whether the worker is paid for it. */
  readonly judged: Promise<boolean>;
}

export interface AuditTasksInit {
  readonly ledger: Pick<LedgerService, 'network'>;
  readonly verifier: Ed25519Verifier;
  /** The accounts that sign and pay for audit tasks. */
  readonly auditors: Pick<AuditAccounts, 'pick'>;
  /** Escrows and starts an audit task like any task. */
  readonly admission: Pick<Admission, 'accept'>;
  readonly book: Pick<TaskBook, 'move'>;
  readonly runner: Pick<TaskRunner, 'onWorker'>;
  readonly settlement: Pick<Settlement, 'settle' | 'fail'>;
  /** Uniform numbers in [0, 1) that vary the price offered. Default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /** The clock of the tasks' `ts`. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** A fresh task nonce. Default {@link TASK_NONCE_BYTES} random bytes. */
  readonly nonce?: (() => TaskPayload['nonce']) | undefined;
}

export interface AuditTasks {
  /**
   * Signs a task for `input` with one of the relay's audit accounts, escrows
   * it and sends it to `worker` only. Undefined when the input does not
   * decode for `entry` or no audit account can pay for it.
   */
  start(kind: AuditKind, worker: AccountId, entry: ModelEntry, input: Uint8Array): Promise<AuditHandle | undefined>;
  /** Runs an audit task on its one worker; its answer waits for its judge: settled if right, refunded if not. */
  run(task: TaskRecord, job: AuditJob): Promise<void>;
}

export function createAuditTasks(init: AuditTasksInit): AuditTasks {
  const { ledger, verifier, auditors, book, runner, settlement } = init;
  const random = init.random ?? Math.random;
  const now = init.now ?? Date.now;
  const nonce = init.nonce ?? (() => new Uint8Array(randomBytes(TASK_NONCE_BYTES)));

  return {
    async start(kind, worker, entry, input) {
      const pipeline = pipelineFor(entry.pre);
      const decoded = pipeline?.decodeInput(input);
      if (pipeline === undefined || decoded?.ok !== true) return undefined;
      // Quoted as admission quotes a requester's task (a language model: its prompt and the most it may generate).
      const quote = quoteTask(entry, pipeline, decoded.value);
      if (!quote.ok) return undefined;
      const { units, price } = quote.value;
      // Requesters offer a little over the price as often as not: a unit or two, or for a
      // language model (whose price is a few tokens) a token or two.
      const step = quote.value.usage === undefined ? entry.price.perUnit : 1;
      const maxPrice = price + Math.floor(random() * 3) * step;
      const auditor = await auditors.pick(maxPrice);
      if (auditor === undefined) return undefined;
      const payload: TaskPayload = {
        v: 1,
        net: ledger.network,
        model: entry.id,
        input: sha256Hex(input) as Hash,
        inputBytes: input.length,
        maxPrice,
        nonce: nonce(),
        ts: now(),
      };
      const bytes = encodeEnvelope(await signEnvelope(auditor, 'task', payload));
      const message = unwrap(readMessage(bytes, 'task', decodeTaskPayload, verifier));
      const answer = deferred<WorkerRun | undefined>();
      const judged = deferred<boolean>();
      const audit = { kind, worker, answered: answer.resolve, judged: judged.promise };
      const created = await init.admission.accept({
        message,
        bytes,
        input,
        entry,
        units,
        price,
        route: 'brokered',
        audit,
      });
      if (created === undefined) return undefined;
      return { task: created.view.id, answer: answer.promise, judge: judged.resolve };
    },

    async run(task, job) {
      book.move(task, 'assigned', { worker: job.worker });
      book.move(task, 'running');
      let run: WorkerRun;
      try {
        run = await runner.onWorker(task, job.worker, job.kind);
      } catch (error) {
        job.answered(undefined);
        await settlement.fail(task, error);
        return;
      }
      book.move(task, 'completed', { worker: run.worker, outputHash: run.outputHash });
      job.answered(run);
      if (await job.judged) await settlement.settle(task, run);
      else await settlement.fail(task, new Error('the answer was proven wrong'));
    },
  };
}
