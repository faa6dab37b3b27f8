/**
 * Robustness: every decoder, given random bytes, random values, or mutations
 * of valid messages, returns ok or one of our typed errors (an AcnError). It
 * never throws anything else and never hangs. Each property is timed.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AcnError,
  buildBlock,
  checkBlockBody,
  concatBytes,
  decodeBlock,
  decodeBlockHeaderPayload,
  decodeCanonical,
  decodeEnvelope,
  decodeGenesisPayload,
  decodeReceiptPayload,
  decodeResourceAllocation,
  decodeTaskPayload,
  decodeCancelPayload,
  decodeStopPayload,
  decodeAssignmentPayload,
  decodeFallbackPayload,
  decodeRelayControlPayload,
  decodeWorkerAdvertPayload,
  encodeBlock,
  encodeCanonical,
  encodeEnvelope,
  MAX_ENVELOPE_BYTES,
  MESSAGE_TYPES,
  merkleProof,
  merkleRoot,
  messageId,
  nobleVerifier,
  parseAccountId,
  parseHash,
  presetAllocation,
  readBlockHeader,
  readMessage,
  readTransaction,
  signEnvelope,
  signTransaction,
  transactionDecoders,
  TRANSACTION_TYPES,
  verifyInclusion,
  type Ed25519Verifier,
  type Hash,
  type InclusionProof,
  type MessageType,
  type Result,
} from '#core/index.ts';
import { createTestNetwork, hex, receipt, signerFor, T0, task, TEST_MODEL } from '#test/network.ts';
import { acceptAllVerifier } from '#test/values.ts';

/** Generous wall-clock bound for one whole property (hundreds of runs). */
const PROPERTY_BUDGET_MS = 5000;

const PAYLOAD_DECODERS: Readonly<Record<MessageType, (value: unknown) => Result<unknown>>> = {
  task: decodeTaskPayload,
  'task/cancel': decodeCancelPayload,
  'task/stop': decodeStopPayload,
  'task/assignment': decodeAssignmentPayload,
  'task/fallback': decodeFallbackPayload,
  receipt: decodeReceiptPayload,
  advert: decodeWorkerAdvertPayload,
  block: decodeBlockHeaderPayload,
  genesis: decodeGenesisPayload,
  'relay/control': decodeRelayControlPayload,
  ...transactionDecoders,
};

const VALUE_DECODERS: readonly ((value: unknown) => Result<unknown>)[] = [
  ...Object.values(PAYLOAD_DECODERS),
  decodeResourceAllocation,
  parseAccountId,
  parseHash,
];

/** Fails the property unless `result` is ok or carries an AcnError with a code. */
function checkResult(result: Result<unknown>, where: string): void {
  if (result.ok) return;
  if (!(result.error instanceof AcnError) || typeof result.error.code !== 'string') {
    expect.fail(`${where} returned a foreign error: ${String(result.error)}`);
  }
}

/** Runs every bytes decoder on `bytes` with `verifier`. */
function decodeAll(bytes: Uint8Array, verifier: Ed25519Verifier): void {
  checkResult(decodeCanonical(bytes), 'decodeCanonical');
  checkResult(decodeEnvelope(bytes), 'decodeEnvelope');
  for (const type of MESSAGE_TYPES) {
    checkResult(readMessage(bytes, type, PAYLOAD_DECODERS[type], verifier), `readMessage ${type}`);
  }
  checkResult(readTransaction(bytes, verifier), 'readTransaction');
  checkResult(readBlockHeader(bytes, verifier), 'readBlockHeader');
  const block = decodeBlock(bytes);
  checkResult(block, 'decodeBlock');
  if (block.ok) {
    const header = readBlockHeader(block.value.header, verifier);
    checkResult(header, 'readBlockHeader (in block)');
    if (header.ok) checkResult(checkBlockBody(header.value, block.value.txs), 'checkBlockBody');
  }
}

