#!/usr/bin/env node
/**
 * `acn`: the AI Compute Network from a terminal, over the JS SDK.
 *
 *   acn keygen                       a new account key in --key (mode 0600)
 *   acn onboard                      solve the proof-of-work, claim the grant
 *   acn submit --model M --text T    sign and submit a task (--input FILE|- for bytes)
 *   acn chat --model M "PROMPT"      stream a language model's answer; Ctrl-C stops it
 *   acn status TASK                  where a task is
 *   acn result TASK [--out FILE]     wait for the output and verify it as a light client
 *   acn receipts                     this account's tasks, receipts and verification
 *   acn balance [ACCOUNT]            balance, stake, sequence
 *   acn transfer TO AMOUNT           send tokens
 *   acn models                       the relay's catalogue
 *
 * Global: --relay URL (ACN_RELAY), --key FILE (ACN_KEY), --relay-id ACCOUNT
 * (ACN_RELAY_ID: pin the relay's key), --json (one JSON document on stdout).
 * Exit codes: 0 done, 1 failed, 3 a result did not verify.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { decodeEnvelope, openEnvelope } from '#core/envelope/envelope.ts';
import { parseAccountId, parseTaskId, type AccountId, type TaskId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import { decodeReceiptPayload } from '#core/messages/receipt.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { solvePow } from '#core/pow/pow.ts';
import {
  AIComputeClient,
  createMemoryHeaderStore,
  RelayApiError,
  ResultNotVerifiedError,
  TaskFailedError,
  type GenerationResult,
  type HeaderStore,
  type TaskResult,
  type TaskView,
  type VerificationReport,
} from '#client/sdk/index.ts';
import { createNodeSigner } from '#node/crypto/node-signer.ts';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createKeyFile, KeyFileError, readKeyFile } from '#node/key-file.ts';

const EXIT_NOT_VERIFIED = 3;

interface GlobalOptions {
  relay: string;
  key?: string;
  relayId?: AccountId;
  json: boolean;
}

/** A command's failure to report plainly (no stack): bad input, a missing key, a refused request. */
class CliError extends Error {
  override readonly name = 'CliError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

// ---- Keys --------------------------------------------------------------------

/** Writes a new key to `path` (mode 0600); refuses to overwrite one. */
async function writeNewKey(path: string): Promise<Signer> {
  const seed = await createKeyFile(path);
  if (seed === undefined) {
    throw new CliError('key-exists', `${path} already exists; acn never overwrites a key (it holds your tokens)`);
  }
  return createNodeSigner(seed);
}

/** Reads the key in `path`; refuses one that other users can read (like ssh does). */
async function readKey(path: string | undefined): Promise<Signer> {
  if (path === undefined)
    throw new CliError('no-key', 'give the account key with --key FILE or ACN_KEY (create one with `acn keygen`)');
  let seed: Uint8Array | undefined;
  try {
    seed = await readKeyFile(path, 'refuse');
  } catch (error) {
    if (error instanceof KeyFileError) throw new CliError(error.code, error.message);
    throw error;
  }
  if (seed === undefined) {
    throw new CliError('no-key', `no key file at ${path} (create one with \`acn keygen --key ${path}\`)`);
  }
  return createNodeSigner(seed);
}

// ---- Output --------------------------------------------------------------------

function print(options: GlobalOptions, json: unknown, human: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(json, jsonBytes, 2)}\n` : `${human()}\n`);
}

/** Bytes in JSON output: base64url, as in the relay's API. */
function jsonBytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('base64url') : value;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function describeTask(task: TaskView, model: ModelEntry | undefined): string {
  return table([
    ['task', task.id],
    ['model', model ? `${model.name} (${task.model.slice(0, 12)}…)` : task.model],
    ['state', task.state],
    ['price', task.state === 'settled' ? `${task.price} charged` : `${task.maxPrice} escrowed (about ${task.price})`],
    ...(task.worker ? [['ran on', task.worker]] : []),
    ...(task.escrowTx ? [['escrow tx', task.escrowTx]] : []),
    ...(task.settleTx ? [['settle tx', task.settleTx]] : []),
    ...(task.refundTx ? [['refund tx', task.refundTx]] : []),
    ...(task.error ? [['error', `${task.error.code}: ${task.error.message}`]] : []),
  ]);
}

function describeReport(report: VerificationReport): string {
  const passed = report.checks.filter((c) => c.ok).length;
  const head = report.verified
    ? `verified: ${passed} of ${report.checks.length} checks passed`
    : `NOT VERIFIED: ${report.checks.length - passed} of ${report.checks.length} checks failed`;
  return [head, table(report.checks.map((c) => [`  ${c.ok ? 'ok  ' : 'FAIL'}`, c.name, c.detail]))].join('\n');
}

// ---- Commands --------------------------------------------------------------------

function clientFor(options: GlobalOptions, signer?: Signer): AIComputeClient {
  return new AIComputeClient({
    relayUrl: options.relay,
    verifier: createNodeVerifier(),
    ...(signer ? { signer } : {}),
    ...(options.relayId ? { pinnedRelay: options.relayId } : {}),
  });
}

function findModel(catalogue: Catalogue, idOrName: string): ModelEntry {
  const byId = catalogue.models.find((m) => m.id === idOrName);
  if (byId) return byId;
  const byName = catalogue.models.filter((m) => m.name === idOrName);
  if (byName.length === 1 && byName[0]) return byName[0];
  const names = catalogue.models.map((m) => m.name).join(', ');
  throw new CliError(
    'unknown-model',
    byName.length > 1
      ? `several models are named ${idOrName}; give its id`
      : `no model ${idOrName}; the relay has ${names}`,
  );
}

async function readInput(options: { input?: string; text?: string }): Promise<Uint8Array> {
  if (options.text !== undefined && options.input !== undefined) {
    throw new CliError('bad-arguments', 'give --input or --text, not both');
  }
  if (options.text !== undefined) return new TextEncoder().encode(options.text);
  if (options.input === undefined)
    throw new CliError('bad-arguments', 'give the input with --input FILE (- for stdin) or --text');
  if (options.input !== '-') return new Uint8Array(await readFile(options.input));
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

/** What the model costs for this input, from its pipeline (the relay computes the same). */
async function quote(entry: ModelEntry, input: Uint8Array): Promise<number | undefined> {
  const { pipelineFor } = await import('#core/pipelines/registry.ts');
  const pipeline = pipelineFor(entry.pre);
  if (!pipeline) return undefined;
  const decoded = pipeline.decodeInput(input);
  if (!decoded.ok)
    throw new CliError(decoded.error.code, `${entry.name} cannot take this input: ${decoded.error.message}`);
  const { quoteTask } = await import('#core/models/pricing.ts');
  const quoted = quoteTask(entry, pipeline, decoded.value);
  if (!quoted.ok)
    throw new CliError(quoted.error.code, `${entry.name} cannot take this input: ${quoted.error.message}`);
  return quoted.value.price;
}

/** The output as the model's pipeline reads it, for printing; undefined when it has none. */
async function decodeOutput(entry: ModelEntry | undefined, output: Uint8Array): Promise<unknown> {
  if (!entry) return undefined;
  const { pipelineFor } = await import('#core/pipelines/registry.ts');
  const decoded = pipelineFor(entry.pre)?.decodeOutput(output);
  return decoded?.ok ? decoded.value : undefined;
}

interface ResultOptions {
  out?: string;
  timeout: number;
}

/** Waits for a task's result, verifies it, writes or prints the output; exit code 3 when it does not verify. */
async function showResult(
  options: GlobalOptions,
  client: AIComputeClient,
  id: TaskId,
  opts: ResultOptions,
): Promise<void> {
  const signal = AbortSignal.timeout(opts.timeout * 1000);
  const result = await client.waitForResult(id, { signal });
  const report = await client.verifyTask(id, { headers: createMemoryHeaderStore(), result, signal });
  const entry = (await client.models({ signal })).models.find((m) => m.id === result.task.model);
  if (opts.out !== undefined) {
    if (opts.out === '-') process.stdout.write(result.output);
    else await writeFile(opts.out, result.output);
  }
  const decoded = await decodeOutput(entry, result.output);
  if (opts.out !== '-') {
    print(
      options,
      { task: result.task, output: decoded ?? result.output, receipt: result.receipt, verification: report },
      () =>
        [
          describeTask(result.task, entry),
          '',
          opts.out !== undefined
            ? `output: ${result.output.length} bytes written to ${opts.out}`
            : `output: ${decoded === undefined ? `${result.output.length} bytes (use --out FILE)` : JSON.stringify(decoded, jsonBytes)}`,
          '',
          describeReport(report),
          ...(options.relayId
            ? []
            : ['', 'note: the relay key is not pinned (--relay-id); trusting the key it reports']),
        ].join('\n'),
    );
  }
  if (!report.verified) process.exitCode = EXIT_NOT_VERIFIED;
}

interface ReceiptRow {
  readonly task: TaskView;
  readonly receipt?: { signer: AccountId; backend: string; units: number; runMs: number };
  readonly verification?: VerificationReport;
  readonly note?: string;
}

async function receiptRow(client: AIComputeClient, task: TaskView, headers: HeaderStore): Promise<ReceiptRow> {
  if (task.state !== 'settled') return { task, note: task.state === 'refunded' ? 'refunded' : 'no result yet' };
  let result: TaskResult | null;
  try {
    result = await client.getTaskResult(task.id);
  } catch (error) {
    if (error instanceof RelayApiError && error.status === 410)
      return { task, note: 'result no longer kept on the relay' };
    if (error instanceof TaskFailedError) return { task, note: 'ended without a result' };
    throw error;
  }
  if (!result) return { task, note: 'no result yet' };
  const verification = await client.verifyTask(task.id, { headers, result, proofWaitMs: 10_000 });
  const envelope = decodeEnvelope(result.receipt);
  const receipt = envelope.ok ? openEnvelope(envelope.value, 'receipt', decodeReceiptPayload) : undefined;
  return {
    task,
    verification,
    ...(receipt?.ok
      ? {
          receipt: {
            signer: receipt.value.signer,
            backend: receipt.value.payload.backend,
            units: receipt.value.payload.units,
            runMs: receipt.value.payload.runMs,
          },
        }
      : {}),
  };
}

// ---- The program --------------------------------------------------------------------

const accountArg = (text: string): AccountId => {
  const parsed = parseAccountId(text);
  if (!parsed.ok) throw new InvalidArgumentError('not an account id (12D3KooW…)');
  return parsed.value;
};
const taskArg = (text: string): TaskId => {
  const parsed = parseTaskId(text);
  if (!parsed.ok) throw new InvalidArgumentError('not a task id (64 hex characters)');
  return parsed.value;
};
const wholeNumber = (name: string) => (text: string) => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number`);
  return n;
};
const decimal = (name: string) => (text: string) => {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
  return n;
};
const collect = (value: string, previous: readonly string[] = []): string[] => [...previous, value];

