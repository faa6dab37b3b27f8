/**
 * Property tests of the ledger: random sequences of valid and deliberately
 * invalid transactions (overspends, wrong seqs, non-relay grants and escrows,
 * transactions for another network, and replays of transactions already
 * applied) are run against the state machine and against a small independent
 * model of the rules. After every step the invariants must hold; at the end
 * the applied transactions are cut into blocks, every Merkle inclusion proof
 * must verify (and every tampered one fail), and replaying the chain must give
 * the same state as applying the transactions one by one.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  applyTransaction,
  buildBlock,
  merkleProof,
  merkleProofs,
  nobleVerifier,
  readBlockHeader,
  readGenesis,
  replayChain,
  REPUTATION_MAX,
  REPUTATION_SETTLE_GAIN,
  REPUTATION_SLASH_PENALTY,
  REPUTATION_START,
  totalValue,
  verifyInclusion,
  verifyTxInclusion,
  type AccountId,
  type Block,
  type BlockHeader,
  type Hash,
  type InclusionProof,
  type LedgerError,
  type LedgerState,
  type ModelId,
  type PowSolution,
  type Signer,
  type TaskId,
  type VerifiedTx,
} from '#core/index.ts';
import {
  createTestNetwork,
  escrow,
  grant,
  ledgerOf,
  receipt,
  refund,
  settle,
  signerFor,
  slash,
  snapshot,
  stake,
  T0,
  task,
  TEST_MODEL,
  TEST_PARAMS,
  transfer,
  tx,
  type TestNetwork,
} from '#test/network.ts';

const REPUTATION = {
  start: REPUTATION_START,
  max: REPUTATION_MAX,
  gain: REPUTATION_SETTLE_GAIN,
  penalty: REPUTATION_SLASH_PENALTY,
};
const OTHER_MODEL = '0'.repeat(63).concat('1') as ModelId;
const USERS = ['alice', 'bob', 'carol', 'dave'].map(signerFor);
const MALLORY = signerFor('mallory');
/** Who may wrongly sign a relay-only transaction. */
const OUTSIDERS = [...USERS, MALLORY];
const FEES_BPS = [500, 333, 0, 5000] as const;

interface Fixture {
  readonly net: TestNetwork;
  /** Pre-signed grants, one per user. */
  readonly grants: readonly VerifiedTx[];
  /** Solved proofs-of-work, one per user. */
  readonly pows: readonly PowSolution[];
}
const fixtures: Fixture[] = [];
let other: TestNetwork;

beforeAll(async () => {
  other = await createTestNetwork(TEST_PARAMS, 'other relay');
  for (const feeBps of FEES_BPS) {
    const net = await createTestNetwork({ ...TEST_PARAMS, feeBps }, `relay ${feeBps}`);
    const grants = await Promise.all(USERS.map((u) => grant(net, u)));
    const pows = grants.map((g) => (g.type === 'tx/grant' ? g.message.payload.pow : { nonce: 0, difficulty: 0 }));
    fixtures.push({ net, grants, pows });
  }
});

// ---------------------------------------------------------------------------
// Commands

const user = fc.nat({ max: USERS.length - 1 });
const outsider = fc.nat({ max: OUTSIDERS.length - 1 });
const pick = fc.nat({ max: 1000 });

