/**
 * Builders for test networks: a relay (the authority), accounts, and signed
 * transactions, tasks and receipts with sensible defaults. Proof-of-work runs
 * at a low difficulty so tests stay fast.
 */
import {
  createNobleSigner,
  encodeEnvelope,
  nobleVerifier,
  readTransaction,
  sha256Hex,
  signEnvelope,
  signGenesis,
  signTransaction,
  solvePow,
  type LedgerParams,
  type ModelId,
  type ReceiptPayload,
  type Signer,
  type TaskId,
  type TaskPayload,
  type TransactionPayloads,
  type TransactionType,
  type VerifiedTx,
  type Hash,
  type AccountId,
  type LedgerState,
  type RefundPayload,
  type TxId,
  createLedgerState,
  messageId,
  decodeEnvelope,
} from '#core/index.ts';

export const TEST_PARAMS: LedgerParams = { feeBps: 500, grantAmount: 1000, minPowDifficulty: 4, minWorkerStake: 100 };
export const TEST_MODEL = sha256Hex(new TextEncoder().encode('test model')) as ModelId;
export const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

/** A deterministic signer: secret key = sha256(name). */
export function signerFor(name: string): Signer & { readonly secretKey: Uint8Array } {
  const secret = Uint8Array.from(
    (sha256Hex(new TextEncoder().encode(name)).match(/../g) ?? []).map((h) => parseInt(h, 16)),
  );
  return createNobleSigner(secret);
}

export interface TestNetwork {
  readonly relay: Signer;
  readonly params: LedgerParams;
  /** Encoded genesis envelope. */
  readonly genesis: Uint8Array;
}

export async function createTestNetwork(params: LedgerParams = TEST_PARAMS, relayName = 'relay'): Promise<TestNetwork> {
  const relay = signerFor(relayName);
  const genesis = encodeEnvelope(await signGenesis(relay, params, T0));
  return { relay, params, genesis };
}

/** Signs a transaction and verifies it, as the relay would on receipt. */
export async function tx<K extends TransactionType>(
  signer: Signer,
  type: K,
  payload: TransactionPayloads[K],
): Promise<VerifiedTx> {
  const bytes = await signTransaction(signer, type, payload);
  const read = readTransaction(bytes, nobleVerifier);
  if (!read.ok) throw read.error;
  return read.value;
}

/** A grant to `account` with a real proof-of-work at the network's minimum difficulty. */
export async function grant(net: TestNetwork, account: Signer, amount = net.params.grantAmount): Promise<VerifiedTx> {
  const pow = await solvePow({
    network: net.relay.accountId,
    publicKey: account.publicKey,
    difficulty: net.params.minPowDifficulty,
  });
  return tx(net.relay, 'tx/grant', { v: 1, net: net.relay.accountId, to: account.accountId, amount, pow });
}

let nonceCounter = 0;

/** A signed task envelope (encoded) and its id. */
export async function task(
  net: TestNetwork,
  requester: Signer,
  overrides: Partial<TaskPayload> = {},
): Promise<{ bytes: Uint8Array; id: TaskId; payload: TaskPayload }> {
  nonceCounter++;
  const nonce = new Uint8Array(16);
  new DataView(nonce.buffer).setUint32(0, nonceCounter);
  const payload: TaskPayload = {
    v: 1,
    net: net.relay.accountId,
    model: TEST_MODEL,
    input: sha256Hex(new Uint8Array([nonceCounter])) as Hash,
    inputBytes: 1,
    maxPrice: 100,
    nonce,
    ts: T0,
    ...overrides,
  };
  const envelope = await signEnvelope(requester, 'task', payload);
  return { bytes: encodeEnvelope(envelope), id: messageId(envelope) as TaskId, payload };
}

/** A worker's signed receipt (encoded) for a task. */
export async function receipt(
  net: TestNetwork,
  worker: Signer,
  taskId: TaskId,
  overrides: Partial<ReceiptPayload> = {},
): Promise<Uint8Array> {
  const payload: ReceiptPayload = {
    v: 1,
    net: net.relay.accountId,
    task: taskId,
    model: TEST_MODEL,
    output: sha256Hex(new TextEncoder().encode(`output of ${taskId}`)) as Hash,
    outputBytes: 10,
    units: 1,
    backend: 'wasm',
    runMs: 5,
    ts: T0,
    ...overrides,
  };
  return encodeEnvelope(await signEnvelope(worker, 'receipt', payload));
}