const program = new Command('acn')
  .description('AI Compute Network client: submit signed tasks, get verified results, manage your account.')
  .addOption(new Option('--relay <url>', 'relay URL').env('ACN_RELAY').default('http://127.0.0.1:8080'))
  .addOption(new Option('--key <file>', 'account key file (create it with `acn keygen`)').env('ACN_KEY'))
  .addOption(
    new Option('--relay-id <account>', "the relay's account id to pin (from its join URL)")
      .env('ACN_RELAY_ID')
      .argParser(accountArg),
  )
  .option('--json', 'print one JSON document for scripts', false)
  .showHelpAfterError('(run with --help for usage)');

const globals = (command: Command) => command.optsWithGlobals<GlobalOptions>();

program
  .command('keygen')
  .description('create a new account key in the --key file (mode 0600)')
  .action(async (_opts: unknown, command: Command) => {
    const options = globals(command);
    if (options.key === undefined)
      throw new CliError('no-key', 'give the file for the new key with --key FILE or ACN_KEY');
    const signer = await writeNewKey(options.key);
    print(
      options,
      { account: signer.accountId, key: options.key },
      () =>
        `account ${signer.accountId}\nkey written to ${options.key ?? ''} (mode 0600); back it up: it holds your tokens`,
    );
  });

program
  .command('onboard')
  .description("solve the relay's proof-of-work and claim the grant for this account")
  .action(async (_opts: unknown, command: Command) => {
    const options = globals(command);
    const signer = await readKey(options.key);
    const client = clientFor(options, signer);
    const before = await client.balance();
    if (before.granted) {
      print(
        options,
        { account: signer.accountId, balance: before.balance, alreadyOnboarded: true },
        () => `account ${signer.accountId} is already onboarded; balance ${before.balance}`,
      );
      return;
    }
    const puzzle = await client.onboardPuzzle();
    const started = performance.now();
    const showProgress = process.stderr.isTTY && !options.json;
    const pow = await solvePow(
      { network: puzzle.network, publicKey: signer.publicKey, difficulty: puzzle.difficulty },
      showProgress
        ? { onProgress: (p) => process.stderr.write(`\rproof-of-work: ${Math.round(p.fraction * 100)}%`) }
        : {},
    );
    if (showProgress) process.stderr.write('\n');
    const onboarded = await client.onboard(pow);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    print(
      options,
      { ...onboarded, grant: puzzle.grant, powSeconds: Number(seconds) },
      () =>
        `account ${onboarded.account} onboarded: ${puzzle.grant} tokens granted (proof-of-work ${seconds} s)\n` +
        `balance ${onboarded.balance}`,
    );
  });

