/**
 * Writes test/vectors/chains.json: one valid chain covering every kind of
 * transaction, with the final state it must replay to, and a set of invalid
 * chains, each with the exact error (`reason`, `height`, `txIndex`) replay
 * must stop at.
 *
 * Deterministic: fixed keys (signerFor), fixed timestamps, Ed25519's
 * deterministic signatures and proofs-of-work searched from nonce 0, so two
 * runs write the same bytes. The expected values are written down here by
 * hand, not taken from the code under test; the script checks that replay
 * agrees with every one of them before it writes anything.
 *
 *   node test/vectors/generate-chains.ts
 */
import { writeFileSync } from 'node:fs';
import {
  accountOf,
  buildBlock,
  encodeEnvelope,
  merkleRoot,
  nobleVerifier,
  readBlockHeader,
  readGenesis,
  replayChain,
  signEnvelope,
  signTransaction,
  solvePow,
  type AccountId,
  type Block,
  type BlockHeaderPayload,
  type ErrorCode,
  type GenesisPayload,
  type Hash,
  type Signer,
  type TaskId,
} from '#core/index.ts';
import {
  createTestNetwork,
  escrow,
  forgeSignature,
  grant,
  hex,
  receipt,
  refund,
  settle,
  signerFor,
  slash,
  stake,
  T0,
  task,
  TEST_PARAMS,
  transfer,
  tx,
} from '#test/network.ts';

interface HexBlock {
  readonly header: string;
  readonly txs: readonly string[];
}
interface ExpectedError {
  readonly reason: ErrorCode;
  readonly height: number;
  readonly txIndex?: number;
}
interface InvalidChain {
  readonly name: string;
  /** Replaces the valid chain's genesis when present. */
  readonly genesis?: string;
  /** How many blocks of the valid chain come first. */
  readonly prefix: number;
  /** Blocks after the prefix. */
  readonly blocks: readonly HexBlock[];
  readonly error: ExpectedError;
}

const MINUTE = 60_000;
const net = await createTestNetwork();
const relay = net.relay;
const other = await createTestNetwork(TEST_PARAMS, 'other relay');
const alice = signerFor('alice');
const bob = signerFor('bob');
const carol = signerFor('carol');
const dave = signerFor('dave');
const mallory = signerFor('mallory');
const NAMES = new Map<AccountId, string>([
  [relay.accountId, 'relay'],
  [alice.accountId, 'alice'],
  [bob.accountId, 'bob'],
  [carol.accountId, 'carol'],
  [dave.accountId, 'dave'],
]);

const genesisMessage = readGenesis(net.genesis, nobleVerifier);
if (!genesisMessage.ok) throw genesisMessage.error;
const genesisId = genesisMessage.value.id;

function headerId(block: Block): Hash {
  const header = readBlockHeader(block.header, nobleVerifier);
  if (!header.ok) throw header.error;
  return header.value.id;
}

/** A block header with any payload, signed by anyone (buildBlock always signs a correct one). */
async function customBlock(
  signer: Signer,
  txs: readonly Uint8Array[],
  payload: Partial<BlockHeaderPayload> & Pick<BlockHeaderPayload, 'height' | 'prev' | 'ts'>,
): Promise<Block> {
  const full: BlockHeaderPayload = {
    v: 1,
    net: relay.accountId,
    txRoot: merkleRoot(txs),
    txCount: txs.length,
    ...payload,
  };
  return { header: encodeEnvelope(await signEnvelope(signer, 'block', full)), txs: [...txs] };
}

// ---------------------------------------------------------------------------
// The valid chain

const t1 = await task(net, alice, { maxPrice: 100 });
const t2 = await task(net, alice, { maxPrice: 80 });
const t3 = await task(net, dave, { maxPrice: 60 });
const t4 = await task(net, alice, { maxPrice: 50 });

const validTxs: Uint8Array[][] = [
  // Block 1: onboarding.
  [
    (await grant(net, alice)).bytes,
    (await grant(net, bob)).bytes,
    (await grant(net, carol)).bytes,
    (await grant(net, dave)).bytes,
  ],
  // Block 2: stakes, a transfer, an unstake.
  [
    (await stake(net, bob, 200, 1)).bytes,
    (await stake(net, carol, 300, 1)).bytes,
    (await transfer(net, alice, dave.accountId, 150, 1)).bytes,
    (await stake(net, dave, 120, 1)).bytes,
    (await stake(net, dave, 20, 2, 'tx/unstake')).bytes,
  ],
  // Block 3: four tasks escrowed.
  [
    (await escrow(net, t1.bytes)).bytes,
    (await escrow(net, t2.bytes)).bytes,
    (await escrow(net, t3.bytes)).bytes,
    (await escrow(net, t4.bytes)).bytes,
  ],
  // Block 4: a settlement, a refund, a slash, a settlement by the slashed worker, a transfer.
  [
    (await settle(net, t1.id, await receipt(net, bob, t1.id), 70)).bytes,
    (await refund(net, t2.id, 'cancelled')).bytes,
    (await slash(net, carol.accountId, t3.id, 120, await receipt(net, carol, t3.id))).bytes,
    (await settle(net, t3.id, await receipt(net, carol, t3.id), 60)).bytes,
    (await transfer(net, dave, bob.accountId, 10, 3)).bytes,
  ],
  // Block 5: empty (t4 stays open).
  [],
];

