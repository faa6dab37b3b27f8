/**
 * The wire format between the relay's main thread and its verifier thread:
 * many signature checks packed into one transferable buffer, so a batch
 * costs one `postMessage` and no structured cloning of many small arrays.
 *
 * Layout: `u32 count`, then per check `u32 message length`, the 64-byte
 * signature, the 32-byte public key and the message. The answer is one byte
 * per check, 1 for valid.
 */

/** One Ed25519 signature to check. */
export interface SignatureCheck {
  readonly signature: Uint8Array;
  readonly message: Uint8Array;
  readonly publicKey: Uint8Array;
}

const SIGNATURE_BYTES = 64;
const PUBLIC_KEY_BYTES = 32;
const HEADER_BYTES = 4;
const ENTRY_HEADER_BYTES = 4;

/** True when a check has the lengths and types a valid one must have (anything else is simply invalid). */
export function isWellFormed(check: SignatureCheck): boolean {
  return (
    check.signature instanceof Uint8Array &&
    check.signature.length === SIGNATURE_BYTES &&
    check.publicKey instanceof Uint8Array &&
    check.publicKey.length === PUBLIC_KEY_BYTES &&
    check.message instanceof Uint8Array
  );
}

/** Packs well-formed checks (see {@link isWellFormed}) into one buffer. */
export function packChecks(checks: readonly SignatureCheck[]): ArrayBuffer {
  let size = HEADER_BYTES;
  for (const check of checks) size += ENTRY_HEADER_BYTES + SIGNATURE_BYTES + PUBLIC_KEY_BYTES + check.message.length;
  const buffer = new ArrayBuffer(size);
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  view.setUint32(0, checks.length);
  let at = HEADER_BYTES;
  for (const { signature, publicKey, message } of checks) {
    view.setUint32(at, message.length);
    at += ENTRY_HEADER_BYTES;
    bytes.set(signature, at);
    at += SIGNATURE_BYTES;
    bytes.set(publicKey, at);
    at += PUBLIC_KEY_BYTES;
    bytes.set(message, at);
    at += message.length;
  }
  return buffer;
}

/** The checks in a buffer made by {@link packChecks}, as views into it (no copies). */
export function unpackChecks(buffer: ArrayBuffer): SignatureCheck[] {
  const view = new DataView(buffer);
  const count = view.getUint32(0);
  const checks: SignatureCheck[] = [];
  let at = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const length = view.getUint32(at);
    at += ENTRY_HEADER_BYTES;
    const signature = new Uint8Array(buffer, at, SIGNATURE_BYTES);
    at += SIGNATURE_BYTES;
    const publicKey = new Uint8Array(buffer, at, PUBLIC_KEY_BYTES);
    at += PUBLIC_KEY_BYTES;
    const message = new Uint8Array(buffer, at, length);
    at += length;
    checks.push({ signature, publicKey, message });
  }
  return checks;
}
