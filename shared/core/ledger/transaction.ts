/**
 * Reading a ledger transaction from bytes: outer envelope, payload schema,
 * signature, and for escrow, settle and slash the embedded task or receipt
 * with its own signature. Only this module makes a {@link VerifiedTx}, and
 * the ledger applies nothing else, so an unverified transaction cannot reach
 * the state machine.
 */
import {
  decodeEnvelope,
  encodeEnvelope,
  openEnvelope,
  readMessage,
  signEnvelope,
  verifyEnvelope,
  type Envelope,
  type ReadMessageError,
  type SignedMessage,
} from '../envelope/envelope.ts';
import { BadSignatureError, WrongMessageTypeError } from '../envelope/errors.ts';
import type { Signer } from '../identity/signer.ts';
import type { Ed25519Verifier } from '../identity/verifier.ts';
import type { TxId } from '../identity/ids.ts';
import type { InvalidMessageError } from '../messages/errors.ts';
import { decodeReceiptPayload, type ReceiptPayload } from '../messages/receipt.ts';
import { decodeTaskPayload, type TaskPayload } from '../messages/task.ts';
import {
  isTransactionType,
  transactionDecoders,
  type TransactionPayloads,
  type TransactionType,
} from '../messages/transactions.ts';
import { err, ok, type Result } from '../result.ts';

export type TaskMessage = SignedMessage<'task', TaskPayload>;
export type ReceiptMessage = SignedMessage<'receipt', ReceiptPayload>;

interface TxOf<K extends TransactionType> {
  readonly type: K;
  readonly id: TxId;
  readonly message: SignedMessage<K, TransactionPayloads[K]>;
  /** The encoded envelope: the Merkle leaf and what storage keeps. */
  readonly bytes: Uint8Array;
}

/** A transaction whose every signature has been checked. */
export type VerifiedTx = (
  | TxOf<'tx/grant'>
  | TxOf<'tx/transfer'>
  | (TxOf<'tx/escrow'> & { readonly task: TaskMessage })
  | (TxOf<'tx/settle'> & { readonly receipt: ReceiptMessage })
  | TxOf<'tx/refund'>
  | TxOf<'tx/stake'>
  | TxOf<'tx/unstake'>
  | (TxOf<'tx/slash'> & { readonly evidence: ReceiptMessage })
  | TxOf<'tx/release'>
) & { readonly __verified: true };

export type ReadTxError = ReadMessageError | InvalidMessageError;

/** Decodes and fully verifies a transaction from its encoded envelope. Never throws. */
export function readTransaction(bytes: Uint8Array, verifier: Ed25519Verifier): Result<VerifiedTx, ReadTxError> {
  const decoded = decodeEnvelope(bytes);
  if (!decoded.ok) return decoded;
  return verifyTransactionEnvelope(decoded.value, verifier, bytes);
}

/** Verifies a transaction given as an envelope. Never throws. */
export function verifyTransactionEnvelope(
  envelope: Envelope,
  verifier: Ed25519Verifier,
  bytes: Uint8Array = encodeEnvelope(envelope),
): Result<VerifiedTx, ReadTxError> {
  const type = envelope.type;
  if (!isTransactionType(type)) return err(new WrongMessageTypeError(`${type} is not a ledger transaction`));
  if (!verifyEnvelope(envelope, verifier)) return err(new BadSignatureError(`the ${type} signature does not verify`));
  const opened = openEnvelope(
    envelope,
    type,
    transactionDecoders[type] as (value: unknown) => Result<never, InvalidMessageError>,
  );
  if (!opened.ok) return opened;
  const message = opened.value as SignedMessage<TransactionType, TransactionPayloads[TransactionType]>;
  const base = { type, id: message.id as TxId, message, bytes };
  switch (type) {
    case 'tx/escrow': {
      const task = readMessage(
        (message.payload as TransactionPayloads['tx/escrow']).task,
        'task',
        decodeTaskPayload,
        verifier,
      );
      return task.ok ? ok({ ...base, task: task.value } as VerifiedTx) : task;
    }
    case 'tx/settle': {
      const receipt = readMessage(
        (message.payload as TransactionPayloads['tx/settle']).receipt,
        'receipt',
        decodeReceiptPayload,
        verifier,
      );
      return receipt.ok ? ok({ ...base, receipt: receipt.value } as VerifiedTx) : receipt;
    }
    case 'tx/slash': {
      const evidence = readMessage(
        (message.payload as TransactionPayloads['tx/slash']).evidence,
        'receipt',
        decodeReceiptPayload,
        verifier,
      );
      return evidence.ok ? ok({ ...base, evidence: evidence.value } as VerifiedTx) : evidence;
    }
    default:
      return ok(base as VerifiedTx);
  }
}

/** Signs a transaction payload and returns its encoded envelope. */
export async function signTransaction<K extends TransactionType>(
  signer: Signer,
  type: K,
  payload: TransactionPayloads[K],
): Promise<Uint8Array> {
  return encodeEnvelope(await signEnvelope(signer, type, payload));
}
