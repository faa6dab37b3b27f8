/**
 * Unit tests for every rule of the ledger state machine (shared/ledger/state.ts).
 * Errors are told apart by `name` and `code` only, never by message text, and
 * every rejected transaction must leave the state exactly as it was.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  accountOf,
  applyTransaction,
  balanceOf,
  nobleVerifier,
  readTransaction,
  REPUTATION_MAX,
  REPUTATION_SETTLE_GAIN,
  REPUTATION_SLASH_PENALTY,
  REPUTATION_START,
  sha256Hex,
  signTransaction,
  solvePow,
  totalValue,
  verifyPow,
  type AccountId,
  type LedgerError,
  type LedgerState,
  type ModelId,
  type Signer,
  type VerifiedTx,
} from '#core/index.ts';
import {
  createTestNetwork,
  escrow,
  forgeSignature,
  grant,
  ledgerOf,
  receipt,
  refund,
  settle,
  signerFor,
  slash,
  snapshot,
  stake,
  task,
  TEST_MODEL,
  TEST_PARAMS,
  transfer,
  tx,
  type TestNetwork,
} from '#test/network.ts';

const ERROR_NAMES: Record<LedgerError['code'], LedgerError['name']> = {
  'wrong-network': 'WrongNetworkError',
  unauthorized: 'UnauthorizedError',
  'invalid-amount': 'InvalidAmountError',
  'insufficient-funds': 'InsufficientFundsError',
  'insufficient-stake': 'InsufficientStakeError',
  'bad-sequence': 'BadSequenceError',
  'already-granted': 'AlreadyGrantedError',
  'invalid-proof-of-work': 'InvalidProofOfWorkError',
  'duplicate-escrow': 'DuplicateEscrowError',
  'unknown-escrow': 'UnknownEscrowError',
  'escrow-closed': 'EscrowClosedError',
  'receipt-mismatch': 'ReceiptMismatchError',
  'price-above-escrow': 'PriceAboveEscrowError',
  'already-slashed': 'AlreadySlashedError',
  'still-unbonding': 'StillUnbondingError',
  'unknown-unbond': 'UnknownUnbondError',
  'too-many-unbonds': 'TooManyUnbondsError',
};

/** Applies a transaction that must be accepted, checking the old state is left untouched. */
function apply(state: LedgerState, transaction: VerifiedTx): LedgerState {
  const before = snapshot(state);
  const result = applyTransaction(state, transaction);
  if (!result.ok) throw new Error(`expected ${transaction.type} to apply, got ${result.error.name}`);
  expect(snapshot(state)).toEqual(before);
  expect(totalValue(result.value)).toBe(result.value.supply);
  return result.value;
}

/** Applies a transaction that must be refused with `code`, checking the state is left untouched. */
function expectRejected(state: LedgerState, transaction: VerifiedTx, code: LedgerError['code']): void {
  const before = snapshot(state);
  const accountsBefore = state.accounts;
  const result = applyTransaction(state, transaction);
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.error.code).toBe(code);
  expect(result.error.name).toBe(ERROR_NAMES[code]);
  expect(snapshot(state)).toEqual(before);
  expect(state.accounts.equals(accountsBefore)).toBe(true);
}

/** Every account's balance, stake and reputation, for comparing before and after. */
function accounts(state: LedgerState, ids: readonly AccountId[]) {
  return ids.map((id) => {
    const a = accountOf(state, id);
    return { balance: a.balance, stake: a.stake, reputation: a.reputation };
  });
}

function applyAll(state: LedgerState, txs: readonly VerifiedTx[]): LedgerState {
  return txs.reduce(apply, state);
}

const OTHER_MODEL = sha256Hex(new TextEncoder().encode('another model')) as ModelId;

let net: TestNetwork;
let other: TestNetwork;
let relay: Signer;
const alice = signerFor('alice');
const bob = signerFor('bob');
const carol = signerFor('carol');
const dave = signerFor('dave');
const mallory = signerFor('mallory');
/** alice, bob and carol granted (1000 each); bob has 200 staked and carol 300 (seq 1 each). */
let base: LedgerState;

