/**
 * The ledger as a pure state machine: `applyTransaction(state, tx)` returns the
 * next state or a typed error, and never changes `state` (persistent maps from
 * Immutable.js share structure, so keeping old states is cheap).
 *
 * Invariants, checked by property tests:
 * - only grants mint, so total value (balances + stakes + unbonding stakes +
 *   open escrows) equals the sum of grants;
 * - no balance, stake or unbonding amount is ever negative;
 * - an escrow is settled or refunded exactly once;
 * - every transaction can be applied at most once.
 *
 * Unbonding. Where the genesis sets `unbondingMs`, an unstake does not make
 * tokens spendable: it moves them from the stake to an unbonding entry of
 * their own, still slashable, and only a relay-signed `tx/release` moves what
 * is left of that entry to the balance, once `unbondingMs` has passed since
 * the block that holds the unstake. Time comes from blocks only (their
 * signed `ts`), so the rule needs to know when each unstake's block was made:
 * that is {@link BlockTimes}, which chain replay (./chain.ts) and the relay
 * keep beside the state. It is not part of the state because the relay applies
 * a transaction before any block holds it; the state stays a function of the
 * transactions alone, and the times only decide whether a release may apply.
 * Why a release transaction rather than the state releasing by itself at a
 * block: a release is then one ordinary transaction in the log, in order with
 * the slashes around it, so a slash that reaches unbonding stake and the
 * release of that stake can never be applied in a different order by the relay
 * and by someone replaying its log.
 */
import { Map as ImmutableMap, Set as ImmutableSet } from 'immutable';
import type { AccountId, ModelId, TaskId, TxId } from '../identity/ids.ts';
import { publicKeyOfAccount } from '../identity/ids.ts';
import { verifyPow } from '../pow/pow.ts';
import { err, ok, type Result } from '../result.ts';
import {
  AlreadyGrantedError,
  AlreadySlashedError,
  BadSequenceError,
  DuplicateEscrowError,
  EscrowClosedError,
  InsufficientFundsError,
  InsufficientStakeError,
  InvalidAmountError,
  InvalidProofOfWorkError,
  PriceAboveEscrowError,
  ReceiptMismatchError,
  StillUnbondingError,
  TooManyUnbondsError,
  UnauthorizedError,
  UnknownEscrowError,
  UnknownUnbondError,
  WrongNetworkError,
  type LedgerError,
} from './errors.ts';
import { unbondingMsOf, type LedgerParams } from './genesis.ts';
import type { VerifiedTx } from './transaction.ts';

export const REPUTATION_MAX = 1000;
/** Where a worker starts. */
export const REPUTATION_START = 500;
/** Gained per settled task. */
export const REPUTATION_SETTLE_GAIN = 5;
/** Lost per slash. */
export const REPUTATION_SLASH_PENALTY = 250;

/**
 * Most unstakes one account may have unbonding at once. Each is an entry of
 * its own (it is released at its own time), so without a cap one account could
 * grow the state, and the work of every slash of it, one token at a time.
 */
export const MAX_UNBONDS = 16;

export interface AccountRecord {
  readonly balance: number;
  /** Locked stake: not spendable until unstaked (and, with unbonding, released), and slashable. */
  readonly stake: number;
  /** The `seq` of this account's last transfer, stake or unstake. */
  readonly seq: number;
  readonly granted: boolean;
  /** 0 to 1000; meaningful for workers. */
  readonly reputation: number;
}

export type EscrowStatus = 'open' | 'settled' | 'refunded';

export interface EscrowRecord {
  readonly payer: AccountId;
  readonly model: ModelId;
  readonly amount: number;
  readonly status: EscrowStatus;
}

/** What is left of one unstake while it unbonds. */
export interface UnbondRecord {
  /** The id of the `tx/unstake`: what its release names, and the key of its block time. */
  readonly tx: TxId;
  /** Never 0: an entry slashed to nothing is removed. */
  readonly amount: number;
}

