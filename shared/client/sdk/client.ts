/**
 * `AIComputeClient`: the relay's REST API and events for the app, the service
 * worker, the CLI and anyone's scripts. Isomorphic: it needs only `fetch`,
 * `WebSocket` and `AbortSignal` (each can be passed in).
 *
 * With a `signer` it signs tasks, cancels and transactions as that account;
 * with `pinnedRelay` it refuses (with {@link RelayKeyMismatchError}) a relay
 * whose status or block headers show another key, and uses that key as the
 * network id so tasks can be signed offline.
 */
import * as v from 'valibot';
import { sha256Hex, toBase64Url } from '#core/encoding/bytes.ts';
import { decodeEnvelope, encodeEnvelope, messageId, signEnvelope } from '#core/envelope/envelope.ts';
import {
  accountIdFromPublicKey,
  type AccountId,
  type Hash,
  type ModelId,
  type TaskId,
  type TxId,
} from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import { checkHeaderLink, readBlockHeader } from '#core/ledger/block.ts';
import { readTransaction, signTransaction } from '#core/ledger/transaction.ts';
import { decodeBlockHeaderPayload } from '#core/messages/block-header.ts';
import type { TransactionPayloads } from '#core/messages/transactions.ts';
import { TASK_NONCE_BYTES, type CancelPayload, type StopPayload, type TaskPayload } from '#core/messages/task.ts';
import { catalogueSchema, type Catalogue } from '#core/models/catalogue.ts';
import type { PowSolution } from '#core/pow/pow.ts';
import { openEnvelope } from '#core/envelope/envelope.ts';
import {
  HeaderChainError,
  InvalidRelayResponseError,
  NoSignerError,
  RelayApiError,
  RelayKeyMismatchError,
  TaskFailedError,
} from './errors.ts';
import { subscribeToEvents, type EventSubscription, type WebSocketLike } from './events.ts';
import { startGeneration, type GenerateParams, type GenerationStream } from './generation.ts';
import type { HeaderStore } from './header-store.ts';
import { createRelayHttp, type FetchLike, type RelayHttp } from './relay-http.ts';
import { readServerSentEvents } from './sse.ts';
import {
  balanceSchema,
  blocksPageSchema,
  onboardedSchema,
  puzzleSchema,
  statusSchema,
  storedTxSchema,
  submittedTxSchema,
  taskAnswerSchema,
  taskListSchema,
  taskResultSchema,
  errorBodySchema,
  txProofSchema,
  type AccountBalance,
  type BlocksPage,
  type Onboarded,
  type OnboardPuzzle,
  type RelayStatus,
  type StoredTx,
  type SubmittedTx,
  type TaskResult,
  type TaskView,
  type TxProof,
} from '#core/api/responses.ts';
import { verifyResult, type VerificationReport } from './verify-result.ts';
import { signFallbackRequest } from '#core/messages/assignment.ts';
// Loaded on the first direct answer: it brings multiaddr and libp2p's stream helpers.
import type { DirectNode } from './direct-dial.ts';
import { directSubmitSchema, type DirectOffer } from '#core/api/responses.ts';

export interface AIComputeClientInit {
  /** The relay's base URL, e.g. `https://relay.example.org` (a path prefix is kept). */
  readonly relayUrl: string;
  /** Signs tasks, cancels and transactions; the client's account is its public key's. Default: none (read-only). */
  readonly signer?: Signer;
  /** The relay key the user joined with (from the join URL's `#relay=`). Default: not pinned. */
  readonly pinnedRelay?: AccountId;
  /** Default: the global `fetch`. */
  readonly fetch?: FetchLike;
  /** Default: the global `WebSocket`; without one, waiting for results polls. */
  readonly WebSocket?: WebSocketLike;
  /** Verifies signatures of headers and results. Default: noble (pure JS). */
  readonly verifier?: Ed25519Verifier;
  /** Longest wait for one HTTP request. Default 30 000 ms. */
  readonly timeoutMs?: number;
  /** Clock for the timestamps the client signs. Default `Date.now`. */
  readonly now?: () => number;
}

export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
}

export interface TaskParams extends CallOptions {
  /** The catalogue model's id (the SHA-256 of its ONNX file). */
  readonly model: ModelId;
  readonly input: Uint8Array;
  /** The most this task may cost; it is escrowed until the task settles. */
  readonly maxPrice: number;
}

export interface SignedTask {
  readonly taskId: TaskId;
  /** The encoded, signed task envelope: what the relay (or the outbox) keeps. */
  readonly envelope: Uint8Array;
  readonly input: Uint8Array;
  readonly payload: TaskPayload;
}

export interface SubmittedTask {
  readonly task: TaskView;
  /** False when the relay already had this task (a resubmission). */
  readonly created: boolean;
}

/** Called with each generated piece's index and the text it makes final ('' while text is held back). */
export type TextListener = (index: number, text: string) => void;

export interface WaitOptions extends CallOptions {
  /** How often to ask while no event connection is open (ten times less often while one is). Default 1000 ms. */
  readonly pollMs?: number;
  /**
   * A text generation's text as it is made: the wait then follows the
   * relay's text stream (`GET /api/tasks/:id/stream`) instead of its events.
   * Each piece is given once, in order, even across reconnections.
   */
  readonly onText?: TextListener | undefined;
  /**
   * Stop: aborting it asks the relay (signed as the requester) to end the
   * generation where it is. The wait then resolves with the shorter result,
   * which costs only the pieces made (a task not started yet is cancelled and
   * refunded instead: the wait throws {@link TaskFailedError}). Unlike
   * `signal`, it does not abandon the wait.
   */
  readonly stop?: AbortSignal | undefined;
}