beforeAll(async () => {
  net = await createTestNetwork();
  other = await createTestNetwork(TEST_PARAMS, 'other relay');
  relay = net.relay;
  base = applyAll(ledgerOf(net), [
    await grant(net, alice),
    await grant(net, bob),
    await grant(net, carol),
    await stake(net, bob, 200, 1),
    await stake(net, carol, 300, 1),
  ]);
});

/** An escrowed task of `payer` on `state`, with its id and bytes. */
async function escrowed(state: LedgerState, payer: Signer, maxPrice = 100, overrides = {}) {
  const t = await task(net, payer, { maxPrice, ...overrides });
  return { ...t, state: apply(state, await escrow(net, t.bytes)) };
}

describe('grant', () => {
  it('mints exactly grantAmount to a new account, once', async () => {
    const state = apply(ledgerOf(net), await grant(net, alice));
    expect(accountOf(state, alice.accountId)).toEqual({
      balance: TEST_PARAMS.grantAmount,
      stake: 0,
      seq: 0,
      granted: true,
      reputation: REPUTATION_START,
    });
    expect(state.supply).toBe(TEST_PARAMS.grantAmount);
    expect(totalValue(state)).toBe(TEST_PARAMS.grantAmount);
  });

  it('is made only by the relay', async () => {
    const pow = await solvePow({ network: relay.accountId, publicKey: dave.publicKey, difficulty: 4 });
    for (const signer of [dave, alice, mallory]) {
      const t = await tx(signer, 'tx/grant', { v: 1, net: relay.accountId, to: dave.accountId, amount: 1000, pow });
      expectRejected(base, t, 'unauthorized');
    }
  });

  it('is refused a second time for the same account, even with another proof-of-work', async () => {
    const first = await grant(net, dave);
    const state = apply(base, first);
    expectRejected(state, first, 'already-granted');
    const pow = await solvePow(
      { network: relay.accountId, publicKey: dave.publicKey, difficulty: 5 },
      { startNonce: 1000 },
    );
    const again = await tx(relay, 'tx/grant', { v: 1, net: relay.accountId, to: dave.accountId, amount: 1000, pow });
    expectRejected(state, again, 'already-granted');
    // Spending the grant does not make the account eligible again.
    const spent = apply(state, await transfer(net, dave, alice.accountId, 1000, 1));
    expect(balanceOf(spent, dave.accountId)).toBe(0);
    expectRejected(spent, again, 'already-granted');
  });

  it('must be exactly grantAmount', async () => {
    for (const amount of [1, 999, 1001, 1_000_000]) {
      expectRejected(base, await grant(net, dave, amount), 'invalid-amount');
    }
  });

  it('needs a proof-of-work at or above the minimum difficulty', async () => {
    for (const difficulty of [0, 1, 3]) {
      const pow = await solvePow({ network: relay.accountId, publicKey: dave.publicKey, difficulty });
      const t = await tx(relay, 'tx/grant', { v: 1, net: relay.accountId, to: dave.accountId, amount: 1000, pow });
      expectRejected(base, t, 'invalid-proof-of-work');
    }
    const pow = await solvePow({ network: relay.accountId, publicKey: dave.publicKey, difficulty: 7 });
    const harder = await tx(relay, 'tx/grant', { v: 1, net: relay.accountId, to: dave.accountId, amount: 1000, pow });
    expect(balanceOf(apply(base, harder), dave.accountId)).toBe(1000);
  });

  it('needs a proof-of-work that solves the puzzle of this account and this network', async () => {
    const difficulty = TEST_PARAMS.minPowDifficulty;
    const puzzle = { network: relay.accountId, publicKey: dave.publicKey, difficulty };
    let nonce = 0;
    while (verifyPow(puzzle, { nonce, difficulty })) nonce++;
    const unsolved = { nonce, difficulty };
    const forOtherKey = await solvePow({ ...puzzle, publicKey: mallory.publicKey });
    const forOtherNet = await solvePow({ ...puzzle, network: other.relay.accountId });
    const claimsMore = { ...(await solvePow(puzzle)), difficulty: 30 };
    for (const pow of [unsolved, forOtherKey, forOtherNet, claimsMore]) {
      expect(verifyPow(puzzle, pow)).toBe(false);
      const t = await tx(relay, 'tx/grant', { v: 1, net: relay.accountId, to: dave.accountId, amount: 1000, pow });
      expectRejected(base, t, 'invalid-proof-of-work');
    }
  });

  it('is refused on another network', async () => {
    // Signed by another relay for its own network.
    expectRejected(base, await grant(other, dave), 'wrong-network');
    // Signed by this relay but naming another network.
    const pow = await solvePow({ network: other.relay.accountId, publicKey: dave.publicKey, difficulty: 4 });
    const t = await tx(relay, 'tx/grant', { v: 1, net: other.relay.accountId, to: dave.accountId, amount: 1000, pow });
    expectRejected(base, t, 'wrong-network');
  });
});

