/**
 * Light-client verification of a result, on a chain built here: a genuine
 * result verifies, and each kind of tampering fails the check named for it
 * (and only the checks it should), without throwing. Runs in Node and Chromium.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '#core/encoding/bytes.ts';
import { messageId } from '#core/envelope/envelope.ts';
import type { BlockHash, Hash, TaskId } from '#core/identity/ids.ts';
import { buildBlock, type Block } from '#core/ledger/block.ts';
import { merkleProof, type InclusionProof } from '#core/ledger/merkle.ts';
import { signTransaction } from '#core/ledger/transaction.ts';
import { createMemoryHeaderStore, type HeaderStore } from '#client/sdk/header-store.ts';
import {
  verifyResult,
  type ResultToVerify,
  type VerificationCheckName,
  type VerificationReport,
} from '#client/sdk/verify-result.ts';
import {
  createTestNetwork,
  decodeEnvelope,
  forgeSignature,
  receipt as signReceipt,
  signerFor,
  T0,
  task as signTask,
  type TestNetwork,
} from '#test/network.ts';

let net: TestNetwork;
const alice = signerFor('alice');
const mallory = signerFor('mallory');
const output = new TextEncoder().encode('{"label":"fra"}');

let taskBytes: Uint8Array;
let taskId: TaskId;
let receipt: Uint8Array;
let settleTx: Uint8Array;
let block1: Block;
let block2: Block;
let proof: InclusionProof;

async function settlementOf(taskOf: TaskId, receiptBytes: Uint8Array, price = 5): Promise<Uint8Array> {
  const payload = {
    v: 1 as const,
    net: net.relay.accountId,
    task: taskOf,
    receipt: Uint8Array.from(receiptBytes),
    price,
  };
  return signTransaction(net.relay, 'tx/settle', payload);
}

function headerId(block: Block): BlockHash {
  const envelope = decodeEnvelope(block.header);
  if (!envelope.ok) throw envelope.error;
  return messageId(envelope.value) as BlockHash;
}

beforeAll(async () => {
  net = await createTestNetwork();
  const signed = await signTask(net, alice);
  taskBytes = signed.bytes;
  taskId = signed.id;
  receipt = await signReceipt(net, net.relay, taskId, {
    output: sha256Hex(output) as Hash,
    outputBytes: output.length,
  });
  settleTx = await settlementOf(taskId, receipt);
  const escrowTx = await signTransaction(net.relay, 'tx/escrow', {
    v: 1,
    net: net.relay.accountId,
    task: Uint8Array.from(taskBytes),
  });
  const genesisId = sha256Hex(net.genesis) as Hash; // any hash: the client never sees genesis
  block1 = await buildBlock(net.relay, { height: 1, prev: genesisId, txs: [escrowTx], ts: T0 });
  // The settlement sits between two other transactions, so the proof has a real path.
  const other = await signTransaction(net.relay, 'tx/refund', {
    v: 1,
    net: net.relay.accountId,
    task: sha256Hex(new Uint8Array([9])) as TaskId,
    reason: 'failed',
  });
  block2 = await buildBlock(net.relay, {
    height: 2,
    prev: headerId(block1),
    txs: [other, settleTx, other],
    ts: T0 + 1000,
  });
  proof = merkleProof(block2.txs, 1);
});

/** A store that holds block 1, as a client that verified an earlier task would. */
async function storeWithBlock1(): Promise<HeaderStore> {
  const headers = createMemoryHeaderStore();
  await headers.put(1, block1.header);
  return headers;
}

function genuine(): ResultToVerify {
  return { task: taskBytes, output, receipt, settlement: { header: block2.header, tx: settleTx, proof } };
}

async function verify(result: ResultToVerify, headers?: HeaderStore): Promise<VerificationReport> {
  return verifyResult(result, { pinnedRelay: net.relay.accountId, headers: headers ?? (await storeWithBlock1()) });
}

function failedChecks(report: VerificationReport): VerificationCheckName[] {
  return report.checks.filter((c) => !c.ok).map((c) => c.name);
}