function decodeValueAll(value: unknown): void {
  for (const decode of VALUE_DECODERS) checkResult(decode(value), decode.name);
  const decoded = decodeCanonical(value as Uint8Array);
  checkResult(decoded, 'decodeCanonical(non-bytes)');
}

/** Runs a property and checks it finished within the budget. */
function timed<Ts extends unknown[]>(property: fc.IProperty<Ts>, numRuns: number): void {
  const start = performance.now();
  fc.assert(property, { numRuns });
  expect(performance.now() - start).toBeLessThan(PROPERTY_BUDGET_MS);
}

// ---- Mutations ----

type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'duplicate'; readonly at: number; readonly length: number }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number };

/** Bytes that mean something to a CBOR decoder (headers, breaks, floats, undefined). */
const interestingByte = fc.oneof(
  fc.integer({ min: 0, max: 255 }),
  fc.constantFrom(0x00, 0x17, 0x18, 0x1b, 0x3b, 0x40, 0x5b, 0x5f, 0x7b, 0x7f, 0x80, 0x9b, 0x9f, 0xa0, 0xbf, 0xd8),
  fc.constantFrom(0xf4, 0xf5, 0xf6, 0xf7, 0xf9, 0xfa, 0xfb, 0xff),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: interestingByte }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.array(interestingByte, { minLength: 1, maxLength: 9 }).map((b) => Uint8Array.from(b)),
  }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
);

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length;
  switch (m.kind) {
    case 'flip': {
      if (n === 0) return bytes;
      const out = Uint8Array.from(bytes);
      out[m.at % n] = (out[m.at % n] as number) ^ (1 << m.bit);
      return out;
    }
    case 'set': {
      if (n === 0) return bytes;
      const out = Uint8Array.from(bytes);
      out[m.at % n] = m.value;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, m.at % (n + 1));
    case 'insert': {
      const at = m.at % (n + 1);
      return concatBytes(bytes.subarray(0, at), m.bytes, bytes.subarray(at));
    }
    case 'duplicate': {
      const at = m.at % (n + 1);
      const end = Math.min(n, at + m.length);
      return concatBytes(bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end));
    }
    case 'delete': {
      const at = m.at % (n + 1);
      return concatBytes(bytes.subarray(0, at), bytes.subarray(Math.min(n, at + m.length)));
    }
  }
}

const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });
const applyAll = (bytes: Uint8Array, ms: readonly Mutation[]) => ms.reduce(mutate, bytes);

// ---- Valid messages to mutate ----

interface Sample {
  readonly name: string;
  /** The message type when the sample is one signed envelope. */
  readonly type?: MessageType;
  readonly bytes: Uint8Array;
}

const samples: Sample[] = [];

