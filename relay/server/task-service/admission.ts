/**
 * Admission and escrow: a signed task and its input are checked (signature,
 * network, freshness, model, input hash and size, price), the task's
 * `maxPrice` is escrowed in the ledger, and the task is recorded and started.
 * The price is the relay's own quote (`quoteTask`): for a language model, the
 * most the task may cost, its prompt and every piece it may generate; what
 * it did cost is counted when it settles (./settlement.ts). Re-submitting
 * a task is idempotent: the relay answers with the task it has. A task that
 * has not started can be cancelled by its requester, which refunds the escrow.
 */
import { sha256Hex } from '#core/encoding/bytes.ts';
import { readMessage, type SignedMessage } from '#core/envelope/envelope.ts';
import { checkFreshness } from '#core/envelope/freshness.ts';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import { WrongNetworkError } from '#core/ledger/errors.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { quoteTask } from '#core/models/pricing.ts';
import { decodeCancelPayload, decodeTaskPayload, type TaskPayload } from '#core/messages/task.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { unwrap } from '#core/result.ts';
import { canTransition } from '#core/task-state/task-state.ts';
import { UnknownModelError } from '#node/pool/errors.ts';
import type { LedgerService } from '../ledger/ledger-service.ts';
import type { AuditJob } from '../trust/audit-tasks.ts';
import type { DirectPath, Submission } from './direct-path.ts';
import { ForbiddenError, InputMismatchError, NotCancellableError, PriceTooLowError } from './errors.ts';
import type { Settlement } from './settlement.ts';
import type { TaskBook, TaskEvents, TaskRecord, TaskView } from './task-book.ts';

/** How a requester wants its task run: through the relay, or on a worker it dials itself over WebRTC. */
export type TaskRoute = 'brokered' | 'direct';

/** A task whose checks passed, ready to escrow. */
export interface AdmittedTask {
  readonly message: SignedMessage<'task', TaskPayload>;
  /** The encoded signed task. */
  readonly bytes: Uint8Array;
  readonly input: Uint8Array;
  readonly entry: ModelEntry;
  /** Units of work the relay read from the input (for a language model, the most pieces it may generate). */
  readonly units: number;
  /**
   * The relay's quote for the input (`quoteTask`): what the task costs, or
   * for a language model the most it may cost (its prompt and every piece it
   * may generate); what it did cost is counted at settlement.
   */
  readonly price: number;
  readonly route: TaskRoute;
  /** Set for the relay's own audit tasks, which go to one worker and are never offered for the direct path. */
  readonly audit?: AuditJob;
}

export interface AdmissionInit {
  readonly ledger: Pick<LedgerService, 'network' | 'submitSigned'>;
  readonly verifier: Ed25519Verifier;
  readonly catalogue: () => Promise<Catalogue>;
  readonly book: Pick<TaskBook, 'get' | 'find' | 'has' | 'add' | 'move' | 'forget'>;
  /** Offers direct tasks to a worker, and answers submissions with the offer. */
  readonly direct: Pick<DirectPath, 'pick' | 'offer' | 'assign' | 'withOffer' | 'giveUp'>;
  readonly settlement: Pick<Settlement, 'refundCancelled'>;
  /** Runs an accepted task to its end; called after `accept` returns, so a cancel can still reach it. */
  readonly start: (task: TaskRecord) => Promise<void> | undefined;
  /** Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** Told of every task accepted. Default none. */
  readonly events?: Partial<TaskEvents> | undefined;
  /** Called with the verified requester before anything is escrowed; throw to refuse (rate limits). Default: all admitted. */
  readonly admit?: ((requester: AccountId) => void) | undefined;
  /** A task's run rejected. Default: ignored. */
  readonly onError?: ((error: unknown, task: TaskId) => void) | undefined;
}

export interface Admission {
  /** See `TaskService.submit`. */
  submit(task: Uint8Array, input: Uint8Array, options?: { readonly route?: TaskRoute }): Promise<Submission>;
  /** Escrows an admitted task, records it and starts running it; undefined when it was a duplicate, or an audit task the ledger refused. */
  accept(task: AdmittedTask): Promise<TaskRecord | undefined>;
  /** See `TaskService.cancel`. */
  cancel(id: TaskId, cancel: Uint8Array): Promise<TaskView>;
  /** Resolves when every running task has finished. */
  idle(): Promise<void>;
}