/**
 * When the block holding each unstake was made, in ms (the block's `ts`):
 * the ledger's only clock. Undefined for an unstake no block holds yet. A
 * `Map` or an Immutable map fits.
 */
export interface BlockTimes {
  get(unstake: TxId): number | undefined;
}

/** Knows no block: every release is refused. */
export const NO_BLOCK_TIMES: BlockTimes = { get: () => undefined };

export interface LedgerState {
  /** The network id: the relay's account, the only one that may grant, escrow, settle, refund, slash and release. */
  readonly network: AccountId;
  readonly params: LedgerParams;
  readonly accounts: ImmutableMap<AccountId, AccountRecord>;
  readonly escrows: ImmutableMap<TaskId, EscrowRecord>;
  /** `worker task` pairs already slashed. */
  readonly slashes: ImmutableSet<string>;
  /** Each account's unstakes still unbonding, oldest first; accounts with none are absent. */
  readonly unbonding: ImmutableMap<AccountId, readonly UnbondRecord[]>;
  /** Everything ever minted by grants. */
  readonly supply: number;
}

const EMPTY_ACCOUNT: AccountRecord = { balance: 0, stake: 0, seq: 0, granted: false, reputation: REPUTATION_START };

export function createLedgerState(network: AccountId, params: LedgerParams): LedgerState {
  return {
    network,
    params,
    accounts: ImmutableMap(),
    escrows: ImmutableMap(),
    slashes: ImmutableSet(),
    unbonding: ImmutableMap(),
    supply: 0,
  };
}

export function accountOf(state: LedgerState, id: AccountId): AccountRecord {
  return state.accounts.get(id) ?? EMPTY_ACCOUNT;
}

export function balanceOf(state: LedgerState, id: AccountId): number {
  return accountOf(state, id).balance;
}

/** `id`'s unstakes still unbonding, oldest first. */
export function unbondsOf(state: LedgerState, id: AccountId): readonly UnbondRecord[] {
  return state.unbonding.get(id) ?? [];
}

/** The total `id` has unbonding: not spendable, still slashable. */
export function unbondingOf(state: LedgerState, id: AccountId): number {
  return sum(unbondsOf(state, id));
}

/** What a slash of `id` can take: its stake and everything it has unbonding. */
export function slashableOf(state: LedgerState, id: AccountId): number {
  return accountOf(state, id).stake + unbondingOf(state, id);
}

/** Balances + stakes + unbonding + open escrows: equals `supply` in every reachable state. */
export function totalValue(state: LedgerState): number {
  let total = 0;
  for (const account of state.accounts.values()) total += account.balance + account.stake;
  for (const unbonds of state.unbonding.values()) total += sum(unbonds);
  for (const escrow of state.escrows.values()) if (escrow.status === 'open') total += escrow.amount;
  return total;
}

/**
 * Applies a verified transaction. Returns the next state, or why not; `state`
 * is never modified. `blockTimes` says when each unstake's block was made;
 * only a release reads it, and without it every release is refused.
 */
