/**
 * The interactive path end to end: the real relay process, the real Node
 * worker process (reserved on the relay, listening on WebRTC through it) and
 * a phone in real headless Chromium running the app's libp2p node and the
 * SDK's direct path (web/p2p/direct-task.ts).
 *
 * The phone asks the relay where to run a task, dials the worker directly
 * over WebRTC, gets the signed receipt on that connection and brings it to
 * the relay, which checks it (with a re-run on its pool: --recheck-rate 1)
 * and settles it to the worker. When WebRTC does not connect in time, the
 * task runs brokered instead and is paid once. Forged receipts change
 * nothing.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes, sha256Hex, toBase64Url, fromBase64Url } from '#core/encoding/bytes.ts';
import { encodeEnvelope, readMessage, signEnvelope } from '#core/envelope/envelope.ts';
import type { AccountId, Hash, TaskId } from '#core/identity/ids.ts';
import { createNobleSigner, generateNobleSigner, type Signer } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import { checkAssignment, signAssignment, type AssignmentPayload } from '#core/messages/assignment.ts';
import { decodeReceiptPayload, type ReceiptPayload } from '#core/messages/receipt.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { solvePow } from '#core/pow/pow.ts';
import { AIComputeClient, exchangeDirect, type DirectExchange } from '#client/sdk/index.ts';
import { openDirectPhone, type DirectPhone } from '#test/direct-page/direct-page.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';
import { startWorkerProcess, type WorkerProcess } from '#test/worker-process.ts';

const FEE_BPS = 1000;
const STAKE = 100;
const GRANT = 5000;

let relay: RelayProcess;
let workerDir: string;
let worker: WorkerProcess;
let workerAccount: AccountId;
let network: AccountId;
let phoneSigner: Signer & { readonly secretKey: Uint8Array };
/** The phone's account from Node, for balances and the forged-receipt checks. */
let client: AIComputeClient;
let phone: DirectPhone;
let languageId: ModelEntry;
let relayMultiaddr: string;

const text = (words: string): Uint8Array => new TextEncoder().encode(words);

async function balances(): Promise<{ requester: number; worker: number; relay: number }> {
  const [requester, workerBalance, relayBalance] = await Promise.all([
    client.balance(phoneSigner.accountId),
    client.balance(workerAccount),
    client.balance(network),
  ]);
  return { requester: requester.balance, worker: workerBalance.balance, relay: relayBalance.balance };
}

/** A receipt for `task` over `output`, signed by `signer`. */
async function receiptFor(signer: Signer, task: TaskId, output: Uint8Array): Promise<Uint8Array> {
  const payload: ReceiptPayload = {
    v: 1,
    net: network,
    task,
    model: languageId.id,
    output: sha256Hex(output) as Hash,
    outputBytes: output.length,
    units: 1,
    backend: 'native',
    runMs: 1,
    ts: Date.now(),
  };
  return encodeEnvelope(await signEnvelope(signer, 'receipt', payload));
}