beforeAll(async () => {
  const net = await createTestNetwork();
  const alice = signerFor('alice');
  const worker = signerFor('worker');
  const relay = net.relay;
  const network = relay.accountId;
  const t = await task(net, alice);
  const r = await receipt(net, worker, t.id);
  const txPayloads = {
    'tx/grant': { v: 1, net: network, to: alice.accountId, amount: 1000, pow: { nonce: 3, difficulty: 4 } },
    'tx/transfer': { v: 1, net: network, to: worker.accountId, amount: 10, seq: 1, memo: 'hello' },
    'tx/escrow': { v: 1, net: network, task: t.bytes },
    'tx/settle': { v: 1, net: network, task: t.id, receipt: r, price: 50 },
    'tx/refund': { v: 1, net: network, task: t.id, reason: 'failed' },
    'tx/stake': { v: 1, net: network, amount: 100, seq: 2 },
    'tx/unstake': { v: 1, net: network, amount: 100, seq: 3 },
    'tx/slash': { v: 1, net: network, worker: worker.accountId, task: t.id, amount: 5, evidence: r },
    'tx/release': { v: 1, net: network, account: worker.accountId, unstake: t.id, amount: 100, ts: T0 },
  } as const;
  const signers = { 'tx/transfer': alice, 'tx/stake': worker, 'tx/unstake': worker } as const;
  const txs: Uint8Array[] = [];
  for (const type of TRANSACTION_TYPES) {
    const signer = type in signers ? signers[type as keyof typeof signers] : relay;
    const bytes = await signTransaction(signer, type, txPayloads[type] as never);
    expect(readTransaction(bytes, nobleVerifier).ok).toBe(true);
    txs.push(bytes);
    samples.push({ name: type, type, bytes });
  }
  const advert = encodeEnvelope(
    await signEnvelope(worker, 'advert', {
      v: 1,
      net: network,
      models: [TEST_MODEL],
      backend: 'wasm',
      allocation: presetAllocation(),
      pricePerUnit: 2,
      addrs: ['/p2p-circuit/webrtc'],
      seq: 1,
      ts: T0,
    }),
  );
  const cancel = encodeEnvelope(await signEnvelope(alice, 'task/cancel', { v: 1, net: network, task: t.id, ts: T0 }));
  const stop = encodeEnvelope(await signEnvelope(alice, 'task/stop', { v: 1, net: network, task: t.id, ts: T0 }));
  const assignment = encodeEnvelope(
    await signEnvelope(relay, 'task/assignment', {
      v: 1,
      net: network,
      task: t.id,
      model: TEST_MODEL,
      worker: worker.accountId,
      expires: T0 + 20_000,
      ts: T0,
    }),
  );
  const fallback = encodeEnvelope(
    await signEnvelope(alice, 'task/fallback', { v: 1, net: network, task: t.id, ts: T0 }),
  );
  const control = encodeEnvelope(
    await signEnvelope(relay, 'relay/control', {
      v: 1,
      net: network,
      action: 'resources/set',
      allocation: presetAllocation('generous'),
      nonce: new Uint8Array(16).fill(7),
      ts: T0,
    }),
  );
  const genesis = decodeEnvelope(net.genesis);
  if (!genesis.ok) throw genesis.error;
  const genesisId = messageId(genesis.value);
  const block = await buildBlock(relay, { height: 1, prev: genesisId, txs, ts: T0 + 1 });
  samples.push(
    { name: 'task', type: 'task', bytes: t.bytes },
    { name: 'task cancel', type: 'task/cancel', bytes: cancel },
    { name: 'task stop', type: 'task/stop', bytes: stop },
    { name: 'task assignment', type: 'task/assignment', bytes: assignment },
    { name: 'fallback request', type: 'task/fallback', bytes: fallback },
    { name: 'receipt', type: 'receipt', bytes: r },
    { name: 'advert', type: 'advert', bytes: advert },
    { name: 'genesis', type: 'genesis', bytes: net.genesis },
    { name: 'relay control', type: 'relay/control', bytes: control },
    { name: 'block header', type: 'block', bytes: block.header },
    { name: 'block', bytes: encodeBlock(block) },
  );
  for (const sample of samples) {
    if (sample.type === undefined) {
      expect(decodeBlock(sample.bytes).ok).toBe(true);
      continue;
    }
    const read = readMessage(sample.bytes, sample.type, PAYLOAD_DECODERS[sample.type], nobleVerifier);
    expect(read.ok, sample.name).toBe(true);
  }
});

const sampleArb = () => fc.constantFrom(...samples);

// ---- Properties ----

describe('random bytes', () => {
  it('every bytes decoder returns ok or an AcnError (real verifier)', () => {
    timed(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        decodeAll(bytes, nobleVerifier);
      }),
      700,
    );
  });

  it('every bytes decoder returns ok or an AcnError (accept-all verifier)', () => {
    timed(
      fc.property(fc.array(interestingByte, { maxLength: 64 }), (list) => {
        decodeAll(Uint8Array.from(list), acceptAllVerifier);
      }),
      700,
    );
  });

  it('views into larger buffers decode like copies', () => {
    timed(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(16), fc.nat(16), (bytes, before, after) => {
        const buffer = new Uint8Array(before + bytes.length + after).fill(0xff);
        buffer.set(bytes, before);
        const view = buffer.subarray(before, before + bytes.length);
        const a = decodeCanonical(view);
        const b = decodeCanonical(Uint8Array.from(bytes));
        expect(a.ok).toBe(b.ok);
        if (!a.ok && !b.ok) expect(a.error.code).toBe(b.error.code);
        decodeAll(view, acceptAllVerifier);
      }),
      500,
    );
  });
});

