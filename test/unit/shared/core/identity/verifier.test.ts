/** Both core verifiers keep the Ed25519 verifier contract: noble's (synchronous) and WebCrypto's (asynchronous). */
import { nobleVerifier, webCryptoVerify } from '#core/index.ts';
import { runVerifierContract } from '#test/verifier-contract.ts';

runVerifierContract('noble', () => nobleVerifier);
runVerifierContract('WebCrypto', () => ({ verify: webCryptoVerify }));