describe('transfer', () => {
  it('moves the amount, bumps seq and creates the recipient', async () => {
    const state = apply(base, await transfer(net, alice, dave.accountId, 250, 1));
    expect(accountOf(state, alice.accountId)).toMatchObject({ balance: 750, seq: 1 });
    expect(accountOf(state, dave.accountId)).toMatchObject({ balance: 250, seq: 0, granted: false });
    expect(state.supply).toBe(base.supply);
  });

  it('needs seq to be exactly the next one', async () => {
    for (const seq of [2, 3, 100])
      expectRejected(base, await transfer(net, alice, bob.accountId, 1, seq), 'bad-sequence');
    const first = await transfer(net, alice, bob.accountId, 1, 1);
    const state = apply(base, first);
    // The very same transaction again is a replay.
    expectRejected(state, first, 'bad-sequence');
    // So is a new transaction reusing seq 1, or skipping to 3.
    expectRejected(state, await transfer(net, alice, carol.accountId, 5, 1), 'bad-sequence');
    expectRejected(state, await transfer(net, alice, carol.accountId, 5, 3), 'bad-sequence');
    expect(accountOf(apply(state, await transfer(net, alice, carol.accountId, 5, 2)), alice.accountId).seq).toBe(2);
  });

  it('refuses seq 0 and non-positive or fractional amounts before the ledger', async () => {
    const payloads = [
      { seq: 0, amount: 1 },
      { seq: 1, amount: 0 },
      { seq: 1, amount: -5 },
      { seq: 1, amount: 1.5 },
    ];
    for (const p of payloads) {
      const bytes = await signTransaction(alice, 'tx/transfer', {
        v: 1,
        net: relay.accountId,
        to: bob.accountId,
        ...p,
      });
      const read = readTransaction(bytes, nobleVerifier);
      expect(read.ok).toBe(false);
      if (!read.ok) expect(read.error.code).toBe('invalid-message');
    }
  });

  it('a refused transfer does not use up its seq', async () => {
    expectRejected(base, await transfer(net, alice, bob.accountId, 1001, 1), 'insufficient-funds');
    const state = apply(base, await transfer(net, alice, bob.accountId, 1000, 1));
    expect(balanceOf(state, alice.accountId)).toBe(0);
    expect(balanceOf(state, bob.accountId)).toBe(1800);
  });

  it('refuses to overdraw, and staked tokens are not spendable', async () => {
    expectRejected(base, await transfer(net, alice, bob.accountId, 1001, 1), 'insufficient-funds');
    expectRejected(base, await transfer(net, dave, bob.accountId, 1, 1), 'insufficient-funds');
    // bob holds 800 + 200 staked.
    expectRejected(base, await transfer(net, bob, alice.accountId, 801, 2), 'insufficient-funds');
    expect(balanceOf(apply(base, await transfer(net, bob, alice.accountId, 800, 2)), bob.accountId)).toBe(0);
  });

  it('refuses a transfer to oneself', async () => {
    expectRejected(base, await transfer(net, alice, alice.accountId, 10, 1), 'invalid-amount');
  });

  it('shares one seq counter with stake and unstake', async () => {
    const state = applyAll(base, [
      await transfer(net, alice, bob.accountId, 10, 1),
      await stake(net, alice, 100, 2),
      await stake(net, alice, 40, 3, 'tx/unstake'),
    ]);
    expect(accountOf(state, alice.accountId)).toMatchObject({ seq: 3, balance: 930, stake: 60 });
    expectRejected(state, await transfer(net, alice, bob.accountId, 10, 3), 'bad-sequence');
    expectRejected(state, await stake(net, alice, 10, 2), 'bad-sequence');
  });

  it('is refused on another network', async () => {
    expectRejected(base, await transfer(net, alice, bob.accountId, 10, 1, other.relay.accountId), 'wrong-network');
  });

  it('is refused before the ledger when its signature does not verify', async () => {
    const bytes = forgeSignature((await transfer(net, alice, bob.accountId, 10, 1)).bytes);
    const read = readTransaction(bytes, nobleVerifier);
    expect(read.ok).toBe(false);
    if (!read.ok) expect(read.error.code).toBe('bad-signature');
  });
});