const validBlocks: Block[] = [];
for (const [i, txs] of validTxs.entries()) {
  const prev = i === 0 ? genesisId : headerId(validBlocks[i - 1] as Block);
  validBlocks.push(await buildBlock(relay, { height: i + 1, prev, txs, ts: T0 + (i + 1) * MINUTE }));
}
const b = (height: number) => validBlocks[height - 1] as Block;

// Worked out by hand (grantAmount 1000, feeBps 500, so the fee on 70 and on 60 is 3):
//   alice 1000 - 150 (to dave) - 100 - 80 - 50 (escrows) + 30 (t1 change) + 80 (t2 refund) = 730
//   bob   1000 - 200 (staked) + 67 (t1) + 10 (from dave) = 877, stake 200, reputation 500 + 5
//   carol 1000 - 300 (staked) + 57 (t3) = 757, stake 300 - 120 (slashed) = 180, reputation 500 - 250 + 5
//   dave  1000 + 150 - 120 + 20 (staking) - 60 (t3 escrow, fully spent) - 10 = 980, stake 100
//   relay 3 + 3 (fees) + 120 (slashed stake) = 126
//   open escrows: t4 = 50; total 4000 = 4 grants.
const expected = {
  supply: 4000,
  head: { height: 5, id: headerId(b(5)) },
  accounts: {
    relay: { balance: 126, stake: 0, seq: 0, granted: false, reputation: 500 },
    alice: { balance: 730, stake: 0, seq: 1, granted: true, reputation: 500 },
    bob: { balance: 877, stake: 200, seq: 1, granted: true, reputation: 505 },
    carol: { balance: 757, stake: 180, seq: 1, granted: true, reputation: 255 },
    dave: { balance: 980, stake: 100, seq: 3, granted: true, reputation: 500 },
  },
  escrows: {
    [t1.id]: { payer: 'alice', amount: 100, status: 'settled' },
    [t2.id]: { payer: 'alice', amount: 80, status: 'refunded' },
    [t3.id]: { payer: 'dave', amount: 60, status: 'settled' },
    [t4.id]: { payer: 'alice', amount: 50, status: 'open' },
  },
};

// ---------------------------------------------------------------------------
// Invalid chains

const invalid: { name: string; genesis?: Uint8Array; prefix: number; blocks: Block[]; error: ExpectedError }[] = [];

/** A chain of the first `prefix` valid blocks then one block of `txs` made by the relay. */
async function withBlock(name: string, prefix: number, txs: Uint8Array[], error: ExpectedError): Promise<void> {
  const height = prefix + 1;
  const prev = prefix === 0 ? genesisId : headerId(b(prefix));
  const block = await buildBlock(relay, { height, prev, txs, ts: T0 + height * MINUTE });
  invalid.push({ name, prefix, blocks: [block], error });
}

// Genesis.
invalid.push({
  name: 'genesis signed by someone other than the network key',
  genesis: encodeEnvelope(
    await signEnvelope(mallory, 'genesis', {
      v: 1,
      net: relay.accountId,
      params: TEST_PARAMS,
      ts: T0,
    } satisfies GenesisPayload),
  ),
  prefix: 0,
  blocks: [b(1)],
  error: { reason: 'unauthorized', height: 0 },
});
invalid.push({
  name: 'genesis with a forged signature',
  genesis: forgeSignature(net.genesis),
  prefix: 0,
  blocks: [],
  error: { reason: 'bad-signature', height: 0 },
});

