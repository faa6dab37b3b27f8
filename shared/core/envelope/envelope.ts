/**
 * Signed envelopes: `{ type, body, key, sig }`, DAG-CBOR encoded.
 *
 * - `body` is the canonical encoding of the payload and is what gets signed,
 *   exactly as received: a verifier never re-encodes before checking.
 * - The signature covers `acn/v1/<type>` + 0x00 + body, so a signature made
 *   for one message type can never verify as another (domain separation).
 * - A message's id is the SHA-256 of those same signed bytes followed by the
 *   signer's public key (see {@link messageId}).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeCanonical, encodeCanonical, type CanonicalDecodeError } from '../encoding/canonical.ts';
import { concatBytes, utf8ToBytes } from '../encoding/bytes.ts';
import { MalformedEncodingError } from '../encoding/errors.ts';
import { accountIdFromPublicKey, hashFromBytes, type AccountId, type Hash } from '../identity/ids.ts';
import type { Signer } from '../identity/signer.ts';
import type { Ed25519Verifier } from '../identity/verifier.ts';
import { err, ok, type Result } from '../result.ts';
import { BadSignatureError, WrongMessageTypeError } from './errors.ts';

/** Every message type that is signed. Each is its own signature domain. */
export const MESSAGE_TYPES = [
  'task',
  'task/cancel',
  'task/stop',
  'task/assignment',
  'task/fallback',
  'receipt',
  'advert',
  'block',
  'genesis',
  'tx/grant',
  'tx/transfer',
  'tx/escrow',
  'tx/settle',
  'tx/refund',
  'tx/stake',
  'tx/unstake',
  'tx/slash',
  'tx/release',
  'relay/control',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** The largest encoded envelope accepted: 64 KiB (inputs and outputs travel beside it, bound by hash). */
export const MAX_ENVELOPE_BYTES = 64 * 1024;

export interface Envelope {
  readonly type: MessageType;
  /** Canonical encoding of the payload; the signed bytes. */
  readonly body: Uint8Array;
  /** Raw 32-byte Ed25519 public key of the signer. */
  readonly key: Uint8Array;
  /** 64-byte Ed25519 signature over {@link signingBytes}. */
  readonly sig: Uint8Array;
}

const DOMAIN_PREFIX = 'acn/v1/';
const domainBytes = new Map<MessageType, Uint8Array>(
  MESSAGE_TYPES.map((type) => [type, concatBytes(utf8ToBytes(DOMAIN_PREFIX + type), new Uint8Array([0]))]),
);

/** The exact bytes a signature covers: the domain tag of `type`, a zero byte, then `body`. */
export function signingBytes(type: MessageType, body: Uint8Array): Uint8Array {
  const domain = domainBytes.get(type);
  if (domain === undefined) throw new TypeError(`unknown message type ${type}`);
  return concatBytes(domain, body);
}

/**
 * The id of a message: SHA-256 of its signing bytes followed by the signer's
 * public key. The key is part of it because a message is a statement by its
 * signer: two accounts staking the same amount at the same sequence number
 * sign the same body, and must still make two transactions with two ids.
 * (The body is self-delimiting canonical CBOR and the key 32 bytes, so the
 * concatenation is unambiguous; the signature is left out, so an id is known
 * before signing and never depends on signature bytes.)
 */
export function messageId(envelope: Pick<Envelope, 'type' | 'body' | 'key'>): Hash {
  return hashFromBytes(sha256(concatBytes(signingBytes(envelope.type, envelope.body), envelope.key)));
}

/** Encodes `payload` canonically and signs it as a message of `type`. */
export async function signEnvelope(signer: Signer, type: MessageType, payload: unknown): Promise<Envelope> {
  const body = encodeCanonical(payload);
  const sig = await signer.sign(signingBytes(type, body));
  return { type, body, key: signer.publicKey, sig };
}

/** True only when `envelope.sig` is `envelope.key`'s signature of its type and body. Never throws. */
export function verifyEnvelope(envelope: Envelope, verifier: Ed25519Verifier): boolean {
  try {
    if (!(envelope.body instanceof Uint8Array) || !domainBytes.has(envelope.type)) return false;
    return verifier.verify(envelope.sig, signingBytes(envelope.type, envelope.body), envelope.key);
  } catch {
    return false;
  }
}

export function encodeEnvelope(envelope: Envelope): Uint8Array {
  return encodeCanonical({ type: envelope.type, body: envelope.body, key: envelope.key, sig: envelope.sig });
}

/** Decodes an envelope's outer shape (not its payload, not its signature). Never throws. */
export function decodeEnvelope(bytes: Uint8Array): Result<Envelope, CanonicalDecodeError> {
  const decoded = decodeCanonical(bytes, { maxBytes: MAX_ENVELOPE_BYTES });
  if (!decoded.ok) return decoded;
  const value = decoded.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return err(new MalformedEncodingError('envelope must be a map'));
  }
  const { type, body, key, sig, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return err(new MalformedEncodingError('envelope has unknown fields'));
  if (typeof type !== 'string' || !domainBytes.has(type as MessageType)) {
    return err(new MalformedEncodingError('envelope type is not a known message type'));
  }
  if (!(body instanceof Uint8Array)) return err(new MalformedEncodingError('envelope body must be bytes'));
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    return err(new MalformedEncodingError('envelope key must be 32 bytes'));
  }
  if (!(sig instanceof Uint8Array) || sig.length !== 64) {
    return err(new MalformedEncodingError('envelope sig must be 64 bytes'));
  }
  return ok({ type: type as MessageType, body, key, sig });
}