program
  .command('submit')
  .description('sign and submit a task')
  .requiredOption('--model <id|name>', 'catalogue model (see `acn models`)')
  .option('--input <file>', 'input bytes from a file, or - for stdin')
  .option('--text <string>', 'input text (UTF-8)')
  .option('--max-price <tokens>', 'most the task may cost (default: the quoted price)', wholeNumber('--max-price'))
  .option('--wait', 'wait for the result and verify it, as `acn result` does', false)
  .option('--out <file>', 'with --wait: write the output bytes here (- for stdout)')
  .option('--timeout <seconds>', 'with --wait: longest wait', wholeNumber('--timeout'), 120)
  .action(
    async (
      opts: {
        model: string;
        input?: string;
        text?: string;
        maxPrice?: number;
        wait: boolean;
        out?: string;
        timeout: number;
      },
      command: Command,
    ) => {
      const options = globals(command);
      const signer = await readKey(options.key);
      const client = clientFor(options, signer);
      const input = await readInput(opts);
      const entry = findModel(await client.models(), opts.model);
      const maxPrice = opts.maxPrice ?? (await quote(entry, input));
      if (maxPrice === undefined)
        throw new CliError('bad-arguments', `give --max-price: ${entry.name} has no price quote here`);
      const { task, created } = await client.submitTask({ model: entry.id, input, maxPrice });
      if (opts.wait) {
        if (options.json) process.stderr.write(`submitted ${task.id}\n`);
        else process.stdout.write(`submitted ${task.id}\n`);
        await showResult(options, client, task.id, { timeout: opts.timeout, ...(opts.out ? { out: opts.out } : {}) });
        return;
      }
      print(
        options,
        { task, created },
        () =>
          `${created ? 'submitted' : 'already submitted'}: ${task.id}\n${describeTask(task, entry)}\n\nnext: acn result ${task.id}`,
      );
    },
  );