// Headers and links.
invalid.push({
  name: 'block signed by someone other than the relay',
  prefix: 0,
  blocks: [await customBlock(mallory, validTxs[0] ?? [], { height: 1, prev: genesisId, ts: T0 + MINUTE })],
  error: { reason: 'unauthorized', height: 1 },
});
invalid.push({
  name: "block of another network (signed by that network's relay)",
  prefix: 0,
  blocks: [await buildBlock(other.relay, { height: 1, prev: genesisId, txs: [], ts: T0 + MINUTE })],
  error: { reason: 'invalid-block', height: 1 },
});
invalid.push({
  name: 'block header with a forged signature',
  prefix: 1,
  blocks: [{ header: forgeSignature(b(2).header), txs: b(2).txs }],
  error: { reason: 'bad-signature', height: 2 },
});
invalid.push({
  name: 'wrong prev hash',
  prefix: 1,
  blocks: [await buildBlock(relay, { height: 2, prev: genesisId, txs: validTxs[1] ?? [], ts: T0 + 2 * MINUTE })],
  error: { reason: 'invalid-block', height: 2 },
});
invalid.push({
  name: 'height skips one',
  prefix: 1,
  blocks: [await buildBlock(relay, { height: 3, prev: headerId(b(1)), txs: validTxs[1] ?? [], ts: T0 + 2 * MINUTE })],
  error: { reason: 'invalid-block', height: 2 },
});
invalid.push({
  name: 'height repeats',
  prefix: 1,
  blocks: [await buildBlock(relay, { height: 1, prev: headerId(b(1)), txs: validTxs[1] ?? [], ts: T0 + 2 * MINUTE })],
  error: { reason: 'invalid-block', height: 2 },
});
invalid.push({
  name: 'block 1 does not follow the genesis',
  prefix: 0,
  blocks: [b(2)],
  error: { reason: 'invalid-block', height: 1 },
});
invalid.push({
  name: 'time goes backwards',
  prefix: 1,
  blocks: [await buildBlock(relay, { height: 2, prev: headerId(b(1)), txs: validTxs[1] ?? [], ts: T0 + MINUTE - 1 })],
  error: { reason: 'invalid-block', height: 2 },
});
invalid.push({
  name: 'first block older than the genesis',
  prefix: 0,
  blocks: [await buildBlock(relay, { height: 1, prev: genesisId, txs: validTxs[0] ?? [], ts: T0 - 1 })],
  error: { reason: 'invalid-block', height: 1 },
});

// Bodies against their header.
const body2 = validTxs[1] ?? [];
invalid.push({
  name: 'transaction removed from the body',
  prefix: 1,
  blocks: [{ header: b(2).header, txs: body2.slice(0, -1) }],
  error: { reason: 'invalid-block', height: 2 },
});
invalid.push({
  name: 'transactions reordered in the body',
  prefix: 1,
  blocks: [{ header: b(2).header, txs: [body2[1], body2[0], ...body2.slice(2)] as Uint8Array[] }],
  error: { reason: 'invalid-block', height: 2 },
});
invalid.push({
  name: 'transaction replaced in the body',
  prefix: 2,
  blocks: [
    {
      header: b(3).header,
      txs: [...(validTxs[2] ?? []).slice(0, 3), (await escrow(net, (await task(net, alice)).bytes)).bytes],
    },
  ],
  error: { reason: 'invalid-block', height: 3 },
});
invalid.push({
  name: 'txRoot that does not match the body (header signed by the relay)',
  prefix: 1,
  blocks: [
    await customBlock(relay, body2, {
      height: 2,
      prev: headerId(b(1)),
      ts: T0 + 2 * MINUTE,
      txRoot: merkleRoot(body2.slice(0, -1)),
    }),
  ],
  error: { reason: 'invalid-block', height: 2 },
});
invalid.push({
  name: 'txCount that does not match the body (header signed by the relay)',
  prefix: 1,
  blocks: [
    await customBlock(relay, body2, {
      height: 2,
      prev: headerId(b(1)),
      ts: T0 + 2 * MINUTE,
      txCount: body2.length + 1,
    }),
  ],
  error: { reason: 'invalid-block', height: 2 },
});

