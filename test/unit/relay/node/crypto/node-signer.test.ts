/** The node:crypto signer keeps the Signer contract, the RFC 8032 vectors included, and node:crypto's verifier accepts it. */
import { ed25519 } from '@noble/curves/ed25519.js';
import { createNodeSigner } from '#node/crypto/node-signer.ts';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { runSignerContract } from '#test/signer-contract.ts';

runSignerContract('node:crypto', () => ({
  generate: () => Promise.resolve(createNodeSigner(ed25519.utils.randomSecretKey())),
  fromSeed: (seed) => Promise.resolve().then(() => createNodeSigner(seed)),
  badSeedErrorName: 'TypeError',
  verifiers: [createNodeVerifier()],
}));