describe('stake and unstake', () => {
  it('move tokens between balance and stake without changing the total', async () => {
    let state = apply(base, await stake(net, alice, 300, 1));
    expect(accountOf(state, alice.accountId)).toMatchObject({ balance: 700, stake: 300, seq: 1 });
    state = apply(state, await stake(net, alice, 120, 2, 'tx/unstake'));
    expect(accountOf(state, alice.accountId)).toMatchObject({ balance: 820, stake: 180, seq: 2 });
    state = apply(state, await stake(net, alice, 180, 3, 'tx/unstake'));
    expect(accountOf(state, alice.accountId)).toMatchObject({ balance: 1000, stake: 0, seq: 3 });
    expect(totalValue(state)).toBe(base.supply);
  });

  it('cannot stake more than the balance', async () => {
    expectRejected(base, await stake(net, alice, 1001, 1), 'insufficient-funds');
    expectRejected(base, await stake(net, bob, 801, 2), 'insufficient-funds');
    expect(accountOf(apply(base, await stake(net, alice, 1000, 1)), alice.accountId).stake).toBe(1000);
  });

  it('cannot unstake more than the stake', async () => {
    expectRejected(base, await stake(net, bob, 201, 2, 'tx/unstake'), 'insufficient-stake');
    expectRejected(base, await stake(net, alice, 1, 1, 'tx/unstake'), 'insufficient-stake');
    expect(accountOf(apply(base, await stake(net, bob, 200, 2, 'tx/unstake')), bob.accountId).stake).toBe(0);
  });

  it('follows the seq rules: a replayed stake is refused', async () => {
    const s = await stake(net, alice, 10, 1);
    const state = apply(base, s);
    expectRejected(state, s, 'bad-sequence');
    expectRejected(base, await stake(net, alice, 10, 2), 'bad-sequence');
    expectRejected(state, await stake(net, alice, 10, 1, 'tx/unstake'), 'bad-sequence');
  });
});

