/**
 * Branded ids. Every id that crosses a module boundary has its own type, made
 * only by the parse or derive functions below, so a task id can never be passed
 * where an account id is expected.
 */
import { base58btc } from 'multiformats/bases/base58';
import { err, ok, type Result } from '../result.ts';
import { bytesToHex, hexToBytes } from '../encoding/bytes.ts';
import { InvalidIdError } from './errors.ts';

/** An account: the libp2p PeerId string of its Ed25519 public key (`12D3KooW…`). */
export type AccountId = string & { readonly __brand: 'AccountId' };
/** A SHA-256 digest as 64 lower-case hex characters. */
export type Hash = string & { readonly __brand: 'Hash' };
/** A task: the hash of its signed envelope. */
export type TaskId = Hash & { readonly __kind: 'TaskId' };
/** A ledger transaction: the hash of its signed envelope. */
export type TxId = Hash & { readonly __kind: 'TxId' };
/** A block: the hash of its signed header. */
export type BlockHash = Hash & { readonly __kind: 'BlockHash' };
/** A model: the SHA-256 of its ONNX bytes. */
export type ModelId = Hash & { readonly __kind: 'ModelId' };

export const ED25519_PUBLIC_KEY_BYTES = 32;
const HASH_PATTERN = /^[0-9a-f]{64}$/;

/**
 * An Ed25519 PeerId's bytes: an identity multihash (code 0x00, 36 bytes) of
 * libp2p's protobuf PublicKey { Type: Ed25519 (1), Data: 32 bytes }, written
 * in base58btc without a multibase prefix. Only Ed25519 PeerIds are accounts,
 * so this fixed layout is all we need; importing @libp2p/peer-id would pull
 * every key type (RSA, secp256k1, ECDSA) into the app's bundle.
 */
const ED25519_PEER_ID_PREFIX = Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20);
const ED25519_PEER_ID_BYTES = ED25519_PEER_ID_PREFIX.length + ED25519_PUBLIC_KEY_BYTES;

function encodePeerId(publicKey: Uint8Array): string {
  const bytes = new Uint8Array(ED25519_PEER_ID_BYTES);
  bytes.set(ED25519_PEER_ID_PREFIX);
  bytes.set(publicKey, ED25519_PEER_ID_PREFIX.length);
  return base58btc.baseEncode(bytes);
}

/** The public key inside an Ed25519 PeerId string, or undefined for anything else. */
function decodePeerId(text: string): Uint8Array | undefined {
  let bytes: Uint8Array;
  try {
    bytes = base58btc.baseDecode(text);
  } catch {
    return undefined;
  }
  if (bytes.length !== ED25519_PEER_ID_BYTES) return undefined;
  if (!ED25519_PEER_ID_PREFIX.every((b, i) => bytes[i] === b)) return undefined;
  return bytes.slice(ED25519_PEER_ID_PREFIX.length);
}

/** The account id of a raw 32-byte Ed25519 public key. Throws if the key is not 32 bytes. */
export function accountIdFromPublicKey(publicKey: Uint8Array): AccountId {
  const hex = bytesToHex(publicKey);
  const cached = idByKey.get(hex);
  if (cached !== undefined) return cached;
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new InvalidIdError(`publicKey must be ${ED25519_PUBLIC_KEY_BYTES} bytes, got ${publicKey.length}`);
  }
  const id = encodePeerId(publicKey) as AccountId;
  remember(hex, id);
  return id;
}

/** Parses an account id; only Ed25519 PeerIds are accounts. */
export function parseAccountId(text: unknown): Result<AccountId, InvalidIdError> {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) {
    return err(new InvalidIdError('account id must be a PeerId string'));
  }
  if (keyById.has(text)) return ok(text as AccountId);
  const publicKey = decodePeerId(text);
  if (publicKey === undefined) return err(new InvalidIdError('account id is not an Ed25519 PeerId'));
  if (encodePeerId(publicKey) !== text) {
    return err(new InvalidIdError('account id must be an Ed25519 PeerId in its canonical form'));
  }
  remember(bytesToHex(publicKey), text as AccountId);
  return ok(text as AccountId);
}

/** The raw Ed25519 public key behind an account id. */
export function publicKeyOfAccount(id: AccountId): Uint8Array {
  const hex = keyById.get(id);
  if (hex !== undefined) return hexToBytes(hex);
  const publicKey = decodePeerId(id);
  if (publicKey === undefined) throw new InvalidIdError('account id is not an Ed25519 PeerId');
  remember(bytesToHex(publicKey), id);
  return publicKey;
}

export function formatAccountId(id: AccountId): string {
  return id;
}

/** Parses a 64-character lower-case hex SHA-256 digest. */
export function parseHash(text: unknown): Result<Hash, InvalidIdError> {
  if (typeof text !== 'string' || !HASH_PATTERN.test(text)) {
    return err(new InvalidIdError('expected 64 lower-case hex characters'));
  }
  return ok(text as Hash);
}

export function parseTaskId(text: unknown): Result<TaskId, InvalidIdError> {
  return parseHash(text) as Result<TaskId, InvalidIdError>;
}
export function parseTxId(text: unknown): Result<TxId, InvalidIdError> {
  return parseHash(text) as Result<TxId, InvalidIdError>;
}
export function parseBlockHash(text: unknown): Result<BlockHash, InvalidIdError> {
  return parseHash(text) as Result<BlockHash, InvalidIdError>;
}
export function parseModelId(text: unknown): Result<ModelId, InvalidIdError> {
  return parseHash(text) as Result<ModelId, InvalidIdError>;
}

/** A digest from its 32 raw bytes. */
export function hashFromBytes(digest: Uint8Array): Hash {
  if (digest.length !== 32) throw new InvalidIdError(`a SHA-256 digest is 32 bytes, got ${digest.length}`);
  return bytesToHex(digest) as Hash;
}

export function formatHash(hash: Hash): string {
  return hash;
}

// Converting between a key and its PeerId costs a protobuf and a base58 pass;
// verifiers do it for every message, so both directions are memoised (bounded).
const CACHE_LIMIT = 4096;
const idByKey = new Map<string, AccountId>();
const keyById = new Map<string, string>();

function remember(keyHex: string, id: AccountId): void {
  if (idByKey.size >= CACHE_LIMIT) {
    idByKey.clear();
    keyById.clear();
  }
  idByKey.set(keyHex, id);
  keyById.set(id, keyHex);
}