/** Values of the data model, for random canonical bodies and envelopes. */
const { cborValue } = fc.letrec<{ cborValue: unknown }>((tie) => ({
  cborValue: fc.oneof(
    { depthSize: 'small' },
    fc.oneof(
      fc.boolean(),
      fc.constant(null),
      fc.integer(),
      fc.maxSafeInteger(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n - 1n }).filter((x) => x > 2n ** 53n || x < -(2n ** 53n)),
      fc.string({ maxLength: 70 }),
      fc.uint8Array({ maxLength: 70 }),
      fc.constantFrom('', 'task', '12D3KooW', signerFor('alice').accountId, 'a'.repeat(64)),
    ),
    fc.array(tie('cborValue'), { maxLength: 5 }),
    fc.dictionary(
      fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('v', 'net', 'type', 'body', 'key', 'sig', 'header', 'txs')),
      tie('cborValue'),
      { maxKeys: 6 },
    ),
  ),
}));

describe('random values', () => {
  it('every value decoder returns ok or an AcnError for any JS value', () => {
    const anything = fc.anything({
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
      stringUnit: 'binary',
      maxDepth: 3,
    });
    timed(
      fc.property(anything, (value) => {
        decodeValueAll(value);
      }),
      400,
    );
  });

  it('near-valid payloads (one field replaced by anything) give ok or an AcnError', () => {
    const valid: unknown[] = [];
    for (const sample of samples) {
      const envelope = decodeEnvelope(sample.bytes);
      if (!envelope.ok) continue;
      const body = decodeCanonical(envelope.value.body);
      if (body.ok) valid.push(body.value);
    }
    valid.push(presetAllocation());
    timed(
      fc.property(fc.constantFrom(...valid), fc.string({ maxLength: 12 }), cborValue, (base, key, replacement) => {
        const keys = Object.keys(base as object);
        const target = keys.length > 0 && key.length % 2 === 0 ? (keys[key.length % keys.length] as string) : key;
        decodeValueAll({ ...(base as object), [target]: replacement });
      }),
      700,
    );
  });

  it('canonical encodings of random values pass through every bytes decoder', () => {
    timed(
      fc.property(cborValue, (value) => {
        const bytes = encodeCanonical(value);
        expect(decodeCanonical(bytes).ok).toBe(true);
        decodeAll(bytes, acceptAllVerifier);
      }),
      500,
    );
  });

  it('random envelopes (any type, random body) reach the payload decoders', () => {
    timed(
      fc.property(
        fc.constantFrom(...MESSAGE_TYPES),
        fc.oneof(
          cborValue.map((v) => encodeCanonical(v)),
          fc.uint8Array({ maxLength: 80 }),
        ),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (type, body, key) => {
          const bytes = encodeEnvelope({ type, body, key, sig: new Uint8Array(64) });
          decodeAll(bytes, acceptAllVerifier);
          const read = readMessage(bytes, type, PAYLOAD_DECODERS[type], acceptAllVerifier);
          checkResult(read, 'readMessage');
          expect(readMessage(bytes, type, PAYLOAD_DECODERS[type], nobleVerifier).ok).toBe(false);
        },
      ),
      300,
    );
  });
});

