/**
 * Unbonding (shared/core/ledger/state.ts and chain.ts): with `unbondingMs` in
 * the genesis, an unstake leaves its tokens slashable and unspendable until a
 * relay-signed release, which the rules accept only once the period has
 * passed since the block holding the unstake, and which the chain accepts
 * only in a block no earlier than the release's own date. Errors are told
 * apart by `code` and `name`; every refusal leaves the state as it was.
 */
import { Map as ImmutableMap } from 'immutable';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  accountOf,
  applyTransaction,
  buildBlock,
  decodeGenesisPayload,
  DEFAULT_LEDGER_PARAMS,
  DEFAULT_UNBONDING_MS,
  MAX_UNBONDING_MS,
  MAX_UNBONDS,
  nobleVerifier,
  readBlockHeader,
  readGenesis,
  replayChain,
  slashableOf,
  totalValue,
  unbondingMsOf,
  unbondingOf,
  unbondsOf,
  type Block,
  type BlockTimes,
  type Hash,
  type LedgerError,
  type LedgerState,
  type ReplayResult,
  type TxId,
  type VerifiedTx,
} from '#core/index.ts';
import {
  createTestNetwork,
  grant,
  ledgerOf,
  receipt,
  release,
  signerFor,
  slash,
  snapshot,
  stake,
  T0,
  task,
  TEST_PARAMS,
  transfer,
  type TestNetwork,
} from '#test/network.ts';

const UNBONDING_MS = 10_000;
const alice = signerFor('unbonding alice');
const worker = signerFor('unbonding worker');
let net: TestNetwork;
/** alice and the worker granted 1000 each; the worker has 300 staked (seq 1). */
let base: LedgerState;

beforeAll(async () => {
  net = await createTestNetwork({ ...TEST_PARAMS, unbondingMs: UNBONDING_MS }, 'unbonding relay');
  base = applyAll(ledgerOf(net), [await grant(net, alice), await grant(net, worker), await stake(net, worker, 300, 1)]);
});

function apply(state: LedgerState, t: VerifiedTx, times: BlockTimes = ImmutableMap()): LedgerState {
  const before = snapshot(state);
  const result = applyTransaction(state, t, times);
  if (!result.ok) throw new Error(`expected ${t.type} to apply, got ${result.error.name}: ${result.error.message}`);
  expect(snapshot(state)).toEqual(before);
  expect(totalValue(result.value)).toBe(result.value.supply);
  return result.value;
}

function applyAll(state: LedgerState, txs: readonly VerifiedTx[]): LedgerState {
  return txs.reduce((s, t) => apply(s, t), state);
}

function expectRefused(
  state: LedgerState,
  t: VerifiedTx,
  code: LedgerError['code'],
  name: string,
  times: BlockTimes = ImmutableMap(),
): void {
  const before = snapshot(state);
  const result = applyTransaction(state, t, times);
  expect(result.ok ? 'accepted' : result.error.code).toBe(code);
  if (!result.ok) expect(result.error.name).toBe(name);
  expect(snapshot(state)).toEqual(before);
}

/** The worker's view: spendable balance, stake and what is unbonding. */
function holdings(state: LedgerState) {
  const a = accountOf(state, worker.accountId);
  return { balance: a.balance, stake: a.stake, unbonding: unbondingOf(state, worker.accountId) };
}

async function slashWorker(amount: number): Promise<VerifiedTx> {
  const t = await task(net, alice);
  return slash(net, worker.accountId, t.id, amount, await receipt(net, worker, t.id));
}

