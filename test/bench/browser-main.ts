/** The browser half of `npm run bench`: core benchmarks with WebCrypto as the native Ed25519. */
import { createNobleSigner, nobleVerifier, toBase64Url } from '#core/index.ts';
import { runCoreBench } from './core.ts';

declare global {
  interface Window {
    benchResult?: Promise<unknown>;
  }
}

async function main() {
  const secret = new Uint8Array(32).fill(42);
  const signer = createNobleSigner(secret);
  const jwk = { kty: 'OKP', crv: 'Ed25519', d: toBase64Url(secret), x: toBase64Url(signer.publicKey) };
  const privateKey = await crypto.subtle.importKey('jwk', jwk, 'Ed25519', false, ['sign']);
  const keys = new Map<string, CryptoKey>();
  const keyFor = async (raw: Uint8Array) => {
    const id = toBase64Url(raw);
    let key = keys.get(id);
    if (key === undefined) {
      key = await crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, 'Ed25519', false, ['verify']);
      keys.set(id, key);
    }
    return key;
  };
  const logEl = document.getElementById('log');
  return runCoreBench({
    signer,
    ledgerVerifier: nobleVerifier,
    ledgerVerifierName: 'noble',
    log: (line) => {
      if (logEl) logEl.textContent += `${line}\n`;
    },
    native: {
      name: 'WebCrypto',
      publicKey: signer.publicKey,
      sign: async (message) =>
        new Uint8Array(await crypto.subtle.sign('Ed25519', privateKey, message as Uint8Array<ArrayBuffer>)),
      verify: async (signature, message, publicKey) =>
        crypto.subtle.verify(
          'Ed25519',
          await keyFor(publicKey),
          signature as Uint8Array<ArrayBuffer>,
          message as Uint8Array<ArrayBuffer>,
        ),
    },
  });
}

window.benchResult = main();