export function applyTransaction(
  state: LedgerState,
  tx: VerifiedTx,
  blockTimes: BlockTimes = NO_BLOCK_TIMES,
): Result<LedgerState, LedgerError> {
  const payload = tx.message.payload;
  if (payload.net !== state.network) return err(new WrongNetworkError(`transaction is for network ${payload.net}`));
  const signer = tx.message.signer;
  const byAuthority = signer === state.network;
  switch (tx.type) {
    case 'tx/grant': {
      if (!byAuthority) return err(new UnauthorizedError('only the relay grants'));
      const p = tx.message.payload;
      const to = accountOf(state, p.to);
      if (to.granted) return err(new AlreadyGrantedError(`${p.to} was already granted`));
      if (p.amount !== state.params.grantAmount) {
        return err(new InvalidAmountError(`a grant is ${state.params.grantAmount}, not ${p.amount}`));
      }
      if (p.pow.difficulty < state.params.minPowDifficulty) {
        return err(
          new InvalidProofOfWorkError(`difficulty ${p.pow.difficulty} is below ${state.params.minPowDifficulty}`),
        );
      }
      const puzzle = { network: state.network, publicKey: publicKeyOfAccount(p.to), difficulty: p.pow.difficulty };
      if (!verifyPow(puzzle, p.pow))
        return err(new InvalidProofOfWorkError('the proof-of-work does not solve the puzzle'));
      if (!Number.isSafeInteger(state.supply + p.amount)) return err(new InvalidAmountError('supply would overflow'));
      return ok({
        ...state,
        supply: state.supply + p.amount,
        accounts: state.accounts.set(p.to, { ...to, granted: true, balance: to.balance + p.amount }),
      });
    }
    case 'tx/transfer': {
      const p = tx.message.payload;
      const from = accountOf(state, signer);
      if (p.seq !== from.seq + 1) return err(new BadSequenceError(`expected seq ${from.seq + 1}, got ${p.seq}`));
      if (p.to === signer) return err(new InvalidAmountError('cannot transfer to yourself'));
      if (from.balance < p.amount) return err(new InsufficientFundsError(`balance ${from.balance} < ${p.amount}`));
      const accounts = state.accounts.set(signer, { ...from, seq: p.seq, balance: from.balance - p.amount });
      const to = accountOf(state, p.to);
      return ok({ ...state, accounts: accounts.set(p.to, { ...to, balance: to.balance + p.amount }) });
    }
    case 'tx/stake':
    case 'tx/unstake': {
      // Without an unbonding period an unstake is the reverse of a stake.
      if (tx.type === 'tx/unstake' && unbondingMsOf(state.params) > 0) return unbond(state, tx);
      const p = tx.message.payload;
      const account = accountOf(state, signer);
      if (p.seq !== account.seq + 1) return err(new BadSequenceError(`expected seq ${account.seq + 1}, got ${p.seq}`));
      const delta = tx.type === 'tx/stake' ? p.amount : -p.amount;
      if (account.balance - delta < 0)
        return err(new InsufficientFundsError(`balance ${account.balance} < ${p.amount}`));
      if (account.stake + delta < 0) return err(new InsufficientStakeError(`stake ${account.stake} < ${p.amount}`));
      return ok({
        ...state,
        accounts: state.accounts.set(signer, {
          ...account,
          seq: p.seq,
          balance: account.balance - delta,
          stake: account.stake + delta,
        }),
      });
    }
    case 'tx/escrow': {
      if (!byAuthority) return err(new UnauthorizedError('only the relay escrows'));
      const task = tx.task;
      if (task.payload.net !== state.network) return err(new WrongNetworkError('the task is for another network'));
      const taskId = task.id as TaskId;
      if (state.escrows.has(taskId)) return err(new DuplicateEscrowError(`task ${taskId} is already escrowed`));
      const payer = accountOf(state, task.signer);
      const price = task.payload.maxPrice;
      if (payer.balance < price) return err(new InsufficientFundsError(`balance ${payer.balance} < ${price}`));
      return ok({
        ...state,
        accounts: state.accounts.set(task.signer, { ...payer, balance: payer.balance - price }),
        escrows: state.escrows.set(taskId, {
          payer: task.signer,
          model: task.payload.model,
          amount: price,
          status: 'open',
        }),
      });
    }
    case 'tx/settle': {
      if (!byAuthority) return err(new UnauthorizedError('only the relay settles'));
      const p = tx.message.payload;
      const escrow = openEscrow(state, p.task);
      if (!escrow.ok) return escrow;
      const receipt = tx.receipt;
      if (receipt.payload.task !== p.task || receipt.payload.net !== state.network) {
        return err(new ReceiptMismatchError('the receipt is for another task or network'));
      }
      if (receipt.payload.model !== escrow.value.model)
        return err(new ReceiptMismatchError('the receipt names another model'));
      if (p.price > escrow.value.amount)
        return err(new PriceAboveEscrowError(`price ${p.price} > escrow ${escrow.value.amount}`));
      const workerId = receipt.signer;
      const worker = accountOf(state, workerId);
      // The relay is the network's authority and runs heavy jobs on its own pool; only other workers stake.
      if (workerId !== state.network && worker.stake < state.params.minWorkerStake) {
        return err(new InsufficientStakeError(`a worker needs ${state.params.minWorkerStake} staked to be paid`));
      }
      const fee = Math.floor((p.price * state.params.feeBps) / 10_000);
      const refund = escrow.value.amount - p.price;
      // Credit in sequence so a worker who is also the payer or the relay is
      // credited once per role.
      let accounts = state.accounts.set(workerId, {
        ...worker,
        balance: worker.balance + p.price - fee,
        reputation: Math.min(REPUTATION_MAX, worker.reputation + REPUTATION_SETTLE_GAIN),
      });
      accounts = credit(accounts, state.network, fee);
      accounts = credit(accounts, escrow.value.payer, refund);
      return ok({ ...state, accounts, escrows: state.escrows.set(p.task, { ...escrow.value, status: 'settled' }) });
    }
    case 'tx/refund': {
      if (!byAuthority) return err(new UnauthorizedError('only the relay refunds'));
      const p = tx.message.payload;
      const escrow = openEscrow(state, p.task);
      if (!escrow.ok) return escrow;
      return ok({
        ...state,
        accounts: credit(state.accounts, escrow.value.payer, escrow.value.amount),
        escrows: state.escrows.set(p.task, { ...escrow.value, status: 'refunded' }),
      });
    }
    case 'tx/slash': {
      if (!byAuthority) return err(new UnauthorizedError('only the relay slashes'));
      const p = tx.message.payload;
      const evidence = tx.evidence;
      if (evidence.signer !== p.worker || evidence.payload.task !== p.task || evidence.payload.net !== state.network) {
        return err(new ReceiptMismatchError("the evidence is not the worker's receipt for this task"));
      }
      const key = `${p.worker} ${p.task}`;
      if (state.slashes.has(key)) return err(new AlreadySlashedError(`${p.worker} was already slashed for ${p.task}`));
      const worker = accountOf(state, p.worker);
      const slashable = slashableOf(state, p.worker);
      if (slashable < p.amount) return err(new InsufficientStakeError(`slashable stake ${slashable} < ${p.amount}`));
      // The stake first, then what is unbonding, oldest first: the oldest is
      // the nearest to release, so the entries left are the ones that stay
      // slashable longest.
      const fromStake = Math.min(worker.stake, p.amount);
      const unbonds = takeFromUnbonds(unbondsOf(state, p.worker), p.amount - fromStake);
      // Slashed stake goes to the relay's account (it pays for canaries and
      // re-runs); it is moved, never burnt, so supply stays the sum of grants.
      let accounts = state.accounts.set(p.worker, {
        ...worker,
        stake: worker.stake - fromStake,
        reputation: Math.max(0, worker.reputation - REPUTATION_SLASH_PENALTY),
      });
      accounts = credit(accounts, state.network, p.amount);
      return ok({
        ...state,
        accounts,
        slashes: state.slashes.add(key),
        unbonding: setUnbonds(state.unbonding, p.worker, unbonds),
      });
    }
    case 'tx/release': {
      if (!byAuthority) return err(new UnauthorizedError('only the relay releases'));
      const p = tx.message.payload;
      const unbonds = unbondsOf(state, p.account);
      const entry = unbonds.find((u) => u.tx === p.unstake);
      if (entry === undefined) return err(new UnknownUnbondError(`${p.unstake} is not unbonding for ${p.account}`));
      if (entry.amount !== p.amount) {
        return err(new InvalidAmountError(`${entry.amount} is unbonding from ${p.unstake}, not ${p.amount}`));
      }
      const since = blockTimes.get(p.unstake);
      if (since === undefined) return err(new StillUnbondingError(`no block holds ${p.unstake} yet`));
      const due = since + unbondingMsOf(state.params);
      if (p.ts < due) return err(new StillUnbondingError(`${p.unstake} unbonds until ${due}, not ${p.ts}`));
      return ok({
        ...state,
        accounts: credit(state.accounts, p.account, entry.amount),
        unbonding: setUnbonds(
          state.unbonding,
          p.account,
          unbonds.filter((u) => u !== entry),
        ),
      });
    }
  }
}