describe('verifyResult', () => {
  it('verifies a genuine result, links its header to the kept ones and keeps it', async () => {
    const headers = await storeWithBlock1();
    const report = await verify(genuine(), headers);
    expect(failedChecks(report)).toEqual([]);
    expect(report.verified).toBe(true);
    expect(report.taskId).toBe(taskId);
    expect(report.checks.map((c) => c.name)).toEqual([
      'task-signature',
      'receipt-signature',
      'receipt-names-task',
      'output-hash',
      'header-signature',
      'header-chain',
      'settlement-included',
      'settlement-matches',
    ]);
    expect(report.checks.find((c) => c.name === 'header-chain')?.detail).toContain('follows block 1');
    expect(await headers.get(2)).toEqual(block2.header);
    expect(await headers.head()).toBe(2);
  });

  it('verifies from the task id alone (no task-signature check then)', async () => {
    const report = await verify({ ...genuine(), task: taskId });
    expect(report.verified).toBe(true);
    expect(report.checks.some((c) => c.name === 'task-signature')).toBe(false);
  });

  it('fails output-hash for a tampered output', async () => {
    const tampered = Uint8Array.from(output);
    tampered[2] = (tampered[2] as number) ^ 1;
    const report = await verify({ ...genuine(), output: tampered });
    expect(report.verified).toBe(false);
    expect(failedChecks(report)).toEqual(['output-hash']);
  });

  it('fails receipt-signature for a tampered receipt signature (and the settlement no longer carries it)', async () => {
    const report = await verify({ ...genuine(), receipt: forgeSignature(receipt) });
    expect(report.verified).toBe(false);
    expect(failedChecks(report)).toEqual(['receipt-signature', 'settlement-matches']);
  });

  it('fails receipt-names-task for a receipt of another task', async () => {
    const otherTask = await signTask(net, alice);
    const otherReceipt = await signReceipt(net, net.relay, otherTask.id, {
      output: sha256Hex(output) as Hash,
      outputBytes: output.length,
    });
    const report = await verify({ ...genuine(), receipt: otherReceipt });
    expect(report.verified).toBe(false);
    expect(failedChecks(report)).toEqual(['receipt-names-task', 'settlement-matches']);
  });

  it('fails settlement-included for a tampered proof', async () => {
    const path = [...proof.path];
    path[0] = sha256Hex(new Uint8Array([1])) as Hash;
    const settlement = { header: block2.header, tx: settleTx, proof: { ...proof, path } };
    const report = await verify({ ...genuine(), settlement });
    expect(failedChecks(report)).toEqual(['settlement-included']);
    const wrongIndex = await verify({ ...genuine(), settlement: { ...settlement, proof: { ...proof, index: 0 } } });
    expect(failedChecks(wrongIndex)).toEqual(['settlement-included']);
  });

  it('fails header-signature for a header signed by another key, and does not keep it', async () => {
    const forged = await buildBlock(mallory, {
      height: 2,
      prev: headerId(block1),
      txs: block2.txs,
      ts: T0 + 1000,
    });
    const headers = await storeWithBlock1();
    const report = await verify({ ...genuine(), settlement: { header: forged.header, tx: settleTx, proof } }, headers);
    expect(report.verified).toBe(false);
    expect(failedChecks(report)).toEqual(['header-signature']);
    expect(report.checks.find((c) => c.name === 'header-signature')?.detail).toContain(mallory.accountId);
    expect(await headers.get(2)).toBeUndefined();
  });

  it('fails header-chain when the relay signed another block at a kept height or broke the links', async () => {
    const fork = await buildBlock(net.relay, {
      height: 2,
      prev: headerId(block1),
      txs: [settleTx],
      ts: T0 + 2000,
    });
    const headers = await storeWithBlock1();
    await headers.put(2, fork.header);
    expect(failedChecks(await verify(genuine(), headers))).toEqual(['header-chain']);

    const unlinked = await buildBlock(net.relay, {
      height: 2,
      prev: sha256Hex(new Uint8Array([7])) as Hash,
      txs: block2.txs,
      ts: T0 + 1000,
    });
    const report = await verify({ ...genuine(), settlement: { header: unlinked.header, tx: settleTx, proof } });
    expect(failedChecks(report)).toEqual(['header-chain']);
  });

  it('fails settlement-matches when the proven transaction settles another task', async () => {
    const otherTask = await signTask(net, alice);
    const otherSettle = await settlementOf(otherTask.id, receipt);
    const block = await buildBlock(net.relay, {
      height: 2,
      prev: headerId(block1),
      txs: [otherSettle],
      ts: T0 + 1000,
    });
    const settlement = { header: block.header, tx: otherSettle, proof: merkleProof(block.txs, 0) };
    expect(failedChecks(await verify({ ...genuine(), settlement }))).toEqual(['settlement-matches']);
  });

  it('fails task-signature for a tampered task envelope', async () => {
    const report = await verify({ ...genuine(), task: forgeSignature(taskBytes) });
    expect(failedChecks(report)).toEqual(['task-signature']);
  });

  it('names the missing proof and never throws on garbage', async () => {
    const noProof = await verify({ ...genuine(), settlement: undefined });
    expect(failedChecks(noProof)).toEqual([
      'header-signature',
      'header-chain',
      'settlement-included',
      'settlement-matches',
    ]);

    const junk = new Uint8Array([0xa1, 0x61, 0x78, 0x01]);
    const report = await verify({
      task: junk,
      output: junk,
      receipt: junk,
      settlement: { header: junk, tx: junk, proof: { index: -1, size: 0, path: ['x' as Hash] } },
    });
    expect(report.verified).toBe(false);
    expect(failedChecks(report)).toEqual([
      'task-signature',
      'receipt-signature',
      'receipt-names-task',
      'output-hash',
      'header-signature',
      'header-chain',
      'settlement-included',
      'settlement-matches',
    ]);
    const broken: HeaderStore = {
      get: () => Promise.reject(new Error('storage is gone')),
      put: () => Promise.reject(new Error('storage is gone')),
      head: () => Promise.reject(new Error('storage is gone')),
    };
    const stored = await verify(genuine(), broken);
    expect(failedChecks(stored)).toEqual(['header-chain']);
  });
});