describe('an unstake with an unbonding period', () => {
  it('moves tokens from the stake to unbonding: not spendable, still slashable, value conserved', async () => {
    const unstake = await stake(net, worker, 120, 2, 'tx/unstake');
    const state = apply(base, unstake);
    expect(holdings(state)).toEqual({ balance: 700, stake: 180, unbonding: 120 });
    expect(unbondsOf(state, worker.accountId)).toEqual([{ tx: unstake.id, amount: 120 }]);
    expect(slashableOf(state, worker.accountId)).toBe(300);
    expect(accountOf(state, worker.accountId).seq).toBe(2);
    // The 120 is not spendable yet.
    expectRefused(
      state,
      await transfer(net, worker, alice.accountId, 701, 3),
      'insufficient-funds',
      'InsufficientFundsError',
    );
    expect(holdings(apply(state, await transfer(net, worker, alice.accountId, 700, 3)))).toMatchObject({ balance: 0 });
  });

  it('still refuses to unstake more than the stake, or out of sequence', async () => {
    expectRefused(base, await stake(net, worker, 301, 2, 'tx/unstake'), 'insufficient-stake', 'InsufficientStakeError');
    expectRefused(base, await stake(net, worker, 10, 1, 'tx/unstake'), 'bad-sequence', 'BadSequenceError');
    const state = apply(base, await stake(net, worker, 300, 2, 'tx/unstake'));
    expectRefused(state, await stake(net, worker, 1, 3, 'tx/unstake'), 'insufficient-stake', 'InsufficientStakeError');
  });

  it(`keeps at most ${MAX_UNBONDS} unstakes unbonding at once per account`, async () => {
    let state = base;
    const unstakes: VerifiedTx[] = [];
    for (let i = 0; i < MAX_UNBONDS; i++) {
      const u = await stake(net, worker, 1, 2 + i, 'tx/unstake');
      unstakes.push(u);
      state = apply(state, u);
    }
    const extra = await stake(net, worker, 1, 2 + MAX_UNBONDS, 'tx/unstake');
    expectRefused(state, extra, 'too-many-unbonds', 'TooManyUnbondsError');
    // Once one is released there is room again.
    const first = unstakes[0] as VerifiedTx;
    const times = ImmutableMap<TxId, number>([[first.id, T0]]);
    state = apply(state, await release(net, worker.accountId, first.id, 1, T0 + UNBONDING_MS), times);
    expect(unbondsOf(apply(state, extra), worker.accountId)).toHaveLength(MAX_UNBONDS);
  });

  it('is instant on a ledger whose genesis has no unbonding period, as before the rule', async () => {
    const legacy = await createTestNetwork(TEST_PARAMS, 'legacy relay');
    expect(unbondingMsOf(legacy.params)).toBe(0);
    const state = applyAll(ledgerOf(legacy), [
      await grant(legacy, worker),
      await stake(legacy, worker, 300, 1),
      await stake(legacy, worker, 100, 2, 'tx/unstake'),
    ]);
    expect(accountOf(state, worker.accountId)).toMatchObject({ balance: 800, stake: 200 });
    expect(unbondingOf(state, worker.accountId)).toBe(0);
  });
});

describe('a release', () => {
  let unstake: VerifiedTx;
  /** The worker has 180 staked and 120 unbonding from `unstake`. */
  let unbonding: LedgerState;
  /** The unstake's block was made at T0 + 5000. */
  const since = T0 + 5000;
  let times: ImmutableMap<TxId, number>;

  beforeAll(async () => {
    unstake = await stake(net, worker, 120, 2, 'tx/unstake');
    unbonding = apply(base, unstake);
    times = ImmutableMap([[unstake.id, since]]);
  });

  it('gives the unbonding amount to the balance once the period has passed since the unstake’s block', async () => {
    const released = apply(
      unbonding,
      await release(net, worker.accountId, unstake.id, 120, since + UNBONDING_MS),
      times,
    );
    expect(holdings(released)).toEqual({ balance: 820, stake: 180, unbonding: 0 });
    expect(released.unbonding.has(worker.accountId)).toBe(false);
    expect(released.supply).toBe(base.supply);
  });

  it('is refused before the period has passed, or while no block holds the unstake', async () => {
    const early = await release(net, worker.accountId, unstake.id, 120, since + UNBONDING_MS - 1);
    expectRefused(unbonding, early, 'still-unbonding', 'StillUnbondingError', times);
    const onTime = await release(net, worker.accountId, unstake.id, 120, since + UNBONDING_MS);
    expectRefused(unbonding, onTime, 'still-unbonding', 'StillUnbondingError', ImmutableMap());
  });

  it('is made only by the relay, for the amount left, once', async () => {
    const ts = since + UNBONDING_MS;
    const byWorker = await release(net, worker.accountId, unstake.id, 120, ts, worker);
    expectRefused(unbonding, byWorker, 'unauthorized', 'UnauthorizedError', times);
    const tooMuch = await release(net, worker.accountId, unstake.id, 121, ts);
    expectRefused(unbonding, tooMuch, 'invalid-amount', 'InvalidAmountError', times);
    const tooLittle = await release(net, worker.accountId, unstake.id, 119, ts);
    expectRefused(unbonding, tooLittle, 'invalid-amount', 'InvalidAmountError', times);
    const toAlice = await release(net, alice.accountId, unstake.id, 120, ts);
    expectRefused(unbonding, toAlice, 'unknown-unbond', 'UnknownUnbondError', times);
    const once = await release(net, worker.accountId, unstake.id, 120, ts);
    const released = apply(unbonding, once, times);
    expectRefused(released, once, 'unknown-unbond', 'UnknownUnbondError', times);
  });
});