/** An unstake with an unbonding period: from the stake to an unbonding entry of its own. */
function unbond(
  state: LedgerState,
  tx: VerifiedTx & { readonly type: 'tx/unstake' },
): Result<LedgerState, LedgerError> {
  const p = tx.message.payload;
  const signer = tx.message.signer;
  const account = accountOf(state, signer);
  if (p.seq !== account.seq + 1) return err(new BadSequenceError(`expected seq ${account.seq + 1}, got ${p.seq}`));
  if (account.stake < p.amount) return err(new InsufficientStakeError(`stake ${account.stake} < ${p.amount}`));
  const unbonds = unbondsOf(state, signer);
  if (unbonds.length >= MAX_UNBONDS) {
    return err(new TooManyUnbondsError(`${MAX_UNBONDS} unstakes are unbonding already; wait for one to be released`));
  }
  return ok({
    ...state,
    accounts: state.accounts.set(signer, { ...account, seq: p.seq, stake: account.stake - p.amount }),
    unbonding: state.unbonding.set(signer, [...unbonds, { tx: tx.id, amount: p.amount }]),
  });
}

/** `unbonds` less `amount`, taken from the oldest first; entries taken to 0 are dropped. `amount` is at most their sum. */
function takeFromUnbonds(unbonds: readonly UnbondRecord[], amount: number): readonly UnbondRecord[] {
  if (amount === 0) return unbonds;
  let left = amount;
  const kept: UnbondRecord[] = [];
  for (const u of unbonds) {
    const take = Math.min(left, u.amount);
    left -= take;
    if (u.amount > take) kept.push(take === 0 ? u : { ...u, amount: u.amount - take });
  }
  return kept;
}

