/**
 * Protocol-core benchmarks, runnable in Node and in the browser: the caller
 * passes the platform's native Ed25519 (node:crypto or WebCrypto).
 */
import {
  applyTransaction,
  buildBlock,
  createLedgerState,
  createNobleSigner,
  merkleProofs,
  merkleRoot,
  nobleVerifier,
  readTransaction,
  signEnvelope,
  signTransaction,
  signingBytes,
  verifyInclusion,
  type Ed25519Verifier,
  type LedgerParams,
  type LedgerState,
  type Signer,
  type VerifiedTx,
  solvePow,
  type Hash,
} from '#core/index.ts';
import { measure, measureSync, type Measurement } from './measure.ts';

export interface NativeEd25519 {
  readonly name: string;
  sign(message: Uint8Array): Promise<Uint8Array> | Uint8Array;
  readonly publicKey: Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean> | boolean;
}

export interface CoreBenchInit {
  /** The platform's native Ed25519 over the same secret key as `signer`. */
  readonly native: NativeEd25519;
  /** A noble signer. */
  readonly signer: Signer;
  /** The verifier the platform's ledger path uses (node:crypto on the relay, noble in a page). */
  readonly ledgerVerifier: Ed25519Verifier;
  readonly ledgerVerifierName: string;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

const BENCH_PARAMS: LedgerParams = { feeBps: 500, grantAmount: 1_000_000, minPowDifficulty: 0, minWorkerStake: 0 };
const ACCOUNTS = 500;
const TRANSFERS = 1000;

export async function runCoreBench(init: CoreBenchInit): Promise<Measurement[]> {
  const log = init.log ?? (() => undefined);
  const results: Measurement[] = [];
  // A typical signed message: a transfer payload behind its domain tag.
  const envelope = await signEnvelope(init.signer, 'tx/transfer', {
    v: 1,
    net: init.signer.accountId,
    to: init.signer.accountId,
    amount: 12345,
    seq: 7,
  });
  const message = signingBytes(envelope.type, envelope.body);
  const signature = envelope.sig;

  log('signatures');
  results.push(await measure('sign, noble', () => init.signer.sign(message)));
  results.push(measureSync('verify, noble', () => nobleVerifier.verify(signature, message, init.signer.publicKey)));
  results.push(await measure(`sign, ${init.native.name}`, () => init.native.sign(message)));
  results.push(
    await measure(`verify, ${init.native.name}`, () => init.native.verify(signature, message, init.signer.publicKey)),
  );

  log('preparing a ledger of accounts and transfers');
  const relay = init.signer;
  const accounts = Array.from({ length: ACCOUNTS }, (_, i) => createNobleSigner(seed(i + 1)));
  let state: LedgerState = createLedgerState(relay.accountId, BENCH_PARAMS);
  for (const account of accounts) {
    const pow = await solvePow({ network: relay.accountId, publicKey: account.publicKey, difficulty: 0 });
    const bytes = await signTransaction(relay, 'tx/grant', {
      v: 1,
      net: relay.accountId,
      to: account.accountId,
      amount: BENCH_PARAMS.grantAmount,
      pow,
    });
    state = mustApply(state, mustRead(bytes, nobleVerifier));
  }
  const transferBytes: Uint8Array[] = [];
  for (let i = 0; i < TRANSFERS; i++) {
    const from = accounts[i % ACCOUNTS] as Signer;
    const to = accounts[(i + 1) % ACCOUNTS] as Signer;
    transferBytes.push(
      await signTransaction(from, 'tx/transfer', {
        v: 1,
        net: relay.accountId,
        to: to.accountId,
        amount: 10,
        seq: Math.floor(i / ACCOUNTS) + 1,
      }),
    );
  }
  const verified = transferBytes.map((bytes) => mustRead(bytes, nobleVerifier));
  const start = state;

  log('ledger');
  const applyAll = measureSync(
    'apply transfer, signatures excluded',
    () => {
      let s = start;
      for (const tx of verified) s = mustApply(s, tx);
    },
    1000,
  );
  results.push(per(applyAll, TRANSFERS));
  const readApplyAll = measureSync(
    `read + verify (${init.ledgerVerifierName}) + apply transfer`,
    () => {
      let s = start;
      for (const bytes of transferBytes) s = mustApply(s, mustRead(bytes, init.ledgerVerifier));
    },
    1000,
  );
  results.push(per(readApplyAll, TRANSFERS));

  log('blocks and Merkle proofs');
  let height = 0;
  results.push(
    await measure(
      `build block of ${TRANSFERS} txs`,
      () => buildBlock(relay, { height: ++height, prev: '00'.repeat(32) as Hash, txs: transferBytes, ts: 0 }),
      1000,
    ),
  );
  const block = await buildBlock(relay, { height: 1, prev: '00'.repeat(32) as Hash, txs: transferBytes, ts: 0 });
  const root = merkleRoot(block.txs);
  const proofs = merkleProofs(block.txs);
  let p = 0;
  results.push(
    measureSync(`verify Merkle proof (${TRANSFERS}-leaf tree)`, () => {
      const i = p++ % TRANSFERS;
      if (!verifyInclusion(block.txs[i] as Uint8Array, proofs[i] as (typeof proofs)[number], root)) {
        throw new Error('proof failed');
      }
    }),
  );
  results.push(await measure(`build all ${TRANSFERS} proofs`, () => merkleProofs(block.txs), 1000));
  return results;
}

function per(m: Measurement, n: number): Measurement {
  return { name: m.name, opsPerSec: m.opsPerSec * n, msPerOp: m.msPerOp / n };
}

function seed(i: number): Uint8Array {
  const s = new Uint8Array(32);
  new DataView(s.buffer).setUint32(0, i);
  s[31] = 7;
  return s;
}

function mustRead(bytes: Uint8Array, verifier: Ed25519Verifier): VerifiedTx {
  const read = readTransaction(bytes, verifier);
  if (!read.ok) throw read.error;
  return read.value;
}

function mustApply(state: LedgerState, tx: VerifiedTx): LedgerState {
  const next = applyTransaction(state, tx);
  if (!next.ok) throw next.error;
  return next.value;
}