describe('a slash', () => {
  it('takes from the stake first, then from unbonding stake, oldest first', async () => {
    const older = await stake(net, worker, 100, 2, 'tx/unstake');
    const newer = await stake(net, worker, 150, 3, 'tx/unstake');
    let state = applyAll(base, [older, newer]);
    expect(holdings(state)).toEqual({ balance: 700, stake: 50, unbonding: 250 });
    const relayBefore = accountOf(state, net.relay.accountId).balance;

    state = apply(state, await slashWorker(120));
    expect(holdings(state)).toEqual({ balance: 700, stake: 0, unbonding: 180 });
    expect(unbondsOf(state, worker.accountId)).toEqual([
      { tx: older.id, amount: 30 },
      { tx: newer.id, amount: 150 },
    ]);
    state = apply(state, await slashWorker(100));
    expect(unbondsOf(state, worker.accountId)).toEqual([{ tx: newer.id, amount: 80 }]);
    expectRefused(state, await slashWorker(81), 'insufficient-stake', 'InsufficientStakeError');
    // What was slashed went to the relay, none of it burnt.
    expect(accountOf(state, net.relay.accountId).balance).toBe(relayBefore + 220);
    // The older unstake is gone: its release is refused; the newer one releases only what is left.
    const times = ImmutableMap<TxId, number>([
      [older.id, T0],
      [newer.id, T0],
    ]);
    const ts = T0 + UNBONDING_MS;
    expectRefused(
      state,
      await release(net, worker.accountId, older.id, 30, ts),
      'unknown-unbond',
      'UnknownUnbondError',
      times,
    );
    state = apply(state, await release(net, worker.accountId, newer.id, 80, ts), times);
    expect(holdings(state)).toEqual({ balance: 780, stake: 0, unbonding: 0 });
    expect(totalValue(state)).toBe(state.supply);
  });

  it('reaches a worker that lied and unstaked everything at once', async () => {
    const all = await stake(net, worker, 300, 2, 'tx/unstake');
    let state = apply(base, all);
    expect(holdings(state)).toEqual({ balance: 700, stake: 0, unbonding: 300 });
    state = apply(state, await slashWorker(150));
    expect(holdings(state)).toEqual({ balance: 700, stake: 0, unbonding: 150 });
    expect(accountOf(state, worker.accountId).reputation).toBeLessThan(accountOf(base, worker.accountId).reputation);
    const times = ImmutableMap<TxId, number>([[all.id, T0]]);
    state = apply(state, await release(net, worker.accountId, all.id, 150, T0 + UNBONDING_MS), times);
    expect(holdings(state)).toEqual({ balance: 850, stake: 0, unbonding: 0 });
  });

  it('that takes all of an unstake removes it', async () => {
    const all = await stake(net, worker, 300, 2, 'tx/unstake');
    const state = apply(apply(base, all), await slashWorker(300));
    expect(holdings(state)).toEqual({ balance: 700, stake: 0, unbonding: 0 });
    expect(state.unbonding.has(worker.accountId)).toBe(false);
  });
});