/** An empty ledger for the test network. */
export function ledgerOf(net: TestNetwork): LedgerState {
  return createLedgerState(net.relay.accountId, net.params);
}

/** A transfer signed by `from`. */
export function transfer(
  net: TestNetwork,
  from: Signer,
  to: AccountId,
  amount: number,
  seq: number,
  network: AccountId = net.relay.accountId,
): Promise<VerifiedTx> {
  return tx(from, 'tx/transfer', { v: 1, net: network, to, amount, seq });
}

/** A stake (or unstake) signed by the account itself. */
export function stake(
  net: TestNetwork,
  who: Signer,
  amount: number,
  seq: number,
  type: 'tx/stake' | 'tx/unstake' = 'tx/stake',
): Promise<VerifiedTx> {
  return tx(who, type, { v: 1, net: net.relay.accountId, amount, seq });
}

/** An escrow of a signed task, signed by the relay unless `signer` is given. */
export function escrow(net: TestNetwork, taskBytes: Uint8Array, signer: Signer = net.relay): Promise<VerifiedTx> {
  return tx(signer, 'tx/escrow', { v: 1, net: net.relay.accountId, task: Uint8Array.from(taskBytes) });
}

/** A settlement of `taskId` with a worker's receipt, signed by the relay unless `signer` is given. */
export function settle(
  net: TestNetwork,
  taskId: TaskId,
  receiptBytes: Uint8Array,
  price: number,
  signer: Signer = net.relay,
): Promise<VerifiedTx> {
  const receipt = Uint8Array.from(receiptBytes);
  return tx(signer, 'tx/settle', { v: 1, net: net.relay.accountId, task: taskId, receipt, price });
}

/** A refund of `taskId`, signed by the relay unless `signer` is given. */
export function refund(
  net: TestNetwork,
  taskId: TaskId,
  reason: RefundPayload['reason'] = 'cancelled',
  signer: Signer = net.relay,
): Promise<VerifiedTx> {
  return tx(signer, 'tx/refund', { v: 1, net: net.relay.accountId, task: taskId, reason });
}

/** A slash of `worker` for `taskId` with its receipt as evidence, signed by the relay unless `signer` is given. */
export function slash(
  net: TestNetwork,
  worker: AccountId,
  taskId: TaskId,
  amount: number,
  evidence: Uint8Array,
  signer: Signer = net.relay,
): Promise<VerifiedTx> {
  const payload = {
    v: 1 as const,
    net: net.relay.accountId,
    worker,
    task: taskId,
    amount,
    evidence: Uint8Array.from(evidence),
  };
  return tx(signer, 'tx/slash', payload);
}

/** A release of what is left of unstake `unstake`, dated `ts`, signed by the relay unless `signer` is given. */
export function release(
  net: TestNetwork,
  account: AccountId,
  unstake: TxId,
  amount: number,
  ts: number,
  signer: Signer = net.relay,
): Promise<VerifiedTx> {
  return tx(signer, 'tx/release', { v: 1, net: net.relay.accountId, account, unstake, amount, ts });
}

/** The same envelope with one bit of its signature flipped: decodes, but does not verify. */
export function forgeSignature(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const decoded = decodeEnvelope(bytes);
  if (!decoded.ok) throw decoded.error;
  const sig = Uint8Array.from(decoded.value.sig);
  sig[0] = (sig[0] as number) ^ 1;
  return Uint8Array.from(encodeEnvelope({ ...decoded.value, sig }));
}

/** A plain, deep copy of a ledger state, for comparing states with `toEqual`. */
export function snapshot(state: LedgerState): unknown {
  return JSON.parse(
    JSON.stringify({
      network: state.network,
      params: state.params,
      supply: state.supply,
      accounts: state.accounts.toJS(),
      escrows: state.escrows.toJS(),
      slashes: state.slashes.toArray().sort(),
      unbonding: state.unbonding.toJS(),
    }),
  ) as unknown;
}

/** Hex helpers for vector files. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
export function unhex(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from((text.match(/../g) ?? []).map((h) => parseInt(h, 16)));
}

export { decodeEnvelope };