export interface VerifyTaskOptions extends WaitOptions {
  /** Headers kept from earlier verifications; the proof's header is checked against them and added. */
  readonly headers: HeaderStore;
  /** The task's encoded envelope, when the caller kept it: its signature is checked too. */
  readonly task?: Uint8Array;
  /** The result, when the caller has fetched it already. */
  readonly result?: TaskResult;
  /** How long to wait for the settlement to be in a block. Default 30 000 ms (blocks follow within seconds). */
  readonly proofWaitMs?: number;
  /** Most headers fetched to link the proof's block to the kept ones. Default 1000. */
  readonly maxSyncHeaders?: number;
}

export interface DirectTaskParams extends TaskParams {
  /** A libp2p node that can dial WebRTC (the app's browser node, or a Node peer with @libp2p/webrtc). */
  readonly node: DirectNode;
  /** Longest wait for the direct connection and its stream before falling back to the relay. Default 4000 ms. */
  readonly dialTimeoutMs?: number;
  /** Longest wait for the worker's answer once the task is sent. Default: until the assignment expires. */
  readonly answerTimeoutMs?: number;
  /** How often to ask for the brokered result while no event connection is open. Default 1000 ms. */
  readonly pollMs?: number;
  /** A text generation's text as it is made: from the worker's text frames, or the relay's stream after a fallback. */
  readonly onText?: TextListener | undefined;
  /**
   * Stop (see {@link WaitOptions.stop}): sent to the worker on the direct
   * stream, or to the relay when the direct connection is not there (yet).
   */
  readonly stop?: AbortSignal | undefined;
}

/** A task run on the interactive path: its result, and which way it went. */
export interface DirectTaskResult extends TaskResult {
  /** `webrtc`: the worker answered over a direct connection and the relay settled that answer; `relay`: brokered. */
  readonly via: 'webrtc' | 'relay';
  /** The worker's address as the direct connection saw it (`…/webrtc/p2p/<worker>`), when one was made. */
  readonly remoteAddr?: string;
  /** Why the direct path was left, when it was. */
  readonly fallbackReason?: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/**
 * The relay sends a heartbeat on a text stream every 15 s: a stream silent
 * for longer than this is dead (a proxy or a network that dropped it
 * without a word) and is opened again.
 */
const STREAM_IDLE_MS = 40_000;
/** The longest pause between two attempts to open a text stream. */
const STREAM_RETRY_MAX_MS = 10_000;
const taskResultOrPending = v.union([taskResultSchema, taskAnswerSchema]);

/** A client of one relay; see the module comment. */
export class AIComputeClient {
  readonly relayUrl: string;
  /** The signer's account, if any. */
  readonly account: AccountId | undefined;
  readonly pinnedRelay: AccountId | undefined;
  readonly #signer: Signer | undefined;
  readonly #http: RelayHttp;
  readonly #fetch: FetchLike;
  readonly #timeoutMs: number;
  readonly #WebSocket: WebSocketLike | undefined;
  /** The verifier given, else noble's, imported on first use (see #getVerifier). */
  #verifier: Ed25519Verifier | Promise<Ed25519Verifier> | undefined;
  readonly #now: () => number;
  #network: AccountId | undefined;
  #relayChecked: Promise<void> | undefined;
  /** Account transactions go one at a time: each needs the next sequence number. */
  #txQueue: Promise<unknown> = Promise.resolve();

  constructor(init: AIComputeClientInit) {
    this.relayUrl = init.relayUrl.replace(/\/+$/, '');
    this.#signer = init.signer;
    this.account = init.signer?.accountId;
    this.pinnedRelay = init.pinnedRelay;
    this.#network = init.pinnedRelay;
    const fetchFn = init.fetch ?? ((input, requestInit) => globalThis.fetch(input, requestInit));
    this.#fetch = fetchFn;
    this.#timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#http = createRelayHttp({ relayUrl: this.relayUrl, fetch: fetchFn, timeoutMs: this.#timeoutMs });
    this.#WebSocket = init.WebSocket ?? (globalThis as { WebSocket?: WebSocketLike }).WebSocket;
    this.#verifier = init.verifier;
    this.#now = init.now ?? Date.now;
  }

  // ---- The relay and its network --------------------------------------------

  /** Version, uptime and the relay's key. Throws RelayKeyMismatchError when the key is not the pinned one. */
  async status(options: CallOptions = {}): Promise<RelayStatus> {
    const { body } = await this.#http.request('/api/status', statusSchema, options);
    if (body.relay) {
      if (accountIdFromPublicKey(body.relay.publicKey) !== body.relay.account) {
        throw new InvalidRelayResponseError('the relay status gives a public key that is not its account id');
      }
      this.#checkKey(body.relay.account, 'the relay status');
      this.#network ??= body.relay.account;
    } else if (this.pinnedRelay !== undefined) {
      throw new InvalidRelayResponseError('the relay status does not say which key it has; cannot check the pin');
    }
    return body;
  }