describe('escrow', () => {
  it("locks the task's maxPrice from the requester", async () => {
    const { id, state } = await escrowed(base, alice, 150);
    expect(balanceOf(state, alice.accountId)).toBe(850);
    expect(state.escrows.get(id)).toEqual({ payer: alice.accountId, model: TEST_MODEL, amount: 150, status: 'open' });
    expect(totalValue(state)).toBe(state.supply);
  });

  it('is made only by the relay', async () => {
    const t = await task(net, alice);
    for (const signer of [alice, bob, mallory])
      expectRejected(base, await escrow(net, t.bytes, signer), 'unauthorized');
  });

  it('is refused twice for the same task', async () => {
    const t = await task(net, alice);
    const e = await escrow(net, t.bytes);
    const state = apply(base, e);
    expectRejected(state, e, 'duplicate-escrow');
    expectRejected(state, await escrow(net, t.bytes), 'duplicate-escrow');
    // Still a duplicate once the first escrow is closed.
    expectRejected(apply(state, await refund(net, t.id)), e, 'duplicate-escrow');
  });

  it("needs the requester's balance to cover maxPrice", async () => {
    expectRejected(base, await escrow(net, (await task(net, alice, { maxPrice: 1001 })).bytes), 'insufficient-funds');
    expectRejected(base, await escrow(net, (await task(net, dave, { maxPrice: 1 })).bytes), 'insufficient-funds');
    // bob's stake cannot pay for tasks.
    expectRejected(base, await escrow(net, (await task(net, bob, { maxPrice: 801 })).bytes), 'insufficient-funds');
    const { state } = await escrowed(base, alice, 1000);
    expect(balanceOf(state, alice.accountId)).toBe(0);
  });

  it('is refused for a task of another network', async () => {
    const t = await task(net, alice, { net: other.relay.accountId });
    expectRejected(base, await escrow(net, t.bytes), 'wrong-network');
  });

  it('is refused before the ledger when the inner task signature is forged', async () => {
    const t = await task(net, alice);
    const forged = forgeSignature(t.bytes);
    const bytes = await signTransaction(relay, 'tx/escrow', { v: 1, net: relay.accountId, task: forged });
    const read = readTransaction(bytes, nobleVerifier);
    expect(read.ok).toBe(false);
    if (!read.ok) expect(read.error.code).toBe('bad-signature');
  });
});