interface ChatOptions {
  model: string;
  maxPieces?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  maxPrice?: number;
}

/** Writes the text to stdout as it comes (when `show`); returns all of it. */
async function printText(stream: AsyncIterable<{ readonly text: string }>, show: boolean): Promise<string> {
  let streamed = '';
  try {
    for await (const piece of stream) {
      streamed += piece.text;
      if (show) process.stdout.write(piece.text);
    }
  } finally {
    // The shell's prompt goes on a line of its own; a pipe gets the text exactly.
    if (show && process.stdout.isTTY && streamed !== '' && !streamed.endsWith('\n')) process.stdout.write('\n');
  }
  return streamed;
}

/** "cost 3 tokens: 12 prompt pieces, 40 generated pieces" and why it ended. */
function describeCost(outcome: GenerationResult): string {
  const { usage, price, task, output } = outcome;
  const refund = task.maxPrice - price;
  const ending = {
    stop: 'it ended by itself',
    length: 'it reached its length limit',
    stopped: 'you stopped it',
  }[output.finish];
  return (
    `cost ${price} token${price === 1 ? '' : 's'}: ${usage.promptPieces} prompt pieces, ` +
    `${usage.generatedPieces} generated pieces (${ending}; ${refund} of ${task.maxPrice} escrowed refunded)`
  );
}