  /** The network id (the relay's account): the pinned key, or what the relay reports. */
  async network(options: CallOptions = {}): Promise<AccountId> {
    if (this.#network !== undefined) return this.#network;
    const status = await this.status(options);
    if (status.relay) return status.relay.account;
    return (await this.onboardPuzzle(options)).network;
  }

  /** The model catalogue. */
  async models(options: CallOptions = {}): Promise<Catalogue> {
    await this.#ensureRelay(options);
    return (await this.#http.request('/api/models', catalogueSchema, options)).body;
  }

  // ---- Accounts and the ledger -----------------------------------------------

  /** The onboarding puzzle: network, proof-of-work difficulty and the grant. Solve it with `solvePow`. */
  async onboardPuzzle(options: CallOptions = {}): Promise<OnboardPuzzle> {
    await this.#ensureRelay(options);
    const { body } = await this.#http.request('/api/onboard', puzzleSchema, options);
    this.#checkKey(body.network, 'the onboarding puzzle');
    this.#network ??= body.network;
    return body;
  }

  /** Claims the grant for the signer's account with a solved puzzle (once per account). */
  async onboard(pow: PowSolution, options: CallOptions = {}): Promise<Onboarded> {
    const signer = this.#requireSigner();
    await this.#ensureRelay(options);
    const body = { publicKey: toBase64Url(signer.publicKey), pow: { nonce: pow.nonce, difficulty: pow.difficulty } };
    return (await this.#http.request('/api/onboard', onboardedSchema, { ...options, body })).body;
  }

  /** Balance, stake, sequence and reputation of `account` (default: the signer's). */
  async balance(account?: AccountId, options: CallOptions = {}): Promise<AccountBalance> {
    const who = account ?? this.#requireSigner().accountId;
    await this.#ensureRelay(options);
    return (await this.#http.request(`/api/ledger/balance/${encodeURIComponent(who)}`, balanceSchema, options)).body;
  }

  /** Sends `amount` tokens to `to`. Resolves once the transaction is durable on the relay. */
  transfer(
    to: AccountId,
    amount: number,
    options: CallOptions & { readonly memo?: string } = {},
  ): Promise<SubmittedTx> {
    return this.#accountTx(
      'tx/transfer',
      (net, seq) => ({
        v: 1,
        net,
        to,
        amount,
        seq,
        ...(options.memo === undefined ? {} : { memo: options.memo }),
      }),
      options,
    );
  }

  /** Stakes `amount` tokens (a worker needs the relay's minimum stake to be paid). */
  stake(amount: number, options: CallOptions = {}): Promise<SubmittedTx> {
    return this.#accountTx('tx/stake', (net, seq) => ({ v: 1, net, amount, seq }), options);
  }

  /**
   * Unstakes `amount` tokens. Where the relay's ledger has an unbonding period
   * they are first held back (`balance().unbonding`, still slashable), and the
   * relay returns them to the balance once it has passed.
   */
  unstake(amount: number, options: CallOptions = {}): Promise<SubmittedTx> {
    return this.#accountTx('tx/unstake', (net, seq) => ({ v: 1, net, amount, seq }), options);
  }

  /** Signed block headers, paged from height `from` (default 1), at most `limit` (default 100, cap 1000). */
  async blocks(options: CallOptions & { readonly from?: number; readonly limit?: number } = {}): Promise<BlocksPage> {
    await this.#ensureRelay(options);
    const query = new URLSearchParams({ from: String(options.from ?? 1), limit: String(options.limit ?? 100) });
    const { body } = await this.#http.request(`/api/ledger/blocks?${query.toString()}`, blocksPageSchema, options);
    for (const block of body.blocks) this.#checkHeaderKey(block.header, `block ${block.height}`);
    return body;
  }

  /** A stored transaction and the block that holds it (null while none does). */
  async tx(id: TxId, options: CallOptions = {}): Promise<StoredTx> {
    await this.#ensureRelay(options);
    return (await this.#http.request(`/api/ledger/tx/${id}`, storedTxSchema, options)).body;
  }

  /** The Merkle inclusion proof of transaction `id`; a RelayApiError `not-found` until a block covers it. */
  async proof(id: TxId, options: CallOptions = {}): Promise<TxProof> {
    await this.#ensureRelay(options);
    const { body } = await this.#http.request(`/api/ledger/proof/${id}`, txProofSchema, options);
    this.#checkHeaderKey(body.header, `the block header of ${id}`);
    return body;
  }

  // ---- Tasks ------------------------------------------------------------------

  /**
   * Signs a task without sending it (the offline outbox keeps the result and
   * delivers it later). Needs the network id: the pinned key, or one fetch of
   * the relay's status.
   */
  async signTask(params: TaskParams): Promise<SignedTask> {
    const signer = this.#requireSigner();
    if (!Number.isSafeInteger(params.maxPrice) || params.maxPrice < 0) {
      throw new RangeError('maxPrice must be a whole number of tokens');
    }
    const payload: TaskPayload = {
      v: 1,
      net: await this.network(params),
      model: params.model,
      input: sha256Hex(params.input) as Hash,
      inputBytes: params.input.length,
      maxPrice: params.maxPrice,
      nonce: crypto.getRandomValues(new Uint8Array(TASK_NONCE_BYTES)),
      ts: this.#now(),
    };
    const envelope = await signEnvelope(signer, 'task', payload);
    return { taskId: messageId(envelope) as TaskId, envelope: encodeEnvelope(envelope), input: params.input, payload };
  }

  /**
   * Sends a signed task and its input; the relay escrows `maxPrice`.
   * Idempotent: sending the same envelope again answers with the task the
   * relay has (`created: false`).
   */
  async submitSignedTask(envelope: Uint8Array, input: Uint8Array, options: CallOptions = {}): Promise<SubmittedTask> {
    await this.#ensureRelay(options);
    const body = { task: toBase64Url(envelope), input: toBase64Url(input) };
    const answer = await this.#http.request('/api/tasks', taskAnswerSchema, { ...options, body });
    return { task: answer.body.task, created: answer.status === 201 };
  }

  /** Signs and submits a task. */
  async submitTask(params: TaskParams): Promise<SubmittedTask> {
    const signed = await this.signTask(params);
    return this.submitSignedTask(signed.envelope, signed.input, params);
  }

  // ---- The interactive path ---------------------------------------------------

  /**
   * Submits a signed task for the direct path: the relay escrows it and, when
   * a staked worker can be dialled over WebRTC, answers where (`direct`);
   * otherwise it runs the task brokered and `direct` is absent.
   */
  async submitDirectTask(
    envelope: Uint8Array,
    input: Uint8Array,
    options: CallOptions = {},
  ): Promise<SubmittedTask & { readonly direct?: DirectOffer }> {
    await this.#ensureRelay(options);
    const body = { task: toBase64Url(envelope), input: toBase64Url(input), route: 'direct' };
    const answer = await this.#http.request('/api/tasks', directSubmitSchema, { ...options, body });
    const created = answer.status === 201;
    return answer.body.direct === undefined
      ? { task: answer.body.task, created }
      : { task: answer.body.task, created, direct: answer.body.direct };
  }

  /** Brings the worker's receipt and output to the relay, which checks and settles them; resolves with the task. */
  async submitDirectReceipt(
    id: TaskId,
    receipt: Uint8Array,
    output: Uint8Array,
    options: CallOptions = {},
  ): Promise<TaskView> {
    await this.#ensureRelay(options);
    const body = { receipt: toBase64Url(receipt), output: toBase64Url(output) };
    return (await this.#http.request(`/api/tasks/${id}/receipt`, taskAnswerSchema, { ...options, body })).body.task;
  }

  /** Asks the relay (signed as the requester) to run a direct task the brokered way. */
  async requestFallback(id: TaskId, options: CallOptions = {}): Promise<TaskView> {
    const signer = this.#requireSigner();
    const request = await signFallbackRequest(signer, {
      v: 1,
      net: await this.network(options),
      task: id,
      ts: this.#now(),
    });
    await this.#ensureRelay(options);
    const { body } = await this.#http.request(`/api/tasks/${id}/fallback`, taskAnswerSchema, {
      ...options,
      body: { request: toBase64Url(request) },
      accept: [202],
    });
    return body.task;
  }

  /**
   * Runs a task on the interactive path: the relay escrows it and picks a
   * worker, `node` dials that worker directly over WebRTC and gets the
   * receipt on the same connection, and the relay checks and settles it.
   * When the worker cannot be reached within `dialTimeoutMs` (or fails, or
   * answers wrongly) the task falls back to the brokered path: the relay
   * runs it, and the result only comes later. Either way it is paid once.
   */
  async runDirectTask(params: DirectTaskParams): Promise<DirectTaskResult> {
    const waitOptions = {
      signal: params.signal,
      pollMs: params.pollMs ?? 1000,
      onText: params.onText,
      stop: params.stop,
    };
    const signed = await this.signTask(params);
    const submitted = await this.submitDirectTask(signed.envelope, signed.input, params);
    const offer = submitted.direct;
    if (offer === undefined) {
      const result = await this.waitForResult(signed.taskId, waitOptions);
      return { ...result, via: 'relay', fallbackReason: 'no worker to dial' };
    }
    return this.completeDirectTask(signed, offer, params);
  }

  /**
   * The second half of {@link runDirectTask}, for a task already submitted
   * with {@link submitDirectTask} whose answer carried `offer`: dials the
   * worker, runs the task on it, brings the receipt to the relay, or falls
   * back to the brokered path. (An app can submit first, show the task, and
   * run this in the background: the relay's result is the same either way.)
   *
   * A text generation's text goes to `onText` as the worker makes it; when the
   * task falls back to the relay, the relay's stream carries on from the
   * first piece not given yet (the result's text is the one that counts:
   * another run may have sampled differently). `stop` is sent to the worker
   * on the open stream, or to the relay when there is no stream (yet).
   */
  async completeDirectTask(
    signed: SignedTask,
    offer: DirectOffer,
    params: Omit<DirectTaskParams, keyof TaskParams> & CallOptions,
  ): Promise<DirectTaskResult> {
    const id = signed.taskId;
    const onText = params.onText && onceEach(params.onText);
    const waitOptions = { signal: params.signal, pollMs: params.pollMs ?? 1000, onText, stop: params.stop };
    const { DirectDialError, exchangeDirect } = await import('./direct-dial.ts');
    const stop = params.stop && { signal: params.stop, sign: () => this.signStop(id, params) };
    let answer;
    try {
      answer = await exchangeDirect(
        params.node,
        {
          worker: offer.worker,
          addrs: offer.addrs,
          task: signed.envelope,
          taskId: id,
          input: signed.input,
          assignment: offer.assignment,
          network: signed.payload.net,
        },
        {
          dialTimeoutMs: params.dialTimeoutMs ?? 4000,
          answerTimeoutMs: params.answerTimeoutMs ?? Math.max(1000, offer.expiresAt - this.#now()),
          verifier: await this.#getVerifier(),
          ...(params.signal === undefined ? {} : { signal: params.signal }),
          ...(onText === undefined ? {} : { onText }),
          ...(stop === undefined ? {} : { stop }),
        },
      );
    } catch (error) {
      if (!(error instanceof DirectDialError)) throw error;
      if (error.reason === 'stopped') {
        // Stopped before the worker had the task: the relay is told (waitForResult sends the stop) and settles it.
        return { ...(await this.waitForResult(id, waitOptions)), via: 'relay', fallbackReason: error.message };
      }
      return this.#fallBack(id, error.message, waitOptions);
    }
    let task: TaskView;
    try {
      task = await this.submitDirectReceipt(id, answer.receipt, answer.output, params);
    } catch (error) {
      // The relay took the brokered way meanwhile (deadline) or refused the answer: its result is the one.
      if (error instanceof RelayApiError && error.status >= 400 && error.status < 500) {
        return this.#fallBack(id, `the relay refused the receipt: ${error.code}`, waitOptions);
      }
      throw error;
    }
    const outputHash = sha256Hex(answer.output);
    if (task.state === 'settled' && task.outputHash === outputHash) {
      return { task, output: answer.output, receipt: answer.receipt, via: 'webrtc', remoteAddr: answer.remoteAddr };
    }
    // The relay's checks proved the worker wrong: the honest result comes from the relay.
    const result = await this.waitForResult(id, waitOptions);
    return {
      ...result,
      via: 'relay',
      remoteAddr: answer.remoteAddr,
      fallbackReason: 'the worker’s answer was rejected',
    };
  }

  async #fallBack(id: TaskId, reason: string, options: WaitOptions): Promise<DirectTaskResult> {
    try {
      await this.requestFallback(id, options);
    } catch (error) {
      // Already decided (a receipt won, or the deadline passed): the result is on its way either way.
      if (!(error instanceof RelayApiError && error.status === 409)) throw error;
    }
    return { ...(await this.waitForResult(id, options)), via: 'relay', fallbackReason: reason };
  }

  async getTask(id: TaskId, options: CallOptions = {}): Promise<TaskView> {
    await this.#ensureRelay(options);
    return (await this.#http.request(`/api/tasks/${id}`, taskAnswerSchema, options)).body.task;
  }

  /** Tasks on the relay, newest first: `account`'s only when given. `limit` default 100. */
  async listTasks(
    options: CallOptions & { readonly account?: AccountId; readonly limit?: number } = {},
  ): Promise<TaskView[]> {
    await this.#ensureRelay(options);
    const query = new URLSearchParams({ limit: String(options.limit ?? 100) });
    if (options.account !== undefined) query.set('account', options.account);
    return (await this.#http.request(`/api/tasks?${query.toString()}`, taskListSchema, options)).body.tasks;
  }

  /**
   * The output and the signed receipt, or null while the task runs. Throws
   * TaskFailedError when it ended without a result, RelayApiError `no-result`
   * (410) when the relay no longer keeps it.
   */
  async getTaskResult(id: TaskId, options: CallOptions = {}): Promise<TaskResult | null> {
    await this.#ensureRelay(options);
    let answer;
    try {
      answer = await this.#http.request(`/api/tasks/${id}/result`, taskResultOrPending, { ...options, accept: [202] });
    } catch (error) {
      if (error instanceof RelayApiError && error.status === 409 && error.code === 'no-result') {
        throw new TaskFailedError(await this.getTask(id, options));
      }
      throw error;
    }
    return 'output' in answer.body ? answer.body : null;
  }

  /**
   * Waits for a task's result: listens for the relay's `task_completed`
   * event and asks again when it comes (and after each reconnection, in case
   * one was missed), and polls every `pollMs` while no event connection is open.
   *
   * With `onText`, it follows the task's text stream instead and hands each
   * piece's text over as it comes; with `stop`, aborting that signal stops
   * the generation (see {@link WaitOptions.stop}).
   */
  async waitForResult(id: TaskId, options: WaitOptions = {}): Promise<TaskResult> {
    const { stop } = options;
    if (stop === undefined) return this.#waitForResult(id, options);
    // A stop the relay refuses for another reason than "already finished" ends the wait with that error.
    const failed = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
    const sendStop = () => {
      this.stopTask(id, { signal }).catch((error: unknown) => {
        if (!(error instanceof RelayApiError && error.status === 409)) failed.abort(error);
      });
    };
    if (stop.aborted) sendStop();
    else stop.addEventListener('abort', sendStop, { once: true });
    try {
      return await this.#waitForResult(id, { ...options, signal });
    } finally {
      stop.removeEventListener('abort', sendStop);
    }
  }

  #waitForResult(id: TaskId, options: WaitOptions): Promise<TaskResult> {
    return options.onText ? this.#streamForResult(id, options.onText, options) : this.#pollForResult(id, options);
  }

  async #pollForResult(id: TaskId, options: WaitOptions): Promise<TaskResult> {
    const pollMs = options.pollMs ?? 1000;
    const first = await this.getTaskResult(id, options);
    if (first) return first;
    const requester = (await this.getTask(id, options)).requester;
    const events = this.#WebSocket ? this.events({ account: requester, signal: options.signal }) : undefined;
    // A wake-up that comes while we are asking the relay is kept for the next wait.
    const waiting: { woken: boolean; wakeSleep?: (() => void) | undefined } = { woken: false };
    const wake = () => {
      waiting.woken = true;
      waiting.wakeSleep?.();
    };
    const offCompleted = events?.on('task_completed', (task) => {
      if (task.id === id) wake();
    });
    // After a (re)connection, events sent while away are lost: ask once more.
    const offState = events?.onState((state) => {
      if (state === 'open') wake();
    });
    try {
      for (;;) {
        if (!waiting.woken) {
          const interval = events?.state === 'open' ? pollMs * 10 : pollMs;
          await sleep(interval, options.signal, (resolve) => (waiting.wakeSleep = resolve));
          waiting.wakeSleep = undefined;
        }
        waiting.woken = false;
        const result = await this.getTaskResult(id, options);
        if (result) return result;
      }
    } finally {
      offCompleted?.();
      offState?.();
      events?.close();
    }
  }

  /**
   * Follows the task's text stream until its `end`, then fetches the result.
   * A stream that breaks is opened again (the relay replays the text from
   * the start, and pieces given already are skipped); a relay without text
   * streams is waited on the usual way.
   */
  async #streamForResult(id: TaskId, onText: TextListener, options: WaitOptions): Promise<TaskResult> {
    const pollMs = options.pollMs ?? 1000;
    let next = 0;
    const deliver = (index: number, text: string) => {
      if (index < next) return; // replayed after a reconnection
      next = index + 1;
      onText(index, text);
    };
    for (let failures = 0; ;) {
      const before = next;
      const ended = await this.#followTextStream(id, deliver, options);
      if (ended === 'unsupported') return this.#pollForResult(id, options);
      const result = await this.getTaskResult(id, options);
      if (result) return result;
      // Ended, and no result readable yet: it is on its way.
      if (ended === 'end') return this.#pollForResult(id, options);
      failures = next > before ? 0 : failures + 1;
      if (failures > 0) await sleep(Math.min(pollMs * 2 ** (failures - 1), STREAM_RETRY_MAX_MS), options.signal);
    }
  }

  /**
   * One connection to `GET /api/tasks/:id/stream`: hands text events to
   * `deliver` and says how it ended: `end` (the task ended), `closed` (the
   * connection broke, or went silent past the heartbeats) or `unsupported`
   * (this relay has no such endpoint). Throws the caller's abort, the
   * relay's refusal (an unknown task) and a garbled stream.
   */
  async #followTextStream(
    id: TaskId,
    deliver: TextListener,
    options: CallOptions,
  ): Promise<'end' | 'closed' | 'unsupported'> {
    await this.#ensureRelay(options);
    const idle = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const quietFor = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle.abort(new Error('the text stream went silent'));
      }, ms);
    };
    try {
      quietFor(this.#timeoutMs);
      let response: Response;
      try {
        response = await this.#fetch(`${this.relayUrl}/api/tasks/${id}/stream`, {
          method: 'GET',
          headers: { accept: 'text/event-stream' },
          signal,
        });
      } catch {
        if (options.signal?.aborted) throw options.signal.reason;
        return 'closed';
      }
      if (!response.ok) return await streamRefusal(response, `GET /api/tasks/${id}/stream`);
      const type = response.headers.get('content-type') ?? '';
      if (response.body === null || !type.startsWith('text/event-stream')) {
        await response.body?.cancel().catch(() => undefined);
        return 'unsupported';
      }
      quietFor(STREAM_IDLE_MS);
      const events = readServerSentEvents(response.body, {
        onChunk: () => {
          quietFor(STREAM_IDLE_MS);
        },
      });
      try {
        for await (const event of events) {
          if (event.event === 'end') return 'end';
          if (event.event !== 'text') continue;
          const piece = v.safeParse(textEventSchema, parseJson(event.data));
          if (!piece.success) throw new InvalidRelayResponseError('a text event on the stream is malformed');
          try {
            deliver(piece.output.index, piece.output.text);
          } catch (error) {
            throw new ListenerError(error);
          }
        }
        return 'closed';
      } catch (error) {
        if (error instanceof ListenerError) throw error.error;
        if (options.signal?.aborted) throw options.signal.reason;
        if (error instanceof InvalidRelayResponseError) throw error;
        return 'closed';
      }
    } finally {
      clearTimeout(timer);
      idle.abort();
    }
  }

  /**
   * Signs the requester's `task/stop` for task `id`: what the worker (or the
   * relay) needs to end a generation early, and what the result then carries.
   */
  async signStop(id: TaskId, options: CallOptions = {}): Promise<Uint8Array> {
    const signer = this.#requireSigner();
    const payload: StopPayload = { v: 1, net: await this.network(options), task: id, ts: this.#now() };
    return encodeEnvelope(await signEnvelope(signer, 'task/stop', payload));
  }

  /**
   * Stops a task, signed as its requester: a running text generation ends
   * where it is and settles for the pieces made; a task not started yet is
   * cancelled and refunded. A finished one answers RelayApiError 409
   * `not-stoppable`.
   */
  async stopTask(id: TaskId, options: CallOptions = {}): Promise<TaskView> {
    const stop = await this.signStop(id, options);
    await this.#ensureRelay(options);
    const { body } = await this.#http.request(`/api/tasks/${id}/stop`, taskAnswerSchema, {
      ...options,
      body: { stop: toBase64Url(stop) },
    });
    return body.task;
  }

  // ---- Text generation ----------------------------------------------------------

  /**
   * Runs a text generation and streams it: iterate the answer for the text
   * as it is made, await its `result` for the verified outcome. See
   * {@link GenerateParams} for the options (the model, the prompt and
   * sampling, the price cap, a direct WebRTC node, Stop).
   */
  generate(params: GenerateParams): GenerationStream {
    return startGeneration(this, params);
  }

  /** Cancels a task that has not started, with the requester's signature; its escrow is refunded. */
  async cancelTask(id: TaskId, options: CallOptions = {}): Promise<TaskView> {
    const signer = this.#requireSigner();
    const payload: CancelPayload = { v: 1, net: await this.network(options), task: id, ts: this.#now() };
    const cancel = encodeEnvelope(await signEnvelope(signer, 'task/cancel', payload));
    await this.#ensureRelay(options);
    const { body } = await this.#http.request(`/api/tasks/${id}`, taskAnswerSchema, {
      ...options,
      method: 'DELETE',
      body: { cancel: toBase64Url(cancel) },
    });
    return body.task;
  }

  // ---- Events -----------------------------------------------------------------

  /**
   * Live events over the relay's WebSocket, reconnecting with backoff until
   * `close()`. With `account`, task events are only that account's.
   */
  events(options: CallOptions & { readonly account?: AccountId | undefined } = {}): EventSubscription {
    if (!this.#WebSocket) throw new TypeError('no WebSocket: pass one to the AIComputeClient constructor');
    return subscribeToEvents({
      relayUrl: this.relayUrl,
      WebSocket: this.#WebSocket,
      account: options.account,
      signal: options.signal,
    });
  }

  // ---- Light-client verification -----------------------------------------------

  /**
   * Verifies a task's result as a light client (see `verifyResult`): waits
   * for the result and for its settlement to be in a block, links the
   * block's header to the kept ones, and returns the report. Trusts the pinned
   * relay key; without one, the key the relay reports (trust on first use).
   */
  async verifyTask(id: TaskId, options: VerifyTaskOptions): Promise<VerificationReport> {
    const pinnedRelay = await this.network(options);
    const result = options.result ?? (await this.waitForResult(id, options));
    const settlement = await this.#settlementProof(id, result.task, options);
    let chainProblem: HeaderChainError | undefined;
    if (settlement) {
      try {
        await this.syncHeaders(options.headers, settlement.height - 1, options);
      } catch (error) {
        if (!(error instanceof HeaderChainError)) throw error;
        chainProblem = error;
      }
    }
    const task = options.task ?? (await this.#taskEnvelope(id, result.task, options));
    if (task && decodedId(task) !== id) throw new TypeError(`the task envelope given is not task ${id}`);
    const report = await verifyResult(
      { task: task ?? id, output: result.output, receipt: result.receipt, settlement },
      { pinnedRelay, headers: options.headers, verifier: await this.#getVerifier(), signal: options.signal },
    );
    if (!chainProblem) return report;
    const detail = chainProblem.message;
    return {
      ...report,
      verified: false,
      checks: report.checks.map((c) => (c.name === 'header-chain' ? { name: c.name, ok: false, detail } : c)),
    };
  }

  /**
   * Fetches, verifies (signature by the network's relay, heights, `prev`
   * links) and stores the headers after the highest kept one, up to
   * `upTo`. Does nothing for an empty store (the first verified header
   * becomes the anchor) or a gap over `maxSyncHeaders`. Returns how many it
   * stored; throws HeaderChainError when the relay's headers do not link.
   */
  async syncHeaders(
    headers: HeaderStore,
    upTo: number,
    options: CallOptions & { readonly maxSyncHeaders?: number } = {},
  ): Promise<number> {
    const head = await headers.head(options);
    if (head === 0 || upTo <= head || upTo - head > (options.maxSyncHeaders ?? 1000)) return 0;
    const network = await this.network(options);
    const stored = await headers.get(head, options);
    const anchor = stored && readStoredHeader(stored);
    if (!anchor) return 0;
    const verifier = await this.#getVerifier();
    let previous = { id: anchor.id, height: anchor.payload.height, ts: anchor.payload.ts, net: anchor.payload.net };
    let added = 0;
    while (previous.height < upTo) {
      const page = await this.blocks({ ...options, from: previous.height + 1, limit: upTo - previous.height });
      if (page.blocks.length === 0) break;
      for (const block of page.blocks) {
        if (block.height > upTo) break;
        const header = readBlockHeader(block.header, verifier);
        if (!header.ok) throw new HeaderChainError(`block ${block.height}: ${header.error.message}`);
        this.#checkKey(header.value.signer, `block ${block.height}`);
        if (header.value.payload.net !== network)
          throw new HeaderChainError(`block ${block.height} is for another network`);
        const linked = checkHeaderLink(previous, header.value);
        if (!linked.ok) throw new HeaderChainError(`block ${block.height}: ${linked.error.message}`);
        await headers.put(block.height, block.header, options);
        added++;
        const p = header.value.payload;
        previous = { id: header.value.id, height: p.height, ts: p.ts, net: p.net };
      }
    }
    return added;
  }

  // ---- Internals ----------------------------------------------------------------

  /**
   * The verifier given to the constructor, else noble's. Noble is imported on
   * first use: setting up its curves is the costliest part of loading the SDK,
   * and an app's first screen verifies nothing.
   */
  #getVerifier(): Promise<Ed25519Verifier> {
    this.#verifier ??= import('#core/identity/verifier.ts').then((m) => m.nobleVerifier);
    return Promise.resolve(this.#verifier);
  }

  /**
   * The requester's signed task, out of its escrow transaction (self-proving:
   * its hash is the task id), so its signature is checked too. Undefined when
   * the relay does not give it.
   */
  async #taskEnvelope(id: TaskId, view: TaskView, options: CallOptions): Promise<Uint8Array | undefined> {
    if (view.escrowTx === undefined) return undefined;
    let stored;
    try {
      stored = await this.tx(view.escrowTx, options);
    } catch (error) {
      if (error instanceof RelayApiError && error.status === 404) return undefined;
      throw error;
    }
    const escrow = readTransaction(stored.tx, await this.#getVerifier());
    if (!escrow.ok || escrow.value.type !== 'tx/escrow' || escrow.value.task.id !== id) return undefined;
    return escrow.value.message.payload.task;
  }

  /** The settlement's proof once a block covers it, or undefined after `proofWaitMs`. */
  async #settlementProof(id: TaskId, view: TaskView, options: VerifyTaskOptions): Promise<TxProof | undefined> {
    const pollMs = Math.min(options.pollMs ?? 1000, 500);
    const deadline = AbortSignal.timeout(options.proofWaitMs ?? 30_000);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    let task = view;
    try {
      // The result's view may predate the settlement: ask again at once, then every pollMs.
      for (let first = true; task.settleTx === undefined; first = false) {
        if (task.state === 'refunded' || task.state === 'failed' || task.state === 'cancelled') return undefined;
        if (!first) await sleep(pollMs, signal);
        task = await this.getTask(id, { signal });
      }
      for (;;) {
        try {
          return await this.proof(task.settleTx, { signal });
        } catch (error) {
          if (!(error instanceof RelayApiError && error.status === 404)) throw error;
        }
        await sleep(pollMs, signal);
      }
    } catch (error) {
      // Our own deadline: no proof yet, which the report names. The caller's abort propagates.
      if (deadline.aborted && !options.signal?.aborted) return undefined;
      throw error;
    }
  }

  #accountTx<K extends 'tx/transfer' | 'tx/stake' | 'tx/unstake'>(
    type: K,
    payload: (net: AccountId, seq: number) => TransactionPayloads[K],
    options: CallOptions,
  ): Promise<SubmittedTx> {
    const signer = this.#requireSigner();
    const run = async () => {
      const net = await this.network(options);
      const { seq } = await this.balance(signer.accountId, options);
      const tx = await signTransaction(signer, type, payload(net, seq + 1));
      const body = { tx: toBase64Url(tx) };
      return (await this.#http.request('/api/ledger/tx', submittedTxSchema, { ...options, body })).body;
    };
    const next = this.#txQueue.then(run, run);
    this.#txQueue = next.catch(() => undefined);
    return next;
  }

  /** With a pinned key, checks the relay's status once before the first call (again after a failed check). */
  #ensureRelay(options: CallOptions): Promise<void> {
    if (this.pinnedRelay === undefined) return Promise.resolve();
    this.#relayChecked ??= this.status(options).then(
      () => undefined,
      (error: unknown) => {
        this.#relayChecked = undefined;
        throw error;
      },
    );
    return this.#relayChecked;
  }

  #checkKey(actual: string, where: string): void {
    if (this.pinnedRelay !== undefined && actual !== this.pinnedRelay) {
      throw new RelayKeyMismatchError(this.pinnedRelay, actual, where);
    }
  }

  /** Compares the key that signed a header with the pinned one (the signature itself is checked on verification). */
  #checkHeaderKey(header: Uint8Array, where: string): void {
    const envelope = decodeEnvelope(header);
    if (!envelope.ok || envelope.value.type !== 'block') {
      throw new InvalidRelayResponseError(`${where} is not a block header`);
    }
    this.#checkKey(accountIdFromPublicKey(envelope.value.key), where);
  }

  #requireSigner(): Signer {
    if (!this.#signer) throw new NoSignerError('this call signs as an account: create the client with a signer');
    return this.#signer;
  }
}