export function createAdmission(init: AdmissionInit): Admission {
  const { ledger, verifier, book, direct } = init;
  const now = init.now ?? Date.now;
  const running = new Set<Promise<void>>();

  async function accept(admitted: AdmittedTask): Promise<TaskRecord | undefined> {
    const { message, entry, audit } = admitted;
    const id = message.id as TaskId;
    // Signed before the escrow, so the task is recorded in one step once escrowed (a duplicate submit finds it).
    const worker = admitted.route === 'direct' && audit === undefined ? direct.pick(entry) : undefined;
    const assignment = worker === undefined ? undefined : await direct.offer(id, entry, worker);
    const escrow = await ledger.submitSigned('tx/escrow', { task: admitted.bytes });
    if (book.has(id)) return undefined; // a concurrent duplicate got here first
    if (audit !== undefined && !escrow.ok) return undefined;
    const escrowed = unwrap(escrow);
    const task: TaskRecord = {
      message,
      bytes: admitted.bytes,
      input: admitted.input,
      entry,
      ...(audit === undefined ? {} : { audit }),
      view: {
        id,
        requester: message.signer,
        model: entry.id,
        state: 'pending',
        price: admitted.price,
        maxPrice: message.payload.maxPrice,
        units: admitted.units,
        submittedAt: now(),
        finishedAt: undefined,
        escrowTx: escrowed.id,
        settleTx: undefined,
        refundTx: undefined,
        slashTxs: [],
        worker: undefined,
        outputHash: undefined,
        error: undefined,
      },
    };
    if (assignment !== undefined) direct.assign(task, assignment);
    book.add(task);
    init.events?.submitted?.(task.view);
    // Run after this call returns, so a cancel can still reach a pending task.
    const run = Promise.resolve()
      .then(() => init.start(task))
      .catch((error: unknown) => init.onError?.(error, id))
      .finally(() => {
        running.delete(run);
        book.forget();
      });
    running.add(run);
    return task;
  }

  return {
    async submit(bytes, input, options = {}) {
      const route = options.route ?? 'brokered';
      const message = unwrap(readMessage(bytes, 'task', decodeTaskPayload, verifier));
      const existing = book.find(message.id as TaskId);
      if (existing) return direct.withOffer(existing, false);
      init.admit?.(message.signer);
      const p = message.payload;
      if (p.net !== ledger.network) throw new WrongNetworkError(`this relay is network ${ledger.network}`);
      unwrap(checkFreshness(p.ts, now()));
      const entry = (await init.catalogue()).models.find((m) => m.id === p.model);
      if (!entry) throw new UnknownModelError(`this relay has no model ${p.model}`);
      if (input.length !== p.inputBytes || sha256Hex(input) !== p.input) {
        throw new InputMismatchError('the input bytes do not match the hash and size the task was signed with');
      }
      const pipeline = pipelineFor(entry.pre);
      if (!pipeline) throw new UnknownModelError(`this relay cannot run ${entry.name}: no pipeline ${entry.pre}`);
      // An input the model cannot take (an empty prompt, one longer than the context, no pieces
      // or too many to generate) is refused here with InvalidModelInputError, before any escrow.
      const quote = unwrap(quoteTask(entry, pipeline, unwrap(pipeline.decodeInput(input))));
      if (p.maxPrice < quote.price) {
        const most = quote.usage === undefined ? '' : ' at most (its prompt and every piece it may generate)';
        throw new PriceTooLowError(
          `${entry.name} costs ${quote.price}${most} for this input; the task offers at most ${p.maxPrice}`,
        );
      }
      const { units, price } = quote;
      const created = await accept({ message, bytes, input, entry, units, price, route });
      if (created === undefined) return direct.withOffer(book.get(message.id as TaskId), false);
      return direct.withOffer(created, true);
    },

    accept,

    async cancel(id, bytes) {
      const task = book.get(id);
      const cancel = unwrap(readMessage(bytes, 'task/cancel', decodeCancelPayload, verifier));
      if (cancel.payload.task !== id || cancel.payload.net !== ledger.network) {
        throw new ForbiddenError('the cancel message is for another task or network');
      }
      if (cancel.signer !== task.view.requester) throw new ForbiddenError('only the requester may cancel a task');
      unwrap(checkFreshness(cancel.payload.ts, now()));
      if (!canTransition(task.view.state, 'cancelled')) {
        throw new NotCancellableError(
          `the task is ${task.view.state}; only a task that has not started can be cancelled`,
        );
      }
      book.move(task, 'cancelled');
      // A direct task waiting for its receipt stops waiting (its run sees the cancel and does nothing).
      if (task.direct !== undefined) direct.giveUp(task.direct);
      await init.settlement.refundCancelled(task);
      return task.view;
    },

    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}