program
  .command('chat')
  .description("stream a language model's answer to stdout; Ctrl-C stops it and pays only for what was made")
  .requiredOption('--model <id|name>', 'a text-generation model (see `acn models`)')
  .argument('<prompt>', 'the text for the model to continue')
  .option('--max-pieces <n>', 'most pieces to generate (default 128)', wholeNumber('--max-pieces'))
  .option('--temperature <t>', 'sampling temperature, 0 (the default) is greedy', decimal('--temperature'))
  .option('--top-k <k>', 'sample among the k likeliest pieces (0: all)', wholeNumber('--top-k'))
  .option('--top-p <p>', 'sample among the likeliest pieces that make up p of the probability', decimal('--top-p'))
  .option('--seed <n>', 'the sampler’s seed: the same seed gives the same answer', wholeNumber('--seed'))
  .option('--stop <string>', 'end the answer where this string appears (repeatable)', collect)
  .option('--max-price <tokens>', 'most the task may cost (default: the quoted price)', wholeNumber('--max-price'))
  .action(async (prompt: string, opts: ChatOptions, command: Command) => {
    const options = globals(command);
    const signer = await readKey(options.key);
    const client = clientFor(options, signer);
    const entry = findModel(await client.models(), opts.model);
    if (entry.kind !== 'text-generation') {
      throw new CliError('bad-arguments', `${entry.name} is a ${entry.kind} model; chat needs a text-generation one`);
    }
    // Ctrl-C is Stop (the answer so far is kept and paid for); a second Ctrl-C quits at once.
    const stop = new AbortController();
    const onInterrupt = () => {
      if (stop.signal.aborted) process.exit(130);
      stop.abort();
    };
    process.on('SIGINT', onInterrupt);
    try {
      const stream = client.generate({
        model: entry.id,
        prompt,
        signal: stop.signal,
        ...(opts.maxPieces === undefined ? {} : { maxPieces: opts.maxPieces }),
        ...(opts.temperature === undefined ? {} : { temperature: opts.temperature }),
        ...(opts.topK === undefined ? {} : { topK: opts.topK }),
        ...(opts.topP === undefined ? {} : { topP: opts.topP }),
        ...(opts.seed === undefined ? {} : { seed: opts.seed }),
        ...(opts.stop === undefined ? {} : { stop: opts.stop }),
        ...(opts.maxPrice === undefined ? {} : { maxPrice: opts.maxPrice }),
      });
      let streamed: string;
      let outcome: GenerationResult;
      try {
        // With --json, stdout is for the one JSON document at the end.
        streamed = await printText(stream, !options.json);
        outcome = await stream.result;
      } catch (error) {
        if (error instanceof ResultNotVerifiedError) {
          process.stderr.write(
            error.report ? `${describeReport(error.report)}\n` : `acn: NOT VERIFIED: ${error.message}\n`,
          );
          process.exitCode = EXIT_NOT_VERIFIED;
          return;
        }
        if (stop.signal.aborted && (error instanceof TaskFailedError || (error as Error).name === 'AbortError')) {
          process.stderr.write('stopped before it started: nothing was charged\n');
          return;
        }
        throw error;
      }
      const { output, task, verification } = outcome;
      if (options.json) {
        print(
          options,
          {
            task,
            text: output.text,
            finish: output.finish,
            usage: outcome.usage,
            price: outcome.price,
            via: outcome.via,
            receipt: outcome.receipt,
            verification,
          },
          () => '',
        );
      } else if (streamed !== output.text) {
        // Only when the task had to run again elsewhere and sampled otherwise: the verified text is the one paid for.
        process.stderr.write(
          `note: the verified answer differs from the text streamed above; it is:\n${output.text}\n`,
        );
      }
      process.stderr.write(
        `verified: ${verification.checks.length} of ${verification.checks.length} checks passed (task ${task.id})\n` +
          `${describeCost(outcome)}\n`,
      );
    } finally {
      process.off('SIGINT', onInterrupt);
    }
  });

program
  .command('status')
  .description("show a task's state")
  .argument('<task>', 'task id', taskArg)
  .action(async (id: TaskId, _opts: unknown, command: Command) => {
    const options = globals(command);
    const client = clientFor(options);
    const task = await client.getTask(id);
    const entry = (await client.models()).models.find((m) => m.id === task.model);
    print(options, { task }, () => describeTask(task, entry));
  });

program
  .command('result')
  .description("wait for a task's output, write it and verify it as a light client")
  .argument('<task>', 'task id', taskArg)
  .option('--out <file>', 'write the output bytes here (- for stdout)')
  .option('--timeout <seconds>', 'longest wait', wholeNumber('--timeout'), 120)
  .action(async (id: TaskId, opts: ResultOptions, command: Command) => {
    const options = globals(command);
    await showResult(options, clientFor(options), id, opts);
  });