describe('settle', () => {
  const FEE_CASES = [
    { feeBps: 500, price: 0 },
    { feeBps: 500, price: 1 },
    { feeBps: 500, price: 19 },
    { feeBps: 500, price: 20 },
    { feeBps: 500, price: 39 },
    { feeBps: 500, price: 70 },
    { feeBps: 500, price: 100 },
    { feeBps: 333, price: 97 },
    { feeBps: 0, price: 100 },
    { feeBps: 5000, price: 99 },
    { feeBps: 1, price: 100 },
  ];
  for (const { feeBps, price } of FEE_CASES) {
    it(`pays floor(price*feeBps/10000) to the relay and the rest to the worker (feeBps ${feeBps}, price ${price})`, async () => {
      const n =
        feeBps === TEST_PARAMS.feeBps ? net : await createTestNetwork({ ...TEST_PARAMS, feeBps }, `fee ${feeBps}`);
      const state0 = applyAll(ledgerOf(n), [await grant(n, alice), await grant(n, bob), await stake(n, bob, 100, 1)]);
      const t = await task(n, alice, { maxPrice: 100 });
      const state1 = apply(state0, await escrow(n, t.bytes));
      const state2 = apply(state1, await settle(n, t.id, await receipt(n, bob, t.id), price));
      const fee = Math.floor((price * feeBps) / 10_000);
      expect(balanceOf(state2, n.relay.accountId)).toBe(fee);
      expect(accountOf(state2, bob.accountId)).toMatchObject({
        balance: 900 + price - fee,
        stake: 100,
        reputation: REPUTATION_START + REPUTATION_SETTLE_GAIN,
      });
      expect(balanceOf(state2, alice.accountId)).toBe(1000 - price);
      expect(state2.escrows.get(t.id)?.status).toBe('settled');
      expect(totalValue(state2)).toBe(2000);
    });
  }

  it('is made only by the relay', async () => {
    const { id, state } = await escrowed(base, alice);
    const r = await receipt(net, bob, id);
    for (const signer of [alice, bob, mallory])
      expectRejected(state, await settle(net, id, r, 50, signer), 'unauthorized');
  });

  it('needs the worker to hold minWorkerStake', async () => {
    const { id, state } = await escrowed(apply(base, await grant(net, dave)), alice);
    const r = await receipt(net, dave, id);
    expectRejected(state, await settle(net, id, r, 50), 'insufficient-stake');
    const under = apply(state, await stake(net, dave, TEST_PARAMS.minWorkerStake - 1, 1));
    expectRejected(under, await settle(net, id, r, 50), 'insufficient-stake');
    const exact = apply(under, await stake(net, dave, 1, 2));
    expect(balanceOf(apply(exact, await settle(net, id, r, 50)), dave.accountId)).toBe(1000 - 100 + 50 - 2);
  });

  it('pays the relay for work on its own pool without a stake (it is the authority)', async () => {
    const { id, state } = await escrowed(base, alice);
    const r = await receipt(net, net.relay, id);
    const after = apply(state, await settle(net, id, r, 50));
    // The relay keeps the whole price: the worker's share and the fee are both its own.
    expect(balanceOf(after, net.relay.accountId)).toBe(50);
    expect(balanceOf(after, alice.accountId)).toBe(950);
    expect(totalValue(after)).toBe(totalValue(state));
  });

  it('refuses a price above the escrow', async () => {
    const { id, state } = await escrowed(base, alice, 60);
    const r = await receipt(net, bob, id);
    expectRejected(state, await settle(net, id, r, 61), 'price-above-escrow');
    expectRejected(state, await settle(net, id, r, 1_000_000), 'price-above-escrow');
    expect(balanceOf(apply(state, await settle(net, id, r, 60)), alice.accountId)).toBe(940);
  });

  it('refuses a receipt for another task, model or network', async () => {
    const { id, state: s1 } = await escrowed(base, alice);
    const { id: otherId, state } = await escrowed(s1, alice);
    expectRejected(state, await settle(net, id, await receipt(net, bob, otherId), 50), 'receipt-mismatch');
    expectRejected(
      state,
      await settle(net, id, await receipt(net, bob, id, { model: OTHER_MODEL }), 50),
      'receipt-mismatch',
    );
    expectRejected(
      state,
      await settle(net, id, await receipt(net, bob, id, { net: other.relay.accountId }), 50),
      'receipt-mismatch',
    );
  });

  it('refuses a task escrowed for another model even with a matching receipt model', async () => {
    const { id, state } = await escrowed(base, alice, 100, { model: OTHER_MODEL });
    expectRejected(state, await settle(net, id, await receipt(net, bob, id), 50), 'receipt-mismatch');
    const ok = apply(state, await settle(net, id, await receipt(net, bob, id, { model: OTHER_MODEL }), 50));
    expect(ok.escrows.get(id)?.status).toBe('settled');
  });

  it('settles once: a second settle or a refund after it is refused', async () => {
    const { id, state: open } = await escrowed(base, alice);
    const s = await settle(net, id, await receipt(net, bob, id), 40);
    const state = apply(open, s);
    expectRejected(state, s, 'escrow-closed');
    expectRejected(state, await settle(net, id, await receipt(net, carol, id), 10), 'escrow-closed');
    expectRejected(state, await refund(net, id), 'escrow-closed');
  });

  it('refuses a task that was never escrowed', async () => {
    const t = await task(net, alice);
    expectRejected(base, await settle(net, t.id, await receipt(net, bob, t.id), 10), 'unknown-escrow');
  });

  it('credits a worker who is also the requester once per role', async () => {
    const { id, state } = await escrowed(apply(base, await stake(net, alice, 100, 1)), alice, 100);
    const after = apply(state, await settle(net, id, await receipt(net, alice, id), 60));
    // 1000 - 100 staked - 100 escrowed + (60 - 3) earned + 40 refunded.
    expect(balanceOf(after, alice.accountId)).toBe(897);
    expect(balanceOf(after, relay.accountId)).toBe(3);
    expect(accountOf(after, alice.accountId).reputation).toBe(REPUTATION_START + REPUTATION_SETTLE_GAIN);
  });

  it('credits the relay once per role when it is also the worker', async () => {
    const start = applyAll(base, [await grant(net, relay), await stake(net, relay, 100, 1)]);
    const { id, state } = await escrowed(start, alice, 100);
    const after = apply(state, await settle(net, id, await receipt(net, relay, id), 80));
    expect(balanceOf(after, relay.accountId)).toBe(900 + 80);
    expect(balanceOf(after, alice.accountId)).toBe(920);
  });

  it('caps reputation at REPUTATION_MAX', async () => {
    const { id, state } = await escrowed(base, alice);
    const bobRecord = accountOf(state, bob.accountId);
    const nearMax = {
      ...state,
      accounts: state.accounts.set(bob.accountId, { ...bobRecord, reputation: REPUTATION_MAX - 2 }),
    };
    const after = apply(nearMax, await settle(net, id, await receipt(net, bob, id), 10));
    expect(accountOf(after, bob.accountId).reputation).toBe(REPUTATION_MAX);
  });
});

