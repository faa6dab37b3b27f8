/**
 * Streaming text generation: `client.generate(params)` signs and submits a
 * text-generation task, hands its text over as it is made (an async
 * iterable of pieces), and resolves `result` with the outcome once it is
 * verified like any other task's result: the light-client checks of
 * verify-result.ts, an output that reads as a text-generation result, and a
 * price that is what the catalogue charges for the pieces read and made.
 *
 * The task goes over a direct WebRTC connection to a worker when a libp2p
 * `node` is given (falling back to the relay when that fails), else the
 * brokered way. Aborting `signal` is Stop: the generation ends where it is
 * and costs only the pieces made; `result` then holds the shorter answer
 * (finish `stopped`).
 */
import type { TaskView } from '#core/api/responses.ts';
import type { ModelId } from '#core/identity/ids.ts';
import type { TextUsage } from '#core/models/catalogue.ts';
import type { TextGenerationInput, textGenerationInput } from '#core/pipelines/text-generation/prompt.ts';
import type { TextGenerationResult } from '#core/pipelines/text-generation/result.ts';
import type { AIComputeClient, DirectTaskResult, TextListener } from './client.ts';
import type { DirectNode } from './direct-dial.ts';
import { ResultNotVerifiedError } from './errors.ts';
import { createMemoryHeaderStore, type HeaderStore } from './header-store.ts';
import type { VerificationReport } from './verify-result.ts';

/** One generated piece's text, as it is made ('' while text is held back). */
export interface TextPiece {
  /**
   * The piece's place in the generation, from 0. A last item may come with
   * index = the number of pieces: text held back to the end (a possible stop
   * string that did not complete) and released with the result.
   */
  readonly index: number;
  readonly text: string;
}

/** The sampling fields of a text-generation input; each has the default of `textGenerationInput`. */
export interface GenerationFields {
  /** Text for the model to continue… */
  readonly prompt?: string;
  /** …or a conversation, put through the model's chat template. */
  readonly messages?: TextGenerationInput['messages'];
  /** At most this many pieces are generated. Default 128. */
  readonly maxPieces?: number;
  /** 0 (the default) is greedy. */
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly seed?: number;
  /** Strings that end the generation where they appear. */
  readonly stop?: readonly string[];
}

export interface GenerateParams extends GenerationFields {
  /** The catalogue id of a `text-generation` model. */
  readonly model: ModelId;
  /** The whole input; when given, the fields of {@link GenerationFields} are not read. */
  readonly input?: TextGenerationInput;
  /** The most the task may cost. Default: its quote (the prompt and `maxPieces` at the model's prices). */
  readonly maxPrice?: number;
  /** A libp2p node that can dial WebRTC: the task then goes directly to a worker, else the brokered way. */
  readonly node?: DirectNode;
  readonly dialTimeoutMs?: number;
  readonly answerTimeoutMs?: number;
  readonly pollMs?: number;
  /** Stop: aborting it ends the generation where it is (see the module comment). */
  readonly signal?: AbortSignal;
  /** Headers kept from earlier verifications (default: none kept; the settlement's block becomes the anchor). */
  readonly headers?: HeaderStore;
  /** How long to wait for the settlement to be in a block. Default 30 000 ms. */
  readonly proofWaitMs?: number;
}

/** A generation's verified outcome. */
export interface GenerationResult {
  readonly task: TaskView;
  readonly output: TextGenerationResult;
  /** The output's encoded bytes: what the receipt signed. */
  readonly outputBytes: Uint8Array;
  /** The encoded, signed receipt. */
  readonly receipt: Uint8Array;
  /** What was charged (the escrow's rest was refunded). */
  readonly price: number;
  /** The pieces read and made, which the price is for. */
  readonly usage: TextUsage;
  /** `webrtc`: a worker answered over a direct connection; `relay`: brokered. */
  readonly via: 'webrtc' | 'relay';
  /** Why the direct path was left, when it was. */
  readonly fallbackReason?: string;
  readonly verification: VerificationReport;
}

/**
 * A running generation: iterate it (once) for the text as it is made; the
 * iteration ends when the answer is in. `result` resolves once that answer is
 * verified. Leaving the loop early is a Stop, as is `stop()`.
 */
export interface GenerationStream extends AsyncIterable<TextPiece> {
  readonly result: Promise<GenerationResult>;
  /** Stop: the same as aborting the `signal` given. */
  stop(): void;
}