describe('mutations of valid messages', () => {
  it('with the real verifier: ok only when the bytes are unchanged', () => {
    timed(
      fc.property(sampleArb(), mutations, (sample, ms) => {
        const bytes = applyAll(sample.bytes, ms);
        decodeAll(bytes, nobleVerifier);
        const same = hex(bytes) === hex(sample.bytes);
        if (sample.type !== undefined) {
          const read = readMessage(bytes, sample.type, PAYLOAD_DECODERS[sample.type], nobleVerifier);
          expect(read.ok).toBe(same);
          const tx = readTransaction(bytes, nobleVerifier);
          if (tx.ok) expect(same).toBe(true);
        }
      }),
      400,
    );
  });

  it('with an accept-all verifier, so payload decoding runs on the mutated bodies', () => {
    timed(
      fc.property(sampleArb(), mutations, (sample, ms) => {
        decodeAll(applyAll(sample.bytes, ms), acceptAllVerifier);
      }),
      600,
    );
  });

  it('mutated bodies re-wrapped in envelopes of their type', () => {
    timed(
      fc.property(sampleArb(), mutations, (sample, ms) => {
        const envelope = decodeEnvelope(sample.bytes);
        if (!envelope.ok) return; // the block container
        const body = applyAll(envelope.value.body, ms);
        const bytes = encodeEnvelope({ ...envelope.value, body });
        const read = readMessage(bytes, envelope.value.type, PAYLOAD_DECODERS[envelope.value.type], acceptAllVerifier);
        checkResult(read, 'readMessage');
        checkResult(readTransaction(bytes, acceptAllVerifier), 'readTransaction');
        if (read.ok) expect(hex(encodeCanonical(read.value.payload))).toBe(hex(body));
      }),
      600,
    );
  });
});

describe('ids and proofs', () => {
  it('parseAccountId and parseHash on random and near-valid strings', () => {
    const id = signerFor('alice').accountId;
    const hashText = 'ab'.repeat(32);
    const near = (text: string) =>
      fc
        .tuple(fc.nat(), fc.string({ maxLength: 2 }), fc.nat(3))
        .map(
          ([at, insert, cut]) =>
            text.slice(0, at % (text.length + 1)) + insert + text.slice((at % (text.length + 1)) + cut),
        );
    timed(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), near(id), near(hashText)), (text) => {
        checkResult(parseAccountId(text), 'parseAccountId');
        checkResult(parseHash(text), 'parseHash');
      }),
      1000,
    );
  });

  it('verifyInclusion returns a boolean for random proofs and never throws', () => {
    const leaves = Array.from({ length: 9 }, (_, i) => new Uint8Array([i]));
    const root = merkleRoot(leaves);
    const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => hex(b) as Hash);
    const number = fc.oneof(fc.integer({ min: -3, max: 20 }), fc.double(), fc.constantFrom(2 ** 53, -0, NaN));
    const proofArb = fc.oneof(
      fc.record({
        index: number,
        size: number,
        path: fc.array(fc.oneof(hashArb, fc.constant(root)), { maxLength: 8 }),
      }),
      fc.record({ index: fc.anything(), size: fc.anything(), path: fc.oneof(fc.anything(), fc.array(fc.anything())) }),
      fc.anything(),
    );
    timed(
      fc.property(proofArb, fc.oneof(fc.constant(root), hashArb, fc.string()), fc.nat(8), (proof, r, leaf) => {
        const result = verifyInclusion(leaves[leaf] as Uint8Array, proof as InclusionProof, r as Hash);
        expect(typeof result).toBe('boolean');
      }),
      1000,
    );
    const real = merkleProof(leaves, 4);
    expect(verifyInclusion(leaves[4] as Uint8Array, real, root)).toBe(true);
  });
});

