/** The noble signer keeps the Signer contract, the RFC 8032 vectors included. */
import { createNobleSigner, generateNobleSigner } from '#core/index.ts';
import { runSignerContract } from '#test/signer-contract.ts';

runSignerContract('noble', () => ({
  generate: () => Promise.resolve(generateNobleSigner()),
  fromSeed: (seed) => Promise.resolve().then(() => createNobleSigner(seed)),
  badSeedErrorName: 'TypeError',
}));