/** Starts `params` on `client`; see {@link AIComputeClient.generate}. */
export function startGeneration(client: AIComputeClient, params: GenerateParams): GenerationStream {
  const stopper = new AbortController();
  const stop = () => {
    stopper.abort();
  };
  if (params.signal?.aborted === true) stop();
  else params.signal?.addEventListener('abort', stop, { once: true });
  const pieces = new PieceQueue(stop);
  const result = runGeneration(client, params, stopper.signal, pieces).then(
    (outcome) => outcome,
    (error: unknown) => {
      pieces.fail(error);
      throw error;
    },
  );
  result
    .finally(() => params.signal?.removeEventListener('abort', stop))
    // Who only iterates still sees the error there; this keeps it from counting as unhandled.
    .catch(() => undefined);
  return {
    result,
    stop,
    [Symbol.asyncIterator]: () => pieces,
  };
}

async function runGeneration(
  client: AIComputeClient,
  params: GenerateParams,
  stopSignal: AbortSignal,
  pieces: PieceQueue,
): Promise<GenerationResult> {
  // Loaded here: an app that never generates text does not load the tokenizer and pricing.
  const [{ textGenerationPipeline: pipeline }, { textGenerationInput }, { quoteTask }] = await Promise.all([
    import('#core/pipelines/text-generation/pipeline.ts'),
    import('#core/pipelines/text-generation/prompt.ts'),
    import('#core/models/pricing.ts'),
  ]);
  const entry = (await client.models()).models.find((m) => m.id === params.model);
  if (entry === undefined) throw new TypeError(`the relay has no model ${params.model}`);
  if (entry.kind !== 'text-generation')
    throw new TypeError(`${entry.name} is a ${entry.kind} model, not a language model`);

  // The input as the relay will read it: encoded, then decoded with the same checks (an empty prompt is refused here).
  const bytes = pipeline.encodeInput(params.input ?? inputOf(params, textGenerationInput));
  const decoded = pipeline.decodeInput(bytes);
  if (!decoded.ok) throw decoded.error;
  const input = decoded.value;
  const quote = quoteTask(entry, pipeline, input);
  if (!quote.ok) throw quote.error;
  const maxPrice = params.maxPrice ?? quote.value.price;
  // No piece has an index past maxPieces: the buffer holds at most that many (and the last, held-back text).
  pieces.limit = input.maxPieces;

  const signed = await client.signTask({ model: entry.id, input: bytes, maxPrice });
  // Stopped before anything was sent: nothing to pay, nothing to stop.
  if (stopSignal.aborted) throw new DOMException('the generation was stopped before it was sent', 'AbortError');
  const onText: TextListener = (index, text) => {
    pieces.push({ index, text });
  };
  const wait = { pollMs: params.pollMs ?? 1000, onText, stop: stopSignal };
  let run: DirectTaskResult;
  if (params.node === undefined) {
    await client.submitSignedTask(signed.envelope, signed.input);
    run = { ...(await client.waitForResult(signed.taskId, wait)), via: 'relay' };
  } else {
    const submitted = await client.submitDirectTask(signed.envelope, signed.input);
    run =
      submitted.direct === undefined
        ? { ...(await client.waitForResult(signed.taskId, wait)), via: 'relay', fallbackReason: 'no worker to dial' }
        : await client.completeDirectTask(signed, submitted.direct, {
            ...wait,
            node: params.node,
            ...(params.dialTimeoutMs === undefined ? {} : { dialTimeoutMs: params.dialTimeoutMs }),
            ...(params.answerTimeoutMs === undefined ? {} : { answerTimeoutMs: params.answerTimeoutMs }),
          });
  }

  const output = pipeline.decodeOutput(run.output);
  if (!output.ok) {
    pieces.close();
    throw new ResultNotVerifiedError(
      `task ${signed.taskId}'s output is not a text generation: ${output.error.message}`,
    );
  }
  pieces.finish(output.value);

  const verification = await client.verifyTask(signed.taskId, {
    headers: params.headers ?? createMemoryHeaderStore(),
    task: signed.envelope,
    result: run,
    ...(params.proofWaitMs === undefined ? {} : { proofWaitMs: params.proofWaitMs }),
  });
  if (!verification.verified) {
    const failed = verification.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    throw new ResultNotVerifiedError(`task ${signed.taskId} did not verify (${failed.join('; ')})`, verification);
  }
  const cost = quoteTask(entry, pipeline, input, output.value);
  if (!cost.ok)
    throw new ResultNotVerifiedError(`task ${signed.taskId}'s output cannot be priced: ${cost.error.message}`);
  const usage = cost.value.usage ?? { promptPieces: output.value.promptPieces, generatedPieces: cost.value.units };
  if (run.task.price !== cost.value.price) {
    throw new ResultNotVerifiedError(
      `task ${signed.taskId} was charged ${run.task.price} tokens; ${usage.promptPieces} prompt and ` +
        `${usage.generatedPieces} generated pieces cost ${cost.value.price}`,
      verification,
    );
  }
  return {
    task: run.task,
    output: output.value,
    outputBytes: run.output,
    receipt: run.receipt,
    price: run.task.price,
    usage,
    via: run.via,
    ...(run.fallbackReason === undefined ? {} : { fallbackReason: run.fallbackReason }),
    verification,
  };
}

