/** Byte helpers shared by every module; thin names over well-kept libraries. */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { equalBytes } from '@noble/curves/utils.js';
import { fromString, toString } from 'uint8arrays';

export { bytesToHex, concatBytes, equalBytes, hexToBytes, sha256, utf8ToBytes };

/** base64url without padding, as used in JSON transports and JWKs. */
export function toBase64Url(bytes: Uint8Array): string {
  return toString(bytes, 'base64url');
}

/** Parses base64url; throws on characters outside the alphabet. */
export function fromBase64Url(text: string): Uint8Array {
  return fromString(text, 'base64url');
}

/** SHA-256 of `bytes` as 64 lower-case hex characters. */
export function sha256Hex(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}