describe('deep nesting and large declared sizes', () => {
  const deepArray = (depth: number, terminated: boolean) => {
    const bytes = new Uint8Array(depth + (terminated ? 1 : 0)).fill(0x81);
    if (terminated) bytes[depth] = 0x00;
    return bytes;
  };
  const deepMap = (depth: number) => {
    const bytes = new Uint8Array(depth * 3 + 1);
    for (let i = 0; i < depth; i++) bytes.set([0xa1, 0x61, 0x61], i * 3);
    return bytes; // ends with 0x00
  };

  it('64 KiB of 0x81 (an array in an array in ...), truncated and terminated, is refused quickly', () => {
    const start = performance.now();
    for (const bytes of [deepArray(64 * 1024, false), deepArray(64 * 1024, true), deepArray(64 * 1024 - 1, true)]) {
      for (const verifier of [nobleVerifier, acceptAllVerifier]) decodeAll(bytes, verifier);
      const result = decodeCanonical(bytes);
      expect(result.ok).toBe(false);
    }
    expect(performance.now() - start).toBeLessThan(PROPERTY_BUDGET_MS);
  });

  it('deeply nested maps and moderately nested arrays give ok or an AcnError', () => {
    const start = performance.now();
    for (const bytes of [deepMap(20_000), deepArray(1000, true), deepArray(20_000, true)]) {
      decodeAll(bytes, acceptAllVerifier);
    }
    expect(decodeCanonical(deepArray(1000, true)).ok).toBe(true);
    expect(performance.now() - start).toBeLessThan(PROPERTY_BUDGET_MS);
  });

  it('a deeply nested body inside a valid-looking envelope of every type', () => {
    const start = performance.now();
    const key = signerFor('alice').publicKey;
    for (const depth of [1000, 30_000, MAX_ENVELOPE_BYTES - 200]) {
      for (const type of MESSAGE_TYPES) {
        const bytes = encodeEnvelope({ type, body: deepArray(depth, true), key, sig: new Uint8Array(64) });
        checkResult(readMessage(bytes, type, PAYLOAD_DECODERS[type], acceptAllVerifier), `readMessage ${type}`);
        checkResult(readTransaction(bytes, acceptAllVerifier), 'readTransaction');
      }
    }
    expect(performance.now() - start).toBeLessThan(PROPERTY_BUDGET_MS);
  });

  it('declared lengths far beyond the input are refused without allocating them', () => {
    const cases = [
      '9affffffff',
      '5affffffff',
      '7affffffff',
      'baffffffff',
      '9bffffffffffffffff',
      '5b00000001000000004142',
    ];
    for (const text of cases) {
      const bytes = Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
      decodeAll(bytes, acceptAllVerifier);
      expect(decodeCanonical(bytes).ok).toBe(false);
    }
  });

  it('a block container with many transactions and a huge header is handled', () => {
    const many = encodeCanonical({
      header: new Uint8Array(1),
      txs: Array.from({ length: 10_001 }, () => new Uint8Array(1)),
    });
    const result = decodeBlock(many);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('invalid-block');
    const tiny = encodeCanonical({ header: new Uint8Array(0), txs: [] });
    checkResult(decodeBlock(tiny), 'decodeBlock');
    checkResult(readBlockHeader(new Uint8Array(0), nobleVerifier), 'readBlockHeader');
  });
});

describe('settle and slash carry nested envelopes', () => {
  it('a mutated inner receipt is refused by readTransaction even with a valid outer signature', async () => {
    const net = await createTestNetwork();
    const t = await task(net, signerFor('alice'));
    const r = await receipt(net, signerFor('worker'), t.id);
    const start = performance.now();
    const runs = 60;
    for (let i = 0; i < runs; i++) {
      const inner = Uint8Array.from(r);
      const at = (i * 37) % inner.length;
      inner[at] = (inner[at] as number) ^ (1 << (i % 8));
      const bytes = await signTransaction(net.relay, 'tx/settle', {
        v: 1,
        net: net.relay.accountId,
        task: t.id,
        receipt: inner,
        price: 1,
      });
      const read = readTransaction(bytes, nobleVerifier);
      expect(read.ok).toBe(false);
      checkResult(read, 'readTransaction');
    }
    expect(performance.now() - start).toBeLessThan(PROPERTY_BUDGET_MS);
  });
});

it('the valid samples cover every message type and the block container', () => {
  expect(
    samples
      .map((s) => s.type)
      .filter((t) => t !== undefined)
      .sort(),
  ).toEqual([...MESSAGE_TYPES].sort());
  expect(samples.map((s) => s.name)).toContain('block');
});