beforeAll(async () => {
  workerDir = await mkdtemp(join(tmpdir(), 'acn-worker-'));
  relay = await startRelayProcess([
    '--pow-difficulty',
    '4',
    '--grant',
    String(GRANT),
    '--min-worker-stake',
    String(STAKE),
    '--fee-bps',
    String(FEE_BPS),
    '--block-interval',
    '200',
    // Every worker answer is re-run on the relay's pool before it is paid; no canaries (they would pay the worker too).
    '--canary-rate',
    '0',
    '--recheck-rate',
    '1',
  ]);
  network = relay.relayAccount as AccountId;
  phoneSigner = generateNobleSigner();
  client = new AIComputeClient({ relayUrl: relay.url, signer: phoneSigner, pinnedRelay: network });
  const puzzle = await client.onboardPuzzle();
  await client.onboard(await solvePow({ network, publicKey: phoneSigner.publicKey, difficulty: puzzle.difficulty }));
  const found = (await client.models()).models.find((m) => m.name === 'lande-t50');
  if (found === undefined) throw new Error('no lande-t50 in the catalogue');
  languageId = found;

  worker = startWorkerProcess([
    '--relay',
    relay.url,
    '--data-dir',
    workerDir,
    '--stake',
    String(STAKE),
    '--price',
    '1',
    '--models',
    'lande-t50',
  ]);
  const created = await worker.waitFor(/ key created /);
  workerAccount = /account=(\S+)/.exec(created)?.[1] as AccountId;
  // Advertised with its WebRTC address (the reservation is taken before or just after the first advert).
  await worker.waitFor(/ advert accepted .*webrtc=[1-9]/, { timeoutMs: 60_000 });

  const loopback = relay.libp2pAddrs.find((a) => a.startsWith('/ip4/127.0.0.1/') && a.includes('/ws/p2p/'));
  if (loopback === undefined) throw new Error(`no loopback /ws address in ${relay.libp2pAddrs.join(', ')}`);
  relayMultiaddr = loopback;
  phone = await openDirectPhone({
    relayUrl: relay.url,
    relayMultiaddr,
    network,
    secretKeyHex: bytesToHex(phoneSigner.secretKey),
  });
}, 180_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- beforeAll may fail before these exist
  await phone?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  await worker?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  if (relay !== undefined) {
    expect(await relay.stop()).toBe(0);
    await relay.cleanup();
  }
  await rm(workerDir, { recursive: true, force: true });
}, 60_000);