describe('refund', () => {
  it('returns the whole escrow to the requester, once', async () => {
    const { id, state: open } = await escrowed(base, alice, 100);
    const r = await refund(net, id, 'expired');
    const state = apply(open, r);
    expect(balanceOf(state, alice.accountId)).toBe(1000);
    expect(state.escrows.get(id)?.status).toBe('refunded');
    expectRejected(state, r, 'escrow-closed');
    expectRejected(state, await refund(net, id, 'failed'), 'escrow-closed');
    expectRejected(state, await settle(net, id, await receipt(net, bob, id), 10), 'escrow-closed');
  });

  it('is made only by the relay', async () => {
    const { id, state } = await escrowed(base, alice);
    for (const signer of [alice, bob, mallory])
      expectRejected(state, await refund(net, id, 'cancelled', signer), 'unauthorized');
  });

  it('refuses a task that was never escrowed', async () => {
    const t = await task(net, alice);
    expectRejected(base, await refund(net, t.id), 'unknown-escrow');
  });
});

describe('slash', () => {
  it("moves the slashed stake to the relay's account and costs reputation", async () => {
    const t = await task(net, alice);
    const state = apply(base, await slash(net, carol.accountId, t.id, 120, await receipt(net, carol, t.id)));
    expect(accountOf(state, carol.accountId)).toMatchObject({
      balance: 700,
      stake: 180,
      reputation: REPUTATION_START - REPUTATION_SLASH_PENALTY,
    });
    expect(balanceOf(state, relay.accountId)).toBe(120);
    expect(state.supply).toBe(base.supply);
    expect(totalValue(state)).toBe(base.supply);
  });

  it("needs the worker's own receipt for that task as evidence", async () => {
    const t = await task(net, alice);
    const u = await task(net, alice);
    const bad = [
      await receipt(net, bob, t.id), // someone else's receipt
      await receipt(net, carol, u.id), // for another task
      await receipt(net, carol, t.id, { net: other.relay.accountId }), // for another network
    ];
    for (const evidence of bad)
      expectRejected(base, await slash(net, carol.accountId, t.id, 10, evidence), 'receipt-mismatch');
  });

  it('cannot take more than the stake', async () => {
    const t = await task(net, alice);
    const evidence = await receipt(net, carol, t.id);
    expectRejected(base, await slash(net, carol.accountId, t.id, 301, evidence), 'insufficient-stake');
    expectRejected(
      base,
      await slash(net, alice.accountId, t.id, 1, await receipt(net, alice, t.id)),
      'insufficient-stake',
    );
    expect(accountOf(apply(base, await slash(net, carol.accountId, t.id, 300, evidence)), carol.accountId).stake).toBe(
      0,
    );
  });

  it('happens once per worker and task', async () => {
    const t = await task(net, alice);
    const u = await task(net, alice);
    const first = await slash(net, carol.accountId, t.id, 50, await receipt(net, carol, t.id));
    const state = apply(base, first);
    expectRejected(state, first, 'already-slashed');
    const again = await slash(net, carol.accountId, t.id, 10, await receipt(net, carol, t.id, { runMs: 6 }));
    expectRejected(state, again, 'already-slashed');
    // Another task of the same worker, or another worker on the same task, may still be slashed.
    const s2 = apply(state, await slash(net, carol.accountId, u.id, 50, await receipt(net, carol, u.id)));
    const s3 = apply(s2, await slash(net, bob.accountId, t.id, 50, await receipt(net, bob, t.id)));
    expect(accounts(s3, [carol.accountId, bob.accountId])).toEqual([
      { balance: 700, stake: 200, reputation: Math.max(0, REPUTATION_START - 2 * REPUTATION_SLASH_PENALTY) },
      { balance: 800, stake: 150, reputation: REPUTATION_START - REPUTATION_SLASH_PENALTY },
    ]);
    expect(balanceOf(s3, relay.accountId)).toBe(150);
  });

  it('never takes reputation below 0', async () => {
    const t = await task(net, alice);
    const carolRecord = accountOf(base, carol.accountId);
    const low = { ...base, accounts: base.accounts.set(carol.accountId, { ...carolRecord, reputation: 100 }) };
    const after = apply(low, await slash(net, carol.accountId, t.id, 1, await receipt(net, carol, t.id)));
    expect(accountOf(after, carol.accountId).reputation).toBe(0);
  });

  it('is made only by the relay', async () => {
    const t = await task(net, alice);
    const evidence = await receipt(net, carol, t.id);
    for (const signer of [alice, carol, mallory]) {
      expectRejected(base, await slash(net, carol.accountId, t.id, 10, evidence, signer), 'unauthorized');
    }
  });
});