function setUnbonds(
  unbonding: ImmutableMap<AccountId, readonly UnbondRecord[]>,
  id: AccountId,
  unbonds: readonly UnbondRecord[],
): ImmutableMap<AccountId, readonly UnbondRecord[]> {
  if (unbonds === unbonding.get(id)) return unbonding;
  return unbonds.length === 0 ? unbonding.delete(id) : unbonding.set(id, unbonds);
}

function sum(unbonds: readonly UnbondRecord[]): number {
  let total = 0;
  for (const u of unbonds) total += u.amount;
  return total;
}

function openEscrow(state: LedgerState, task: TaskId): Result<EscrowRecord, UnknownEscrowError | EscrowClosedError> {
  const escrow = state.escrows.get(task);
  if (escrow === undefined) return err(new UnknownEscrowError(`no escrow for task ${task}`));
  if (escrow.status !== 'open') return err(new EscrowClosedError(`the escrow for ${task} is already ${escrow.status}`));
  return ok(escrow);
}

function credit(
  accounts: ImmutableMap<AccountId, AccountRecord>,
  id: AccountId,
  amount: number,
): ImmutableMap<AccountId, AccountRecord> {
  if (amount === 0) return accounts;
  const account = accounts.get(id) ?? EMPTY_ACCOUNT;
  return accounts.set(id, { ...account, balance: account.balance + amount });
}
