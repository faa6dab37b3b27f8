/**
 * Checking a task's result as a light client, trusting nothing but the pinned
 * relay key:
 *
 * - the task envelope (when given) is the requester's signature over this
 *   task for this network;
 * - the receipt is a valid signature and names this task, this network and
 *   (when known) this task's model;
 * - the output bytes hash to what the receipt signed;
 * - the block header is signed by the pinned relay and links to the headers
 *   kept from earlier checks (same block at a height, `prev` hashes);
 * - the settlement transaction is in that block (RFC 9162 inclusion proof),
 *   is the relay's, settles this task and carries this very receipt.
 *
 * Every check runs on its own, so a report names each one that failed; the
 * function never throws on bad or tampered data.
 */
import { equalBytes, sha256Hex } from '#core/encoding/bytes.ts';
import {
  decodeEnvelope,
  openEnvelope,
  verifyEnvelope,
  type Envelope,
  type MessageType,
  type SignedMessage,
} from '#core/envelope/envelope.ts';
import { parseTaskId, type AccountId, type Hash, type TaskId } from '#core/identity/ids.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import { verifyTxInclusion, type BlockHeader } from '#core/ledger/block.ts';
import type { InclusionProof } from '#core/ledger/merkle.ts';
import { readTransaction } from '#core/ledger/transaction.ts';
import { decodeBlockHeaderPayload } from '#core/messages/block-header.ts';
import { decodeReceiptPayload, type ReceiptPayload } from '#core/messages/receipt.ts';
import { decodeTaskPayload, type TaskPayload } from '#core/messages/task.ts';
import type { Result } from '#core/result.ts';
import type { HeaderStore } from './header-store.ts';

/** The checks a report holds, in order. `task-signature` only when the task envelope was given. */
export const VERIFICATION_CHECKS = [
  'task-signature',
  'receipt-signature',
  'receipt-names-task',
  'output-hash',
  'header-signature',
  'header-chain',
  'settlement-included',
  'settlement-matches',
] as const;
export type VerificationCheckName = (typeof VERIFICATION_CHECKS)[number];

export interface VerificationCheck {
  readonly name: VerificationCheckName;
  readonly ok: boolean;
  /** What was found, for people: why it failed, or what it proved. */
  readonly detail: string;
}

export interface VerificationReport {
  /** True only when every check passed. */
  readonly verified: boolean;
  /** The task checked (undefined when neither the envelope nor the id could be read). */
  readonly taskId: TaskId | undefined;
  readonly checks: readonly VerificationCheck[];
}

/** A settlement's proof as `GET /api/ledger/proof/<settleTx>` gives it. */
export interface SettlementProof {
  /** The encoded, relay-signed block header. */
  readonly header: Uint8Array;
  /** The encoded settlement transaction (the Merkle leaf). */
  readonly tx: Uint8Array;
  readonly proof: InclusionProof;
}

export interface ResultToVerify {
  /** The task's encoded signed envelope, or only its id. */
  readonly task: Uint8Array | TaskId;
  readonly output: Uint8Array;
  /** The encoded, signed receipt envelope. */
  readonly receipt: Uint8Array;
  /** The settlement's inclusion proof; undefined while no block covers it yet (the report then fails). */
  readonly settlement: SettlementProof | undefined;
}

export interface VerifyResultOptions {
  /** The relay key the user joined with: the only key trusted to sign blocks and settlements. */
  readonly pinnedRelay: AccountId;
  /** Headers verified earlier; a header that passes its checks is added. */
  readonly headers: HeaderStore;
  /** Default: noble (pure JS, everywhere). */
  readonly verifier?: Ed25519Verifier;
  /** Add the block header to `headers` once it is verified. Default true. */
  readonly storeHeader?: boolean;
  readonly signal?: AbortSignal | undefined;
}

interface Opened<T extends MessageType, P> {
  readonly message: SignedMessage<T, P>;
  readonly signed: boolean;
}