// Transactions.
const bobRegrant = await solvePow(
  { network: relay.accountId, publicKey: bob.publicKey, difficulty: TEST_PARAMS.minPowDifficulty },
  { startNonce: 1_000 },
);
await withBlock(
  'double grant (a second grant to the same account, with a fresh proof-of-work)',
  1,
  [
    (await stake(net, bob, 200, 1)).bytes,
    (await tx(relay, 'tx/grant', { v: 1, net: relay.accountId, to: bob.accountId, amount: 1000, pow: bobRegrant }))
      .bytes,
  ],
  { reason: 'already-granted', height: 2, txIndex: 1 },
);
await withBlock(
  'double grant in one block (the same grant twice)',
  0,
  [(await grant(net, alice)).bytes, (await grant(net, alice)).bytes],
  {
    reason: 'already-granted',
    height: 1,
    txIndex: 1,
  },
);
await withBlock(
  'grant signed by someone other than the relay',
  1,
  [
    (
      await tx(mallory, 'tx/grant', {
        v: 1,
        net: relay.accountId,
        to: mallory.accountId,
        amount: 1000,
        pow: await solvePow({ network: relay.accountId, publicKey: mallory.publicKey, difficulty: 4 }),
      })
    ).bytes,
  ],
  { reason: 'unauthorized', height: 2, txIndex: 0 },
);
await withBlock(
  'grant with a proof-of-work below the minimum difficulty',
  1,
  [
    (
      await tx(relay, 'tx/grant', {
        v: 1,
        net: relay.accountId,
        to: mallory.accountId,
        amount: 1000,
        pow: await solvePow({ network: relay.accountId, publicKey: mallory.publicKey, difficulty: 1 }),
      })
    ).bytes,
  ],
  { reason: 'invalid-proof-of-work', height: 2, txIndex: 0 },
);
await withBlock(
  'overspend',
  1,
  [
    (await transfer(net, bob, carol.accountId, 10, 1)).bytes,
    (await transfer(net, alice, dave.accountId, 1001, 1)).bytes,
  ],
  {
    reason: 'insufficient-funds',
    height: 2,
    txIndex: 1,
  },
);
await withBlock('replayed transfer (the same bytes again)', 2, [(validTxs[1] ?? [])[2] as Uint8Array], {
  reason: 'bad-sequence',
  height: 3,
  txIndex: 0,
});
await withBlock('transfer reusing a spent seq', 2, [(await transfer(net, alice, bob.accountId, 1, 1)).bytes], {
  reason: 'bad-sequence',
  height: 3,
  txIndex: 0,
});
await withBlock(
  'transfer with a forged signature',
  1,
  [forgeSignature((await transfer(net, alice, bob.accountId, 1, 1)).bytes)],
  {
    reason: 'bad-signature',
    height: 2,
    txIndex: 0,
  },
);
await withBlock(
  'transaction for another network',
  1,
  [
    (await stake(net, bob, 200, 1)).bytes,
    (await transfer(net, alice, bob.accountId, 5, 1, other.relay.accountId)).bytes,
  ],
  { reason: 'wrong-network', height: 2, txIndex: 1 },
);
await withBlock(
  'escrow signed by someone other than the relay',
  2,
  [(await escrow(net, (await task(net, alice)).bytes, alice)).bytes],
  {
    reason: 'unauthorized',
    height: 3,
    txIndex: 0,
  },
);
await withBlock(
  'escrow whose inner task signature is forged',
  2,
  [
    (await escrow(net, t1.bytes)).bytes,
    await signTransaction(relay, 'tx/escrow', { v: 1, net: relay.accountId, task: forgeSignature(t2.bytes) }),
  ],
  { reason: 'bad-signature', height: 3, txIndex: 1 },
);
await withBlock(
  'escrow beyond the balance',
  2,
  [(await escrow(net, (await task(net, alice, { maxPrice: 851 })).bytes)).bytes],
  {
    reason: 'insufficient-funds',
    height: 3,
    txIndex: 0,
  },
);
const neverEscrowed: TaskId = (await task(net, alice)).id;
await withBlock(
  'settle of an unknown escrow',
  3,
  [(await settle(net, neverEscrowed, await receipt(net, bob, neverEscrowed), 10)).bytes],
  {
    reason: 'unknown-escrow',
    height: 4,
    txIndex: 0,
  },
);
await withBlock(
  'settle twice',
  3,
  [
    (await settle(net, t1.id, await receipt(net, bob, t1.id), 70)).bytes,
    (await settle(net, t1.id, await receipt(net, bob, t1.id), 40)).bytes,
  ],
  { reason: 'escrow-closed', height: 4, txIndex: 1 },
);
await withBlock(
  'settle after the whole chain settled it',
  5,
  [(await settle(net, t1.id, await receipt(net, carol, t1.id), 10)).bytes],
  {
    reason: 'escrow-closed',
    height: 6,
    txIndex: 0,
  },
);
await withBlock('refund after settle', 4, [(await refund(net, t3.id, 'failed')).bytes], {
  reason: 'escrow-closed',
  height: 5,
  txIndex: 0,
});
await withBlock(
  'settle with a price above the escrow',
  3,
  [(await settle(net, t1.id, await receipt(net, bob, t1.id), 101)).bytes],
  {
    reason: 'price-above-escrow',
    height: 4,
    txIndex: 0,
  },
);
await withBlock(
  'settle paying a worker without stake',
  3,
  [(await settle(net, t1.id, await receipt(net, alice, t1.id), 50)).bytes],
  {
    reason: 'insufficient-stake',
    height: 4,
    txIndex: 0,
  },
);
await withBlock(
  'settle with the receipt of another task',
  3,
  [(await settle(net, t1.id, await receipt(net, bob, t2.id), 50)).bytes],
  {
    reason: 'receipt-mismatch',
    height: 4,
    txIndex: 0,
  },
);
await withBlock(
  "slash with somebody else's receipt",
  3,
  [(await slash(net, carol.accountId, t3.id, 10, await receipt(net, bob, t3.id))).bytes],
  {
    reason: 'receipt-mismatch',
    height: 4,
    txIndex: 0,
  },
);
await withBlock(
  'slash twice for the same task',
  4,
  [(await slash(net, carol.accountId, t3.id, 10, await receipt(net, carol, t3.id))).bytes],
  {
    reason: 'already-slashed',
    height: 5,
    txIndex: 0,
  },
);
await withBlock(
  'slash above the stake',
  3,
  [(await slash(net, carol.accountId, t3.id, 301, await receipt(net, carol, t3.id))).bytes],
  {
    reason: 'insufficient-stake',
    height: 4,
    txIndex: 0,
  },
);