/** The input from the loose fields, with the defaults filled in. */
function inputOf(fields: GenerationFields, fill: typeof textGenerationInput): TextGenerationInput {
  const sampling = {
    ...(fields.maxPieces === undefined ? {} : { maxPieces: fields.maxPieces }),
    ...(fields.temperature === undefined ? {} : { temperature: fields.temperature }),
    ...(fields.topK === undefined ? {} : { topK: fields.topK }),
    ...(fields.topP === undefined ? {} : { topP: fields.topP }),
    ...(fields.seed === undefined ? {} : { seed: fields.seed }),
    ...(fields.stop === undefined ? {} : { stop: [...fields.stop] }),
  };
  if (fields.messages !== undefined) {
    if (fields.prompt !== undefined) throw new TypeError('give a prompt or messages, not both');
    return fill({ ...sampling, messages: fields.messages });
  }
  if (fields.prompt === undefined) throw new TypeError('give a prompt, messages or the whole input');
  return fill({ ...sampling, prompt: fields.prompt });
}

/**
 * The pieces between the generation and its reader: pushed as they come,
 * pulled by one async iteration. Bounded: indices only grow and stay below
 * `limit` (the task's maxPieces), so it never holds more than the task may
 * make; a piece past that is dropped.
 */
class PieceQueue implements AsyncIterator<TextPiece> {
  limit = Number.POSITIVE_INFINITY;
  readonly #items: TextPiece[] = [];
  readonly #onReturn: () => void;
  #next = 0;
  /** The text given so far, to find what the result holds beyond it. */
  #text = '';
  #closed = false;
  #failure: { readonly error: unknown } | undefined;
  #waiter: { resolve: (r: IteratorResult<TextPiece>) => void; reject: (e: unknown) => void } | undefined;

  constructor(onReturn: () => void) {
    this.#onReturn = onReturn;
  }

  push(piece: TextPiece): void {
    if (this.#closed || piece.index < this.#next || piece.index >= this.limit) return;
    this.#next = piece.index + 1;
    this.#text += piece.text;
    this.#deliver(piece);
  }

  /** The answer is in: what it holds beyond the text given (held back to the end) comes last. */
  finish(result: TextGenerationResult): void {
    if (!this.#closed && result.text.length > this.#text.length && result.text.startsWith(this.#text)) {
      this.#deliver({ index: result.pieces.length, text: result.text.slice(this.#text.length) });
    }
    this.close();
  }

  close(): void {
    this.#closed = true;
    this.#settleWaiter();
  }

  fail(error: unknown): void {
    if (this.#closed) return;
    this.#failure = { error };
    this.close();
  }

  next(): Promise<IteratorResult<TextPiece>> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve({ done: false, value: item });
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the run's own error, handed on unchanged
    if (this.#failure) return Promise.reject(this.#failure.error);
    if (this.#closed) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  /** The reader left the loop: it wants no more text, which is a Stop. */
  return(): Promise<IteratorResult<TextPiece>> {
    if (!this.#closed) this.#onReturn();
    this.#items.length = 0;
    this.#closed = true;
    return Promise.resolve({ done: true, value: undefined });
  }

  #deliver(piece: TextPiece): void {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter.resolve({ done: false, value: piece });
    } else {
      this.#items.push(piece);
    }
  }

  #settleWaiter(): void {
    const waiter = this.#waiter;
    if (!waiter) return;
    this.#waiter = undefined;
    if (this.#failure) waiter.reject(this.#failure.error);
    else waiter.resolve({ done: true, value: undefined });
  }
}
