/** Byte helpers shared by every module; thin names over well-kept libraries. */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { equalBytes } from '@noble/curves/utils.js';
// The base64url codec alone: uint8arrays' fromString/toString would bring every multibase encoding.
import { base64url } from 'multiformats/bases/base64';

export { bytesToHex, concatBytes, equalBytes, hexToBytes, sha256, utf8ToBytes };

/** base64url without padding, as used in JSON transports and JWKs. */
export function toBase64Url(bytes: Uint8Array): string {
  return base64url.baseEncode(bytes);
}

/** Parses base64url; throws on characters outside the alphabet. */
export function fromBase64Url(text: string): Uint8Array {
  return base64url.baseDecode(text);
}

/** SHA-256 of `bytes` as 64 lower-case hex characters. */
export function sha256Hex(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}