describe('purity', () => {
  it('a successful apply of every kind of transaction leaves the old state unchanged', async () => {
    const t = await task(net, alice);
    const u = await task(net, alice);
    const script = [
      await grant(net, dave),
      await transfer(net, dave, alice.accountId, 100, 1),
      await stake(net, dave, 300, 2),
      await stake(net, dave, 50, 3, 'tx/unstake'),
      await escrow(net, t.bytes),
      await escrow(net, u.bytes),
      await settle(net, t.id, await receipt(net, dave, t.id), 90),
      await refund(net, u.id),
      await slash(net, dave.accountId, t.id, 25, await receipt(net, dave, t.id)),
    ];
    let state = base;
    const history = [{ state, snap: snapshot(state) }];
    for (const transaction of script) {
      state = apply(state, transaction); // also checks the state it started from
      history.push({ state, snap: snapshot(state) });
    }
    // Every intermediate state is still exactly what it was when it was made.
    for (const h of history) expect(snapshot(h.state)).toEqual(h.snap);
    expect(history.map((h) => h.state.supply)).toEqual([3000, 4000, 4000, 4000, 4000, 4000, 4000, 4000, 4000, 4000]);
  });

  it('a refused apply leaves the state deep-equal to before, of every kind', async () => {
    const t = await task(net, alice);
    const { state } = await escrowed(base, alice, 100, {});
    const before = snapshot(state);
    const accountsBefore = state.accounts;
    const escrowsBefore = state.escrows;
    const refused = [
      await grant(net, alice),
      await transfer(net, alice, bob.accountId, 5000, 1),
      await stake(net, alice, 5000, 1),
      await stake(net, alice, 5000, 1, 'tx/unstake'),
      await escrow(net, (await task(net, alice, { maxPrice: 5000 })).bytes),
      await settle(net, t.id, await receipt(net, bob, t.id), 10),
      await refund(net, t.id),
      await slash(net, carol.accountId, t.id, 5000, await receipt(net, carol, t.id)),
    ];
    for (const transaction of refused) {
      const result = applyTransaction(state, transaction);
      expect(result.ok).toBe(false);
      expect(snapshot(state)).toEqual(before);
      expect(state.accounts.equals(accountsBefore)).toBe(true);
      expect(state.escrows.equals(escrowsBefore)).toBe(true);
    }
  });
});