/** A signed message whose payload has been decoded and validated. */
export interface SignedMessage<T extends MessageType, P> {
  readonly envelope: Envelope & { readonly type: T };
  readonly payload: P;
  readonly signer: AccountId;
  readonly id: Hash;
}

/**
 * Turns an envelope into a typed message: checks its type, decodes the body
 * canonically and validates it with `decodePayload`. Does not check the
 * signature (see {@link verifyMessage} and {@link readMessage}).
 */
export function openEnvelope<T extends MessageType, P, E extends Error>(
  envelope: Envelope,
  type: T,
  decodePayload: (value: unknown) => Result<P, E>,
): Result<SignedMessage<T, P>, CanonicalDecodeError | WrongMessageTypeError | E> {
  if (envelope.type !== type) {
    return err(new WrongMessageTypeError(`expected a ${type} message, got ${envelope.type}`));
  }
  const body = decodeCanonical(envelope.body, { maxBytes: MAX_ENVELOPE_BYTES });
  if (!body.ok) return body;
  const payload = decodePayload(body.value);
  if (!payload.ok) return payload;
  return ok({
    envelope: envelope as Envelope & { readonly type: T },
    payload: payload.value,
    signer: accountIdFromPublicKey(envelope.key),
    id: messageId(envelope),
  });
}

/** True when the message's signature is valid. Never throws. */
export function verifyMessage(message: SignedMessage<MessageType, unknown>, verifier: Ed25519Verifier): boolean {
  return verifyEnvelope(message.envelope, verifier);
}

export type ReadMessageError = CanonicalDecodeError | WrongMessageTypeError | BadSignatureError;

/** Decodes, verifies and validates a signed message from its wire bytes. Never throws. */
export function readMessage<T extends MessageType, P, E extends Error>(
  bytes: Uint8Array,
  type: T,
  decodePayload: (value: unknown) => Result<P, E>,
  verifier: Ed25519Verifier,
): Result<SignedMessage<T, P>, ReadMessageError | E> {
  const envelope = decodeEnvelope(bytes);
  if (!envelope.ok) return envelope;
  if (envelope.value.type !== type) {
    return err(new WrongMessageTypeError(`expected a ${type} message, got ${envelope.value.type}`));
  }
  if (!verifyEnvelope(envelope.value, verifier)) {
    return err(new BadSignatureError(`the ${type} signature does not verify`));
  }
  return openEnvelope(envelope.value, type, decodePayload);
}