/** Verifies a task's result; see the module comment for the checks. Never throws on bad data. */
export async function verifyResult(result: ResultToVerify, options: VerifyResultOptions): Promise<VerificationReport> {
  const { pinnedRelay, headers } = options;
  // Noble is imported only when no verifier is given: its curve setup is costly.
  const verifier = options.verifier ?? (await import('#core/identity/verifier.ts')).nobleVerifier;
  const checks: VerificationCheck[] = [];
  const check = (name: VerificationCheckName, run: () => string | Promise<string>): Promise<void> =>
    Promise.resolve()
      .then(run)
      .then(
        (detail) => {
          checks.push({ name, ok: true, detail });
        },
        (error: unknown) => {
          checks.push({ name, ok: false, detail: error instanceof Error ? error.message : String(error) });
        },
      );

  // The task.
  let task: Opened<'task', TaskPayload> | undefined;
  let taskId: TaskId | undefined;
  if (result.task instanceof Uint8Array) {
    const bytes = result.task;
    await check('task-signature', () => {
      task = open(bytes, 'task', decodeTaskPayload, verifier);
      taskId = task.message.id as TaskId;
      if (!task.signed) throw new Error('the task signature does not verify');
      if (task.message.payload.net !== pinnedRelay) {
        throw new Error(`the task is for network ${task.message.payload.net}, not ${pinnedRelay}`);
      }
      return `signed by ${task.message.signer}`;
    });
  } else {
    const parsed = parseTaskId(result.task);
    taskId = parsed.ok ? parsed.value : undefined;
  }

  // The receipt: its signature, then what it says (read even when the signature fails, to name every fault).
  let receipt: Opened<'receipt', ReceiptPayload> | undefined;
  await check('receipt-signature', () => {
    receipt = open(result.receipt, 'receipt', decodeReceiptPayload, verifier);
    if (!receipt.signed) throw new Error('the receipt signature does not verify');
    const signer = receipt.message.signer;
    return signer === pinnedRelay ? 'signed by the relay (it ran the task)' : `signed by worker ${signer}`;
  });
  await check('receipt-names-task', () => {
    const p = required(receipt, 'no readable receipt').message.payload;
    if (taskId === undefined) throw new Error('no task id to compare with');
    if (p.task !== taskId) throw new Error(`the receipt is for task ${p.task}, not ${taskId}`);
    if (p.net !== pinnedRelay) throw new Error(`the receipt is for network ${p.net}, not ${pinnedRelay}`);
    const model = task?.message.payload.model;
    if (model !== undefined && p.model !== model) throw new Error(`the receipt names model ${p.model}, not ${model}`);
    return `task ${short(taskId)}, model ${short(p.model)}, ${p.units} unit(s) on ${p.backend}`;
  });
  await check('output-hash', () => {
    const p = required(receipt, 'no readable receipt').message.payload;
    const actual = sha256Hex(result.output) as Hash;
    if (actual !== p.output) throw new Error(`the output hashes to ${actual}, the receipt signed ${p.output}`);
    if (result.output.length !== p.outputBytes) {
      throw new Error(`the output is ${result.output.length} bytes, the receipt signed ${p.outputBytes}`);
    }
    return `SHA-256 ${short(actual)} of ${p.outputBytes} bytes`;
  });

  // The block header.
  const settlement = result.settlement;
  let header: Opened<'block', BlockHeader['payload']> | undefined;
  await check('header-signature', () => {
    if (!settlement) throw new Error('no settlement proof yet: no block covers the settlement');
    header = open(settlement.header, 'block', decodeBlockHeaderPayload, verifier);
    const signer = header.message.signer;
    if (!header.signed) throw new Error('the block header signature does not verify');
    if (signer !== pinnedRelay)
      throw new Error(`the block is signed by ${signer}, not the pinned relay ${pinnedRelay}`);
    if (header.message.payload.net !== pinnedRelay)
      throw new Error(`the block is for network ${header.message.payload.net}`);
    return `block ${header.message.payload.height} signed by the pinned relay`;
  });
  await check('header-chain', () =>
    checkChain(required(header, 'no readable block header').message, headers, options.signal),
  );
  const passed = (name: VerificationCheckName) => checks.some((c) => c.name === name && c.ok);
  if (header && passed('header-signature') && passed('header-chain') && options.storeHeader !== false && settlement) {
    const { height } = header.message.payload;
    try {
      if ((await headers.get(height, { signal: options.signal })) === undefined) {
        await headers.put(height, settlement.header, { signal: options.signal });
      }
    } catch {
      // Keeping the header is a convenience for next time; the report stands without it.
    }
  }

  // The settlement.
  await check('settlement-included', () => {
    const block = required(header, 'no readable block header').message;
    const s = required(settlement, 'no settlement proof yet');
    if (!verifyTxInclusion(block, s.tx, s.proof)) {
      throw new Error(`the Merkle proof does not lead to block ${block.payload.height}'s txRoot`);
    }
    return `leaf ${s.proof.index} of ${s.proof.size} in block ${block.payload.height}`;
  });
  await check('settlement-matches', () => {
    const s = required(settlement, 'no settlement proof yet');
    const tx = readTransaction(s.tx, verifier);
    if (!tx.ok) throw new Error(`the settlement transaction is not valid: ${tx.error.message}`);
    if (tx.value.type !== 'tx/settle')
      throw new Error(`the proven transaction is a ${tx.value.type}, not a settlement`);
    const { payload, signer } = tx.value.message;
    if (signer !== pinnedRelay) throw new Error(`the settlement is signed by ${signer}, not the pinned relay`);
    if (payload.net !== pinnedRelay) throw new Error(`the settlement is for network ${payload.net}`);
    if (taskId === undefined || payload.task !== taskId) throw new Error(`the settlement is for task ${payload.task}`);
    if (!equalBytes(payload.receipt, result.receipt)) {
      throw new Error('the settlement carries another receipt than the one given');
    }
    return `settled for ${payload.price} token(s) with this receipt`;
  });

  return { verified: checks.every((c) => c.ok), taskId, checks };
}