program
  .command('receipts')
  .description("this account's tasks with their receipts, each verified")
  .option('--limit <n>', 'newest tasks to show', wholeNumber('--limit'), 20)
  .action(async (opts: { limit: number }, command: Command) => {
    const options = globals(command);
    const signer = await readKey(options.key);
    const client = clientFor(options, signer);
    const [tasks, catalogue] = await Promise.all([
      client.listTasks({ account: signer.accountId, limit: opts.limit }),
      client.models(),
    ]);
    // Oldest first, so the kept headers grow forward and each block is linked to the one before.
    const headers = createMemoryHeaderStore();
    const rows: ReceiptRow[] = [];
    for (const task of [...tasks].reverse()) rows.push(await receiptRow(client, task, headers));
    rows.reverse();
    const name = (task: TaskView) => catalogue.models.find((m) => m.id === task.model)?.name ?? task.model.slice(0, 12);
    print(options, { account: signer.accountId, receipts: rows }, () =>
      rows.length === 0
        ? 'no tasks yet'
        : table([
            ['task', 'model', 'state', 'price', 'receipt by', 'verified'],
            ...rows.map((r) => [
              `${r.task.id.slice(0, 16)}…`,
              name(r.task),
              r.task.state,
              String(r.task.price),
              r.receipt ? shortAccount(r.receipt.signer) : '',
              r.verification ? (r.verification.verified ? 'yes' : `NO (${failed(r.verification)})`) : (r.note ?? ''),
            ]),
          ]),
    );
    if (rows.some((r) => r.verification && !r.verification.verified)) process.exitCode = EXIT_NOT_VERIFIED;
  });

program
  .command('balance')
  .description("an account's balance (default: yours)")
  .argument('[account]', 'account id', accountArg)
  .action(async (account: AccountId | undefined, _opts: unknown, command: Command) => {
    const options = globals(command);
    const who = account ?? (await readKey(options.key)).accountId;
    const balance = await clientFor(options).balance(who);
    print(options, balance, () =>
      table([
        ['account', balance.account],
        ['balance', String(balance.balance)],
        ['stake', String(balance.stake)],
        // Unstaked tokens stay slashable, and unspendable, until their release.
        ...(balance.unbonding ?? []).map((u): [string, string] => [
          'unbonding',
          `${u.amount} until ${new Date(u.releaseAt).toISOString()}`,
        ]),
        ['sequence', String(balance.seq)],
        ['reputation', String(balance.reputation)],
        ['onboarded', balance.granted ? 'yes' : 'no (run `acn onboard`)'],
      ]),
    );
  });

program
  .command('transfer')
  .description('send tokens to another account')
  .argument('<to>', 'account id', accountArg)
  .argument('<amount>', 'tokens', wholeNumber('amount'))
  .option('--memo <text>', 'a note (at most 140 characters)')
  .action(async (to: AccountId, amount: number, opts: { memo?: string }, command: Command) => {
    const options = globals(command);
    const client = clientFor(options, await readKey(options.key));
    const tx = await client.transfer(to, amount, opts.memo === undefined ? {} : { memo: opts.memo });
    print(options, tx, () => `sent ${amount} to ${to}\ntransaction ${tx.id}`);
  });

program
  .command('models')
  .description("the relay's model catalogue")
  .action(async (_opts: unknown, command: Command) => {
    const options = globals(command);
    const catalogue = await clientFor(options).models();
    print(options, catalogue, () =>
      table([
        ['name', 'kind', 'price', 'runs on', 'id'],
        ...catalogue.models.map((m) => [m.name, m.kind, `${m.price.perUnit} / ${m.price.unit}`, m.sizeClass, m.id]),
      ]),
    );
  });

function shortAccount(account: AccountId): string {
  return `${account.slice(0, 10)}…${account.slice(-4)}`;
}

function failed(report: VerificationReport): string {
  return report.checks
    .filter((c) => !c.ok)
    .map((c) => c.name)
    .join(', ');
}

try {
  await program.parseAsync();
} catch (error) {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const json = program.opts<{ json?: boolean }>().json === true;
  process.stderr.write(
    json
      ? `${JSON.stringify({ error: { code: typeof code === 'string' ? code : 'internal', message } })}\n`
      : `acn: ${message}\n`,
  );
  process.exitCode = 1;
}