describe('unbonding in a chain', () => {
  /** Builds blocks on the test network, each at its own time. */
  async function chainOf(blocks: readonly { ts: number; txs: readonly VerifiedTx[] }[]): Promise<Block[]> {
    const genesis = readGenesis(net.genesis, nobleVerifier);
    if (!genesis.ok) throw genesis.error;
    let prev: Hash = genesis.value.id;
    const out: Block[] = [];
    for (const [i, b] of blocks.entries()) {
      const block = await buildBlock(net.relay, { height: i + 1, prev, txs: b.txs.map((t) => t.bytes), ts: b.ts });
      const header = readBlockHeader(block.header, nobleVerifier);
      if (!header.ok) throw header.error;
      prev = header.value.id;
      out.push(block);
    }
    return out;
  }
  function replayOf(blocks: readonly Block[]): ReplayResult {
    const replayed = replayChain({ genesis: net.genesis, blocks }, nobleVerifier);
    if (!replayed.ok) throw replayed.error;
    return replayed.value;
  }
  async function opening(): Promise<{ unstake: VerifiedTx; txs: VerifiedTx[] }> {
    const unstake = await stake(net, worker, 120, 2, 'tx/unstake');
    return {
      unstake,
      txs: [await grant(net, alice), await grant(net, worker), await stake(net, worker, 300, 1), unstake],
    };
  }

  it('replays a release made at the first block after the period, with the unstake’s block time', async () => {
    const { unstake, txs } = await opening();
    const b1 = T0 + 1000;
    const blocks = await chainOf([
      { ts: b1, txs },
      { ts: b1 + UNBONDING_MS, txs: [await release(net, worker.accountId, unstake.id, 120, b1 + UNBONDING_MS)] },
    ]);
    const one = replayOf(blocks.slice(0, 1));
    expect(one.blockTimes.toJS()).toEqual({ [unstake.id]: b1 });
    const both = replayOf(blocks);
    expect(holdings(both.state)).toEqual({ balance: 820, stake: 180, unbonding: 0 });
    expect(both.blockTimes.size).toBe(0);
    expect(totalValue(both.state)).toBe(both.state.supply);
  });

  it('refuses a release dated before the period, in the unstake’s own block, or in a block before its date', async () => {
    const { unstake, txs } = await opening();
    const b1 = T0 + 1000;
    const cases = [
      // Dated one ms early, in a block at that time.
      { ts: b1 + UNBONDING_MS - 1, dated: b1 + UNBONDING_MS - 1, reason: 'still-unbonding' },
      // Dated on time, but in a block made before that date.
      { ts: b1 + UNBONDING_MS - 1, dated: b1 + UNBONDING_MS, reason: 'invalid-block' },
    ];
    for (const c of cases) {
      const blocks = await chainOf([
        { ts: b1, txs },
        { ts: c.ts, txs: [await release(net, worker.accountId, unstake.id, 120, c.dated)] },
      ]);
      const replayed = replayChain({ genesis: net.genesis, blocks }, nobleVerifier);
      expect(replayed.ok ? 'replayed' : { reason: replayed.error.reason, height: replayed.error.height }).toEqual({
        reason: c.reason,
        height: 2,
      });
    }
    // In the same block as the unstake, no block time is known for it yet.
    const same = await chainOf([
      { ts: b1 + UNBONDING_MS, txs: [...txs, await release(net, worker.accountId, unstake.id, 120, b1)] },
    ]);
    const replayed = replayChain({ genesis: net.genesis, blocks: same }, nobleVerifier);
    expect(replayed.ok ? 'replayed' : replayed.error.reason).toBe('still-unbonding');
  });
});

describe('the unbonding parameter', () => {
  it('defaults to an hour for new networks and is bounded', () => {
    expect(DEFAULT_LEDGER_PARAMS.unbondingMs).toBe(DEFAULT_UNBONDING_MS);
    expect(DEFAULT_UNBONDING_MS).toBe(3_600_000);
    const genesis = (unbondingMs: unknown) => ({
      v: 1,
      net: net.relay.accountId,
      params: { ...TEST_PARAMS, unbondingMs },
      ts: T0,
    });
    expect(decodeGenesisPayload(genesis(0)).ok).toBe(true);
    expect(decodeGenesisPayload(genesis(MAX_UNBONDING_MS)).ok).toBe(true);
    for (const bad of [-1, 1.5, MAX_UNBONDING_MS + 1, '60000', Number.NaN, null]) {
      const decoded = decodeGenesisPayload(genesis(bad));
      expect(decoded.ok ? 'accepted' : decoded.error.code).toBe('invalid-message');
    }
    expect(decodeGenesisPayload({ v: 1, net: net.relay.accountId, params: TEST_PARAMS, ts: T0 }).ok).toBe(true);
  });
});