/** A text event's data. */
const textEventSchema = v.object({
  index: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  text: v.string(),
});

/** An error thrown by the caller's listener, carried past the stream's own error handling. */
class ListenerError extends Error {
  override readonly name = 'ListenerError';
  readonly error: unknown;
  constructor(error: unknown) {
    super('the onText listener threw');
    this.error = error;
  }
}

/** `listener` for each index once, in increasing order: a piece replayed (after a fallback) is not given again. */
function onceEach(listener: TextListener): TextListener {
  let next = 0;
  return (index, text) => {
    if (index < next) return;
    next = index + 1;
    listener(index, text);
  };
}

/**
 * What a refused text-stream request means: a relay without the endpoint
 * (its 404 for an unknown route, or no such method) is `unsupported`, a
 * busy or failing one `closed` (try again), and its refusal of this task
 * (an unknown task, say) is thrown.
 */
async function streamRefusal(response: Response, what: string): Promise<'closed' | 'unsupported'> {
  const text = await response.text().catch(() => '');
  const body = v.safeParse(errorBodySchema, parseJson(text));
  const code = body.success ? body.output.error.code : undefined;
  if ((response.status === 404 && code !== 'unknown-task') || response.status === 405 || response.status === 501) {
    return 'unsupported';
  }
  if (response.status === 408 || response.status === 429 || response.status >= 500) return 'closed';
  if (body.success) throw new RelayApiError(response.status, body.output.error.code, body.output.error.message);
  throw new InvalidRelayResponseError(`${what} failed with HTTP ${response.status} and no relay error body`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The message id of an encoded envelope, or undefined when it does not decode. */
function decodedId(bytes: Uint8Array): string | undefined {
  const envelope = decodeEnvelope(bytes);
  return envelope.ok ? messageId(envelope.value) : undefined;
}

function readStoredHeader(bytes: Uint8Array) {
  const envelope = decodeEnvelope(bytes);
  if (!envelope.ok) return undefined;
  const opened = openEnvelope(envelope.value, 'block', decodeBlockHeaderPayload);
  return opened.ok ? opened.value : undefined;
}

/** Waits `ms`, or less when `onWake`'s function is called; rejects with the signal's reason on abort. */
function sleep(ms: number, signal: AbortSignal | undefined, onWake?: (wake: () => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      resolve();
    };
    const aborted = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', aborted, { once: true });
    onWake?.(done);
  });
}