describe('the interactive path', () => {
  it('runs a task over a direct WebRTC connection to the worker and settles the worker’s receipt through the relay', async () => {
    const before = await balances();
    const report = await phone.run({
      model: languageId.id,
      input: toBase64Url(text('Dit is een zin in het Nederlands.')),
      maxPrice: 10,
    });
    expect(phone.pageErrors()).toEqual([]);
    expect({ via: report.via, state: report.state, worker: report.worker, fallback: report.fallbackReason }).toEqual({
      via: 'webrtc',
      state: 'settled',
      worker: workerAccount,
      fallback: undefined,
    });
    // Direct WebRTC: the last transport is /webrtc, and libp2p put no relay limits on the connection.
    expect(report.remoteAddr).toMatch(new RegExp(`/webrtc/p2p/${workerAccount}$`));
    const direct = report.workerConnections.filter((c) => c.remoteAddr === report.remoteAddr);
    expect(direct.length).toBeGreaterThan(0);
    expect(direct.every((c) => !c.limited)).toBe(true);

    // The receipt the phone got over WebRTC is the worker's, for this task and this output, and the relay settled it.
    const receipt = readMessage(fromBase64Url(report.receipt), 'receipt', decodeReceiptPayload, nobleVerifier);
    if (!receipt.ok) throw receipt.error;
    expect(receipt.value.signer).toBe(workerAccount);
    expect(receipt.value.payload).toMatchObject({
      task: report.taskId,
      model: languageId.id,
      output: report.outputHash,
    });
    const settled = await client.getTaskResult(report.taskId as TaskId);
    if (!settled) throw new Error('no result on the relay');
    expect(sha256Hex(settled.output)).toBe(report.outputHash);
    expect(toBase64Url(settled.receipt)).toBe(report.receipt);
    expect(settled.task).toMatchObject({ state: 'settled', worker: workerAccount });
    expect(settled.task.refundTx).toBeUndefined();
    await worker.waitFor(new RegExp(`task done id=${report.taskId} `));

    // The requester paid the price, the worker got it minus the fee, the relay the fee: nothing made or lost.
    const after = await balances();
    const fee = Math.floor((report.price * FEE_BPS) / 10_000);
    expect(report.price).toBeGreaterThan(0);
    expect(after).toEqual({
      requester: before.requester - report.price,
      worker: before.worker + report.price - fee,
      relay: before.relay + fee,
    });
  }, 60_000);

  it('falls back to the brokered path when WebRTC does not connect in time, and pays once', async () => {
    // No connection left from the first test: the phone has to dial anew.
    await phone.hangUp(workerAccount);
    const before = await balances();
    const report = await phone.run({
      model: languageId.id,
      input: toBase64Url(text('Questa è una frase in italiano.')),
      maxPrice: 10,
      // Far too short for any WebRTC dial: the phone gives up and asks the relay to run the task.
      dialTimeoutMs: 1,
    });
    expect(phone.pageErrors()).toEqual([]);
    expect(report).toMatchObject({ via: 'relay', state: 'settled' });
    expect(report.fallbackReason).toMatch(/cannot reach the worker over WebRTC/);
    const view = await client.getTask(report.taskId as TaskId);
    expect(view.settleTx).toBeDefined();
    expect(view.refundTx).toBeUndefined();
    // A repeated fallback request is answered, and changes nothing.
    expect((await client.requestFallback(report.taskId as TaskId)).state).toBe('settled');

    const after = await balances();
    const fee = Math.floor((report.price * FEE_BPS) / 10_000);
    const workerShare = report.worker === workerAccount ? report.price - fee : 0;
    expect(after.requester).toBe(before.requester - report.price);
    expect(after.worker).toBe(before.worker + workerShare);
    expect(after.relay).toBe(before.relay + report.price - workerShare);
  }, 60_000);

  it('refuses receipts from another signer, for another output or task, with 4xx and no change; then falls back once', async () => {
    const signed = await client.signTask({
      model: languageId.id,
      input: text('This is an English sentence.'),
      maxPrice: 10,
    });
    const submitted = await client.submitDirectTask(signed.envelope, signed.input);
    const id = signed.taskId;
    expect(submitted.created).toBe(true);
    expect(submitted.direct?.worker).toBe(workerAccount);
    expect(submitted.task.state).toBe('assigned');
    // Submitting again is idempotent and hands out the same assignment.
    const again = await client.submitDirectTask(signed.envelope, signed.input);
    expect(again.created).toBe(false);
    expect(again.direct?.assignment).toEqual(submitted.direct?.assignment);
    const before = await balances();

    const workerKey = createNobleSigner(hexToBytes((await readFile(join(workerDir, 'worker.key'), 'utf8')).trim()));
    expect(workerKey.accountId).toBe(workerAccount);
    const output = text('{"label":"en"}');
    const stranger = generateNobleSigner();
    await expect(client.submitDirectReceipt(id, await receiptFor(stranger, id, output), output)).rejects.toMatchObject({
      name: 'RelayApiError',
      status: 403,
      code: 'wrong-signer',
    });
    await expect(
      client.submitDirectReceipt(id, await receiptFor(workerKey, id, output), text('{"label":"nl"}')),
    ).rejects.toMatchObject({ status: 400, code: 'output-mismatch' });
    const otherTask = sha256Hex(text('another task')) as TaskId;
    await expect(
      client.submitDirectReceipt(id, await receiptFor(workerKey, otherTask, output), output),
    ).rejects.toMatchObject({
      status: 400,
      code: 'bad-receipt',
    });
    await expect(client.submitDirectReceipt(id, text('not a receipt'), output)).rejects.toMatchObject({
      status: 400,
      code: 'bad-receipt',
    });
    // Only the requester may send the task the brokered way.
    const strangerClient = new AIComputeClient({ relayUrl: relay.url, signer: stranger, pinnedRelay: network });
    await expect(strangerClient.requestFallback(id)).rejects.toMatchObject({ status: 403, code: 'forbidden' });
    // Nothing moved.
    expect((await client.getTask(id)).state).toBe('assigned');
    expect(await balances()).toEqual(before);

    expect((await client.requestFallback(id)).id).toBe(id);
    const result = await client.waitForResult(id, { pollMs: 100 });
    expect(result.task.state).toBe('settled');
    // The worker's receipt is too late now: the brokered run was settled, once.
    const late = await receiptFor(workerKey, id, result.output);
    await expect(client.submitDirectReceipt(id, late, result.output)).rejects.toMatchObject({
      status: 409,
      code: 'direct-closed',
    });
    const after = await balances();
    const fee = Math.floor((result.task.price * FEE_BPS) / 10_000);
    const workerShare = result.task.worker === workerAccount ? result.task.price - fee : 0;
    // `before` was taken with the escrow held: the requester gets back what the price left over.
    expect(after.requester).toBe(before.requester + result.task.maxPrice - result.task.price);
    expect(after.worker).toBe(before.worker + workerShare);
    expect(after.relay).toBe(before.relay + result.task.price - workerShare);
    expect(result.task.refundTx).toBeUndefined();
  }, 60_000);

  it('answers typed errors for receipts and fallbacks of brokered or unknown tasks', async () => {
    const { task } = await client.submitTask({
      model: languageId.id,
      input: text('Une phrase en français.'),
      maxPrice: 10,
    });
    const output = text('x');
    await expect(
      client.submitDirectReceipt(task.id, await receiptFor(phoneSigner, task.id, output), output),
    ).rejects.toMatchObject({
      status: 409,
      code: 'not-direct',
    });
    const unknown = sha256Hex(text('no such task')) as TaskId;
    await expect(client.requestFallback(unknown)).rejects.toMatchObject({ status: 404, code: 'unknown-task' });
    await client.waitForResult(task.id, { pollMs: 100 });
  }, 30_000);

  it('the worker runs a direct task only with the relay’s assignment naming it, and only once', async () => {
    // A Node requester this time, with the SDK's exchange on its own libp2p node.
    const peer = await createLibp2p({
      transports: [webSockets(), circuitRelayTransport(), webRTC()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: { denyDialMultiaddr: () => false },
      services: { identify: identify() },
    });
    try {
      await peer.dial(multiaddr(relayMultiaddr));
      const signed = await client.signTask({
        model: languageId.id,
        input: text('Das ist ein deutscher Satz.'),
        maxPrice: 10,
      });
      const { direct } = await client.submitDirectTask(signed.envelope, signed.input);
      if (direct === undefined) throw new Error('no direct offer');
      const job: DirectExchange = {
        worker: direct.worker,
        addrs: direct.addrs,
        task: signed.envelope,
        taskId: signed.taskId,
        input: signed.input,
        assignment: direct.assignment,
        network,
      };
      const options = { dialTimeoutMs: 10_000, answerTimeoutMs: 10_000, verifier: nobleVerifier };
      const forgedPayload: AssignmentPayload = {
        v: 1,
        net: network,
        task: signed.taskId,
        model: languageId.id,
        worker: workerAccount,
        expires: Date.now() + 60_000,
        ts: Date.now(),
      };
      // Signed by the requester, not the relay: refused.
      const forged = await signAssignment(phoneSigner, forgedPayload);
      await expect(exchangeDirect(peer, { ...job, assignment: forged }, options)).rejects.toMatchObject({
        name: 'DirectDialError',
        reason: 'worker-error',
        message: expect.stringMatching(/unauthorized/) as unknown,
      });
      // The relay's assignment shown with another task: refused.
      const other = await client.signTask({ model: languageId.id, input: text('Noch ein Satz.'), maxPrice: 10 });
      await expect(
        exchangeDirect(peer, { ...job, task: other.envelope, taskId: other.taskId, input: other.input }, options),
      ).rejects.toMatchObject({ reason: 'worker-error' });

      const answer = await exchangeDirect(peer, job, options);
      expect(answer.remoteAddr).toMatch(new RegExp(`/webrtc/p2p/${workerAccount}$`));
      // The same assignment buys one run.
      await expect(exchangeDirect(peer, job, options)).rejects.toMatchObject({ reason: 'worker-error' });
      const view = await client.submitDirectReceipt(signed.taskId, answer.receipt, answer.output);
      expect(view).toMatchObject({ state: 'settled', worker: workerAccount, outputHash: sha256Hex(answer.output) });
      // Bringing the same receipt again answers the same task; nothing is paid twice.
      const settledBalances = await balances();
      expect(await client.submitDirectReceipt(signed.taskId, answer.receipt, answer.output)).toMatchObject({
        state: 'settled',
        settleTx: view.settleTx,
      });
      await expect(client.requestFallback(signed.taskId)).rejects.toMatchObject({
        status: 409,
        code: 'already-answered',
      });
      expect(await balances()).toEqual(settledBalances);
    } finally {
      await peer.stop();
    }
  }, 60_000);
});

describe('the direct path’s deadline', () => {
  it('runs a direct task brokered once its assignment expires without a receipt (20 s + 5 s grace)', async () => {
    const before = await balances();
    const signed = await client.signTask({
      model: languageId.id,
      input: text('Esta es una frase en español.'),
      maxPrice: 10,
    });
    const { direct, task } = await client.submitDirectTask(signed.envelope, signed.input);
    expect(direct?.worker).toBe(workerAccount);
    expect(task.state).toBe('assigned');
    // Nobody dials the worker or asks for the fallback: the relay runs the task itself after the deadline.
    const result = await client.waitForResult(signed.taskId, { pollMs: 250 });
    expect(Date.now()).toBeGreaterThanOrEqual((direct?.expiresAt ?? 0) + 5000 - 1000);
    expect(result.task).toMatchObject({ state: 'settled' });
    expect(result.task.refundTx).toBeUndefined();
    const after = await balances();
    const fee = Math.floor((result.task.price * FEE_BPS) / 10_000);
    const workerShare = result.task.worker === workerAccount ? result.task.price - fee : 0;
    expect(after.requester).toBe(before.requester - result.task.price);
    expect(after.worker).toBe(before.worker + workerShare);
    expect(after.relay).toBe(before.relay + result.task.price - workerShare);
  }, 45_000);
});

describe('assignments', () => {
  it('check signer, network, worker, task and expiry', async () => {
    const relayKey = generateNobleSigner();
    const workerKey = generateNobleSigner();
    const task = sha256Hex(text('task')) as TaskId;
    const payload: AssignmentPayload = {
      v: 1,
      net: relayKey.accountId,
      task,
      model: sha256Hex(text('model')) as AssignmentPayload['model'],
      worker: workerKey.accountId,
      expires: 2000,
      ts: 1000,
    };
    const bytes = await signAssignment(relayKey, payload);
    const expect1 = {
      verifier: nobleVerifier,
      network: relayKey.accountId,
      worker: workerKey.accountId,
      task,
      now: 1500,
    };
    expect(checkAssignment(bytes, expect1)).toEqual({ ok: true, value: payload });
    const code = (result: ReturnType<typeof checkAssignment>) => (result.ok ? 'ok' : result.error.code);
    expect(code(checkAssignment(bytes, { ...expect1, now: 2001 }))).toBe('assignment-expired');
    expect(code(checkAssignment(bytes, { ...expect1, worker: relayKey.accountId }))).toBe('wrong-worker');
    expect(code(checkAssignment(bytes, { ...expect1, task: sha256Hex(text('other')) as TaskId }))).toBe('wrong-task');
    expect(code(checkAssignment(bytes, { ...expect1, network: workerKey.accountId }))).toBe('invalid-assignment');
    const tampered = bytes.slice();
    tampered[10] = (tampered[10] ?? 0) ^ 1;
    expect(code(checkAssignment(tampered, expect1))).toBe('invalid-assignment');
    expect(code(checkAssignment(new Uint8Array(5000), expect1))).toBe('invalid-assignment');
    expect(code(checkAssignment('nope', expect1))).toBe('invalid-assignment');
  });
});