/** How `block` sits among the stored headers: the same block at its height, linked to both neighbours. */
async function checkChain(block: BlockHeader, headers: HeaderStore, signal: AbortSignal | undefined): Promise<string> {
  const { height, prev } = block.payload;
  const read = async (at: number) => {
    const bytes = await headers.get(at, { signal });
    if (bytes === undefined) return undefined;
    const decoded = decodeEnvelope(bytes);
    if (!decoded.ok) throw new Error(`the stored header at height ${at} is unreadable`);
    const opened = openEnvelope(decoded.value, 'block', decodeBlockHeaderPayload);
    if (!opened.ok) throw new Error(`the stored header at height ${at} is unreadable`);
    return opened.value;
  };
  const [before, same, after] = await Promise.all([read(height - 1), read(height), read(height + 1)]);
  const found: string[] = [];
  if (same) {
    if (same.id !== block.id) throw new Error(`the relay signed another block at height ${height} before`);
    found.push('matches the stored header');
  }
  if (before) {
    if (before.id !== prev) throw new Error(`block ${height} does not follow the stored block ${height - 1}`);
    found.push(`follows block ${height - 1}`);
  }
  if (after) {
    if (after.payload.prev !== block.id)
      throw new Error(`the stored block ${height + 1} does not follow block ${height}`);
    found.push(`precedes block ${height + 1}`);
  }
  return found.length > 0 ? found.join(', ') : `no stored header next to height ${height} yet; kept as a new anchor`;
}

/** Decodes a signed message without trusting it, and says whether its signature holds. Throws on unreadable bytes. */
function open<T extends MessageType, P>(
  bytes: Uint8Array,
  type: T,
  decodePayload: (value: unknown) => Result<P>,
  verifier: Ed25519Verifier,
): Opened<T, P> {
  if (!(bytes instanceof Uint8Array)) throw new Error(`the ${type} is not bytes`);
  const envelope = decodeEnvelope(bytes);
  if (!envelope.ok) throw new Error(`the ${type} is unreadable: ${envelope.error.message}`);
  const opened = openEnvelope(envelope.value, type, decodePayload);
  if (!opened.ok) throw new Error(`the ${type} is unreadable: ${opened.error.message}`);
  return { message: opened.value, signed: verifyEnvelope(envelope.value satisfies Envelope, verifier) };
}

/** The first 12 hex digits of a hash, for details people read. */
function short(hash: string): string {
  return `${hash.slice(0, 12)}…`;
}

function required<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new Error(message);
  return value;
}