const commandArb = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('grant' as const), to: user }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('grant-by-outsider' as const), to: user, by: outsider }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('transfer' as const),
      from: user,
      to: user,
      amount: fc.integer({ min: 1, max: 700 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('overspend' as const),
      from: user,
      to: user,
      extra: fc.integer({ min: 1, max: 500 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('wrong-seq' as const),
      from: user,
      offset: fc.integer({ min: -2, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('wrong-network' as const),
      from: user,
      amount: fc.integer({ min: 1, max: 50 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom('stake' as const, 'unstake' as const),
      who: user,
      amount: fc.integer({ min: 1, max: 300 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('escrow' as const),
      payer: user,
      maxPrice: fc.integer({ min: 0, max: 400 }),
      otherModel: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('escrow-by-outsider' as const), payer: user, by: outsider }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('settle' as const),
      pick,
      /** A user, or (from USERS.length up) one of those staked enough to be paid, if any. */
      worker: fc.nat({ max: 2 * USERS.length - 1 }),
      /** Percent of the escrowed amount; above 100 asks for more than the escrow holds. */
      pricePercent: fc.integer({ min: 0, max: 110 }),
      receiptFor: fc.constantFrom(
        'task' as const,
        'task' as const,
        'task' as const,
        'other-task' as const,
        'other-model' as const,
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('refund' as const), pick }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('slash' as const),
      pick,
      worker: user,
      amount: fc.integer({ min: 1, max: 400 }),
      ownReceipt: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('replay' as const), pick }) },
);
type Command = typeof commandArb extends fc.Arbitrary<infer C> ? C : never;

// ---------------------------------------------------------------------------
// An independent model of the rules

interface ModelAccount {
  balance: number;
  stake: number;
  seq: number;
  granted: boolean;
  reputation: number;
}
interface ModelEscrow {
  readonly payer: AccountId;
  readonly model: ModelId;
  readonly amount: number;
  status: 'open' | 'settled' | 'refunded';
}
class Model {
  readonly accounts = new Map<AccountId, ModelAccount>();
  readonly escrows = new Map<TaskId, ModelEscrow>();
  readonly slashes = new Set<string>();
  supply = 0;

  account(id: AccountId): ModelAccount {
    let a = this.accounts.get(id);
    if (a === undefined) {
      a = { balance: 0, stake: 0, seq: 0, granted: false, reputation: REPUTATION.start };
      this.accounts.set(id, a);
    }
    return a;
  }

  /** What the ledger must make of `t`: the error codes it may give (several rules may be broken at once), or [] with the change to make. */
  expect(
    t: VerifiedTx,
    relay: AccountId,
    params: typeof TEST_PARAMS,
  ): { codes: LedgerError['code'][]; commit?: () => void } {
    const p = t.message.payload;
    if (p.net !== relay) return { codes: ['wrong-network'] };
    const byRelay = t.message.signer === relay;
    const codes: LedgerError['code'][] = [];
    const fail = (code: LedgerError['code'], when: boolean) => {
      if (when) codes.push(code);
    };
    switch (t.type) {
      case 'tx/grant': {
        const q = t.message.payload;
        fail('unauthorized', !byRelay);
        fail('already-granted', this.accounts.get(q.to)?.granted === true);
        fail('invalid-amount', q.amount !== params.grantAmount);
        fail('invalid-proof-of-work', q.pow.difficulty < params.minPowDifficulty);
        return {
          codes,
          commit: () => {
            const to = this.account(q.to);
            to.granted = true;
            to.balance += q.amount;
            this.supply += q.amount;
          },
        };
      }
      case 'tx/transfer': {
        const q = t.message.payload;
        const from = this.account(t.message.signer);
        fail('bad-sequence', q.seq !== from.seq + 1);
        fail('invalid-amount', q.to === t.message.signer);
        fail('insufficient-funds', from.balance < q.amount);
        return {
          codes,
          commit: () => {
            from.seq = q.seq;
            from.balance -= q.amount;
            this.account(q.to).balance += q.amount;
          },
        };
      }
      case 'tx/stake':
      case 'tx/unstake': {
        const q = t.message.payload;
        const a = this.account(t.message.signer);
        const delta = t.type === 'tx/stake' ? q.amount : -q.amount;
        fail('bad-sequence', q.seq !== a.seq + 1);
        fail('insufficient-funds', a.balance < delta);
        fail('insufficient-stake', a.stake < -delta);
        return {
          codes,
          commit: () => {
            a.seq = q.seq;
            a.balance -= delta;
            a.stake += delta;
          },
        };
      }
      case 'tx/escrow': {
        const taskMsg = t.task;
        fail('unauthorized', !byRelay);
        fail('wrong-network', taskMsg.payload.net !== relay);
        fail('duplicate-escrow', this.escrows.has(taskMsg.id as TaskId));
        const payer = this.account(taskMsg.signer);
        fail('insufficient-funds', payer.balance < taskMsg.payload.maxPrice);
        return {
          codes,
          commit: () => {
            payer.balance -= taskMsg.payload.maxPrice;
            this.escrows.set(taskMsg.id as TaskId, {
              payer: taskMsg.signer,
              model: taskMsg.payload.model,
              amount: taskMsg.payload.maxPrice,
              status: 'open',
            });
          },
        };
      }
      case 'tx/settle': {
        const q = t.message.payload;
        const e = this.escrows.get(q.task);
        fail('unauthorized', !byRelay);
        if (e === undefined) return { codes: [...codes, 'unknown-escrow'] };
        fail('escrow-closed', e.status !== 'open');
        const r = t.receipt.payload;
        fail('receipt-mismatch', r.task !== q.task || r.net !== relay || r.model !== e.model);
        fail('price-above-escrow', q.price > e.amount);
        const worker = this.account(t.receipt.signer);
        fail('insufficient-stake', worker.stake < params.minWorkerStake);
        return {
          codes,
          commit: () => {
            const fee = Math.floor((q.price * params.feeBps) / 10_000);
            worker.balance += q.price - fee;
            worker.reputation = Math.min(REPUTATION.max, worker.reputation + REPUTATION.gain);
            this.account(relay).balance += fee;
            this.account(e.payer).balance += e.amount - q.price;
            e.status = 'settled';
          },
        };
      }
      case 'tx/refund': {
        const q = t.message.payload;
        const e = this.escrows.get(q.task);
        fail('unauthorized', !byRelay);
        if (e === undefined) return { codes: [...codes, 'unknown-escrow'] };
        fail('escrow-closed', e.status !== 'open');
        return {
          codes,
          commit: () => {
            this.account(e.payer).balance += e.amount;
            e.status = 'refunded';
          },
        };
      }
      case 'tx/slash': {
        const q = t.message.payload;
        const ev = t.evidence;
        fail('unauthorized', !byRelay);
        fail('receipt-mismatch', ev.signer !== q.worker || ev.payload.task !== q.task || ev.payload.net !== relay);
        const key = `${q.worker} ${q.task}`;
        fail('already-slashed', this.slashes.has(key));
        const worker = this.account(q.worker);
        fail('insufficient-stake', worker.stake < q.amount);
        return {
          codes,
          commit: () => {
            worker.stake -= q.amount;
            worker.reputation = Math.max(0, worker.reputation - REPUTATION.penalty);
            this.account(relay).balance += q.amount;
            this.slashes.add(key);
          },
        };
      }
      case 'tx/release':
        // These networks have no unbonding period (unstakes are instant), so nothing is ever unbonding.
        fail('unauthorized', !byRelay);
        return { codes: [...codes, 'unknown-unbond'] };
    }
  }

  /** The model as the same plain shape as {@link snapshot} of a ledger state. */
  matches(state: LedgerState): void {
    const s = snapshot(state) as {
      accounts: Record<string, ModelAccount>;
      escrows: Record<string, ModelEscrow>;
      slashes: string[];
      supply: number;
    };
    expect(s.supply).toBe(this.supply);
    for (const [id, a] of this.accounts) {
      const actual = s.accounts[id] ?? { balance: 0, stake: 0, seq: 0, granted: false, reputation: REPUTATION.start };
      expect(actual).toEqual(a);
    }
    expect(Object.keys(s.escrows).length).toBe(this.escrows.size);
    for (const [id, e] of this.escrows) expect(s.escrows[id]).toEqual(e);
    expect(new Set(s.slashes)).toEqual(this.slashes);
  }
}

// ---------------------------------------------------------------------------
// Running a sequence

interface Run {
  readonly fixture: Fixture;
  readonly state: LedgerState;
  /** Every transaction accepted, in order. */
  readonly applied: readonly VerifiedTx[];
  /** Replays attempted (all must have been refused). */
  readonly replays: number;
  /** How many grants were accepted. */
  readonly grants: number;
}

/** The code a replay of an applied transaction of each kind must give. */
const REPLAY_CODE: Record<VerifiedTx['type'], LedgerError['code']> = {
  'tx/grant': 'already-granted',
  'tx/transfer': 'bad-sequence',
  'tx/stake': 'bad-sequence',
  'tx/unstake': 'bad-sequence',
  'tx/escrow': 'duplicate-escrow',
  'tx/settle': 'escrow-closed',
  'tx/refund': 'escrow-closed',
  'tx/slash': 'already-slashed',
  // Released stake is no longer unbonding (releases are tested in ./unbonding-properties.test.ts).
  'tx/release': 'unknown-unbond',
};

async function runSequence(feeIndex: number, commands: readonly Command[]): Promise<Run> {
  const fixture = fixtures[feeIndex] as Fixture;
  const { net } = fixture;
  const relay = net.relay.accountId;
  const model = new Model();
  let state = ledgerOf(net);
  const applied: VerifiedTx[] = [];
  let replays = 0;
  let grants = 0;
  const seqOf = (s: Signer) => model.account(s.accountId).seq;
  const balanceOf = (s: Signer) => model.account(s.accountId).balance;
  /** An escrowed task, mostly an open one; now and then a closed one, or one never escrowed. */
  const taskAt = async (n: number): Promise<TaskId> => {
    const all = [...model.escrows.keys()];
    const open = all.filter((id) => model.escrows.get(id)?.status === 'open');
    const from = n % 4 === 0 || open.length === 0 ? all : open;
    const known = n % 16 === 0 ? undefined : from[(n >> 2) % Math.max(1, from.length)];
    return known ?? (await task(net, USERS[0] as Signer)).id;
  };

  for (const c of commands) {
    let t: VerifiedTx;
    let mustFail: LedgerError['code'] | undefined;
    switch (c.kind) {
      case 'grant':
        t = fixture.grants[c.to] as VerifiedTx;
        break;
      case 'grant-by-outsider': {
        const to = USERS[c.to] as Signer;
        t = await tx(OUTSIDERS[c.by] as Signer, 'tx/grant', {
          v: 1,
          net: relay,
          to: to.accountId,
          amount: net.params.grantAmount,
          pow: fixture.pows[c.to] as PowSolution,
        });
        mustFail = 'unauthorized';
        break;
      }
      case 'transfer': {
        const from = USERS[c.from] as Signer;
        t = await transfer(net, from, (USERS[c.to] as Signer).accountId, c.amount, seqOf(from) + 1);
        break;
      }
      case 'overspend': {
        const from = USERS[c.from] as Signer;
        const to = USERS[(c.from + 1 + (c.to % (USERS.length - 1))) % USERS.length] as Signer;
        t = await transfer(net, from, to.accountId, balanceOf(from) + c.extra, seqOf(from) + 1);
        mustFail = 'insufficient-funds';
        break;
      }
      case 'wrong-seq': {
        const from = USERS[c.from] as Signer;
        // Anything but the next seq: a past one (a fresh transaction reusing it) or a future one.
        const next = seqOf(from) + 1;
        const seq = c.offset <= 0 ? Math.max(1, next - 1 + c.offset) : next + c.offset;
        if (seq === next) continue;
        t = await transfer(net, from, (USERS[(c.from + 1) % USERS.length] as Signer).accountId, 1, seq);
        mustFail = 'bad-sequence';
        break;
      }
      case 'wrong-network': {
        const from = USERS[c.from] as Signer;
        const to = (USERS[(c.from + 1) % USERS.length] as Signer).accountId;
        t = await transfer(net, from, to, c.amount, seqOf(from) + 1, other.relay.accountId);
        mustFail = 'wrong-network';
        break;
      }
      case 'stake':
      case 'unstake': {
        const who = USERS[c.who] as Signer;
        t = await stake(net, who, c.amount, seqOf(who) + 1, c.kind === 'stake' ? 'tx/stake' : 'tx/unstake');
        break;
      }
      case 'escrow': {
        const made = await task(net, USERS[c.payer] as Signer, {
          maxPrice: c.maxPrice,
          ...(c.otherModel ? { model: OTHER_MODEL } : {}),
        });
        t = await escrow(net, made.bytes);
        break;
      }
      case 'escrow-by-outsider': {
        const made = await task(net, USERS[c.payer] as Signer, { maxPrice: 10 });
        t = await escrow(net, made.bytes, OUTSIDERS[c.by]);
        mustFail = 'unauthorized';
        break;
      }
      case 'settle': {
        const id = await taskAt(c.pick);
        const staked = USERS.filter((u) => model.account(u.accountId).stake >= net.params.minWorkerStake);
        const worker = (USERS[c.worker] ?? staked[c.worker % Math.max(1, staked.length)] ?? USERS[0]) as Signer;
        const r =
          c.receiptFor === 'task'
            ? await receipt(net, worker, id, { model: model.escrows.get(id)?.model ?? TEST_MODEL })
            : c.receiptFor === 'other-task'
              ? await receipt(net, worker, await taskAt(c.pick + 1))
              : await receipt(net, worker, id, {
                  model: model.escrows.get(id)?.model === TEST_MODEL ? OTHER_MODEL : TEST_MODEL,
                });
        const amount = model.escrows.get(id)?.amount ?? 100;
        const price =
          c.pricePercent <= 100 ? Math.floor((amount * c.pricePercent) / 100) : amount + c.pricePercent - 100;
        t = await settle(net, id, r, price);
        break;
      }
      case 'refund':
        t = await refund(net, await taskAt(c.pick));
        break;
      case 'slash': {
        const id = await taskAt(c.pick);
        const worker = USERS[c.worker] as Signer;
        const signer = c.ownReceipt ? worker : (USERS[(c.worker + 1) % USERS.length] as Signer);
        t = await slash(net, worker.accountId, id, c.amount, await receipt(net, signer, id));
        break;
      }
      case 'replay': {
        const previous = applied[c.pick % Math.max(1, applied.length)];
        if (previous === undefined) continue;
        t = previous;
        mustFail = REPLAY_CODE[previous.type];
        replays++;
        break;
      }
    }

    const expected = model.expect(t, relay, net.params);
    if (mustFail !== undefined) expect(expected.codes).toContain(mustFail);
    const before = snapshot(state);
    const result = applyTransaction(state, t);
    // The old state is never modified, whatever the outcome.
    expect(snapshot(state)).toEqual(before);
    if (result.ok) {
      expect(expected.codes).toEqual([]);
      expected.commit?.();
      state = result.value;
      applied.push(t);
      if (t.type === 'tx/grant') grants++;
    } else {
      if (mustFail !== undefined) expect(result.error.code).toBe(mustFail);
      expect(expected.codes).toContain(result.error.code);
    }
    // Invariants after every step.
    expect(totalValue(state)).toBe(state.supply);
    for (const a of state.accounts.values()) {
      expect(a.balance).toBeGreaterThanOrEqual(0);
      expect(a.stake).toBeGreaterThanOrEqual(0);
      expect(Number.isSafeInteger(a.balance) && Number.isSafeInteger(a.stake)).toBe(true);
      expect(a.reputation).toBeGreaterThanOrEqual(0);
      expect(a.reputation).toBeLessThanOrEqual(REPUTATION.max);
    }
    model.matches(state);
  }
  return { fixture, state, applied, replays, grants };
}

/**
 * A fee setting and a command sequence. Most sequences start by granting some
 * users and staking for some, so that later commands have something to move.
 */
const sequenceArb = fc
  .record({
    feeIndex: fc.nat({ max: FEES_BPS.length - 1 }),
    granted: fc.uniqueArray(user, { minLength: 2, maxLength: USERS.length }),
    /** What each granted user stakes at first (0: nothing); workers need 100 to be paid. */
    stakes: fc.array(fc.integer({ min: 0, max: 300 }), { minLength: USERS.length, maxLength: USERS.length }),
    escrows: fc.array(fc.record({ payer: user, maxPrice: fc.integer({ min: 0, max: 300 }) }), { maxLength: 3 }),
    commands: fc.array(commandArb, { minLength: 8, maxLength: 20 }),
  })
  .map(({ feeIndex, granted, stakes, escrows, commands }) => ({
    feeIndex,
    commands: [
      ...granted.map((to): Command => ({ kind: 'grant', to })),
      ...granted
        .filter((who) => (stakes[who] ?? 0) > 0)
        .map((who): Command => ({ kind: 'stake', who, amount: stakes[who] ?? 0 })),
      ...escrows.map(({ payer, maxPrice }): Command => ({ kind: 'escrow', payer, maxPrice, otherModel: false })),
      ...commands,
    ],
  }));

describe('ledger properties', () => {
  it('keeps its invariants across random sequences of valid and invalid transactions', async () => {
    await fc.assert(
      fc.asyncProperty(sequenceArb, async ({ feeIndex, commands }) => {
        const run = await runSequence(feeIndex, commands);
        const { state, applied } = run;
        // Only grants mint: the total equals the sum of grants.
        expect(state.supply).toBe(run.grants * TEST_PARAMS.grantAmount);
        expect(totalValue(state)).toBe(state.supply);
        // Each escrow was closed at most once, and its status says how.
        const closes = new Map<string, string[]>();
        for (const t of applied) {
          if (t.type === 'tx/settle' || t.type === 'tx/refund') {
            const id = t.message.payload.task;
            closes.set(id, [...(closes.get(id) ?? []), t.type]);
          }
        }
        for (const [id, escrowRecord] of state.escrows) {
          const how = closes.get(id) ?? [];
          expect(how.length).toBeLessThanOrEqual(1);
          expect(escrowRecord.status).toBe(
            how[0] === 'tx/settle' ? 'settled' : how[0] === 'tx/refund' ? 'refunded' : 'open',
          );
        }
        // Every applied transaction, offered again, is refused; so is a second settle or refund.
        for (const t of applied) {
          const again = applyTransaction(state, t);
          expect(again.ok).toBe(false);
          if (!again.ok) expect(again.error.code).toBe(REPLAY_CODE[t.type]);
        }
        for (const [id, escrowRecord] of state.escrows) {
          if (escrowRecord.status === 'open') continue;
          const r = await refund(run.fixture.net, id);
          const result = applyTransaction(state, r);
          expect(result.ok ? undefined : result.error.code).toBe('escrow-closed');
        }
      }),
      { numRuns: 25 },
    );
  });

  it('proves every applied transaction by Merkle inclusion, refuses tampered proofs, and replays to the same state', async () => {
    await fc.assert(
      fc.asyncProperty(
        sequenceArb,
        fc.array(fc.nat({ max: 9 }), { minLength: 1, maxLength: 12 }),
        async ({ feeIndex, commands }, cuts) => {
          const { fixture, state, applied } = await runSequence(feeIndex, commands);
          const { net } = fixture;
          const blocks = await cutIntoBlocks(net, applied, cuts);
          const seen: Uint8Array[] = [];
          for (const block of blocks) {
            const header = readBlockHeader(block.header, nobleVerifier);
            expect(header.ok).toBe(true);
            if (!header.ok) return;
            checkProofs(header.value, block.txs, [...seen]);
            seen.push(...block.txs);
          }
          expect(seen).toEqual(applied.map((t) => t.bytes));
          const replayed = replayChain({ genesis: net.genesis, blocks }, nobleVerifier);
          expect(replayed.ok).toBe(true);
          if (!replayed.ok) return;
          expect(snapshot(replayed.value.state)).toEqual(snapshot(state));
          expect(replayed.value.head.height).toBe(blocks.length);
        },
      ),
      { numRuns: 20 },
    );
  });
});

/** Cuts `txs` into consecutive blocks of the sizes in `cuts` (repeated as needed; 0 makes an empty block). */
async function cutIntoBlocks(net: TestNetwork, txs: readonly VerifiedTx[], cuts: readonly number[]): Promise<Block[]> {
  const sizes = cuts.some((n) => n > 0) ? cuts : [...cuts, 1];
  const blocks: Block[] = [];
  let prev = genesisId(net);
  let at = 0;
  let height = 1;
  do {
    const size = sizes[(height - 1) % sizes.length] as number;
    const block = await buildBlock(net.relay, {
      height,
      prev,
      txs: txs.slice(at, at + size).map((t) => t.bytes),
      ts: T0 + height * 1000,
    });
    const header = readBlockHeader(block.header, nobleVerifier);
    if (!header.ok) throw header.error;
    prev = header.value.id;
    blocks.push(block);
    at += size;
    height++;
  } while (at < txs.length);
  return blocks;
}

/** The genesis message id: what block 1 points back to. */
function genesisId(net: TestNetwork): Hash {
  const genesis = readGenesis(net.genesis, nobleVerifier);
  if (!genesis.ok) throw genesis.error;
  return genesis.value.id;
}

/** Every leaf's proof verifies; every tampered proof, and every other leaf, does not. */
function checkProofs(header: BlockHeader, txs: readonly Uint8Array[], elsewhere: readonly Uint8Array[]): void {
  const proofs = merkleProofs(txs);
  const root = header.payload.txRoot;
  const size = txs.length;
  const fails = (leaf: Uint8Array, proof: InclusionProof) => {
    expect(verifyTxInclusion(header, leaf, proof)).toBe(false);
    expect(verifyInclusion(leaf, proof, root)).toBe(false);
  };
  for (const [index, leaf] of txs.entries()) {
    const proof = proofs[index] as InclusionProof;
    expect(proof).toEqual(merkleProof(txs, index));
    expect(verifyTxInclusion(header, leaf, proof)).toBe(true);
    expect(verifyInclusion(leaf, proof, root)).toBe(true);
    // A flipped bit in any hash of the path.
    for (let level = 0; level < proof.path.length; level++) {
      const path = [...proof.path];
      const h = path[level] as string;
      path[level] = `${h.slice(0, -1)}${(parseInt(h.slice(-1), 16) ^ 1).toString(16)}` as Hash;
      fails(leaf, { ...proof, path });
    }
    // A path cut short or made longer.
    if (proof.path.length > 0) fails(leaf, { ...proof, path: proof.path.slice(0, -1) });
    fails(leaf, { ...proof, path: [...proof.path, root] });
    // Any other index.
    for (let i = -1; i <= size; i++) if (i !== index) fails(leaf, { ...proof, index: i });
    // Another size. The root alone does not bind the size (leaf 0 of 3 and of 4 hash the same
    // way), so it is the header's txCount that must refuse it.
    for (const s of [size - 1, size + 1, size * 2, 0]) {
      if (s !== size) expect(verifyTxInclusion(header, leaf, { ...proof, size: s })).toBe(false);
    }
    // Any other leaf: of this block, of an earlier block, or this one with a bit flipped.
    for (const otherLeaf of [...txs.filter((_, i) => i !== index), ...elsewhere.slice(-3)]) fails(otherLeaf, proof);
    // A copy: in Node the encoded bytes are Buffers, whose slice() is a view.
    const flipped = Uint8Array.from(leaf);
    flipped[0] = (flipped[0] as number) ^ 1;
    fails(flipped, proof);
  }
}