// ---------------------------------------------------------------------------
// Check everything against replay, then write.

const valid = replayChain({ genesis: net.genesis, blocks: validBlocks }, nobleVerifier);
if (!valid.ok) throw new Error(`the valid chain does not replay: ${valid.error.message}`);
const actual = {
  supply: valid.value.state.supply,
  head: { height: valid.value.head.height, id: valid.value.head.id },
  accounts: Object.fromEntries(
    [...NAMES].map(([id, name]) => {
      const a = accountOf(valid.value.state, id);
      return [name, { balance: a.balance, stake: a.stake, seq: a.seq, granted: a.granted, reputation: a.reputation }];
    }),
  ),
  escrows: Object.fromEntries(
    [...valid.value.state.escrows].map(([id, e]) => [
      id,
      { payer: NAMES.get(e.payer), amount: e.amount, status: e.status },
    ]),
  ),
};
/** JSON with object keys sorted, so that comparing does not depend on iteration order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
if (canonical(actual) !== canonical(expected)) {
  throw new Error(
    `the valid chain replays to\n${JSON.stringify(actual, null, 2)}\nnot\n${JSON.stringify(expected, null, 2)}`,
  );
}
if (valid.value.state.accounts.size !== NAMES.size) throw new Error('the valid chain touches unexpected accounts');

for (const chain of invalid) {
  const result = replayChain(
    { genesis: chain.genesis ?? net.genesis, blocks: [...validBlocks.slice(0, chain.prefix), ...chain.blocks] },
    nobleVerifier,
  );
  const got = result.ok
    ? 'success'
    : JSON.stringify({ reason: result.error.reason, height: result.error.height, txIndex: result.error.txIndex });
  const want = JSON.stringify(chain.error);
  if (got !== want) throw new Error(`${chain.name}: replay gives ${got}, expected ${want}`);
}
const names = new Set(invalid.map((c) => c.name));
if (names.size !== invalid.length) throw new Error('invalid chain names must be unique');

const hexBlock = (block: Block): HexBlock => ({ header: hex(block.header), txs: block.txs.map(hex) });
const file = {
  description:
    'Ledger chains for replayChain. `valid` must replay to `expected` (accounts by name; escrows by task id). ' +
    'Each invalid chain is `genesis` (default: the valid one), then the first `prefix` blocks of the valid chain, ' +
    'then `blocks`; replay must fail with InvalidChainError of exactly `error` (no txIndex: the block or genesis ' +
    'itself is at fault). Bytes are hex. Generated by test/vectors/generate-chains.ts.',
  network: relay.accountId,
  params: TEST_PARAMS,
  accounts: Object.fromEntries([...NAMES].map(([id, name]) => [name, id])),
  valid: { genesis: hex(net.genesis), blocks: validBlocks.map(hexBlock), expected },
  invalid: invalid.map((c): InvalidChain => ({
    name: c.name,
    ...(c.genesis === undefined ? {} : { genesis: hex(c.genesis) }),
    prefix: c.prefix,
    blocks: c.blocks.map(hexBlock),
    error: c.error,
  })),
};
const out = new URL('./chains.json', import.meta.url);
writeFileSync(out, `${JSON.stringify(file, null, 2)}\n`);
console.log(`wrote ${out.pathname}: 1 valid chain, ${invalid.length} invalid chains`);
