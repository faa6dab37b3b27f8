/**
 * Replaying a stored ledger from its genesis: what the ledger service does
 * on start and what `verifyLedger` reports on. Every block goes through the
 * shared `replayChain` (signatures, links, Merkle roots, transactions), the
 * transactions stored after the last block through the same rules, and the
 * store's own bookkeeping is checked against the result: transaction ids
 * against their bytes, the hash chain, block ranges, and every account row.
 *
 * The whole chain is read into memory for the replay (the relay keeps the
 * state in memory anyway).
 */
import { decodeEnvelope, messageId } from '#core/envelope/envelope.ts';
import type { Map as ImmutableMap } from 'immutable';
import type { AccountId, BlockHash, Hash, TxId } from '#core/identity/ids.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import { type Block } from '#core/ledger/block.ts';
import { readGenesis, replayChain, type ChainHead } from '#core/ledger/chain.ts';
import type { GenesisMessage } from '#core/ledger/genesis.ts';
import { applyTransaction, totalValue, type AccountRecord, type LedgerState } from '#core/ledger/state.ts';
import { readTransaction } from '#core/ledger/transaction.ts';
import { nextChainHash } from './hash-chain.ts';
import { MAX_PAGE, type AccountRow, type BlockRecord, type LedgerStore, type StoredTx } from './ledger-store.ts';

/** What can be wrong with a stored ledger. */
export type LedgerProblemCode =
  /** The store has no genesis. */
  | 'missing-genesis'
  /** The genesis or a block does not replay (see `height` and `txIndex`). */
  | 'invalid-chain'
  /** A transaction stored after the last block does not apply (see `seq`). */
  | 'invalid-tail'
  /** A stored transaction's seq, id or type does not match its bytes. */
  | 'tx-mismatch'
  /** A stored hash chain value is not `sha256(previous || id)`. */
  | 'hash-chain-mismatch'
  /** Blocks do not cover consecutive stored transactions, or a block's id is not its header's. */
  | 'block-mismatch'
  /** A stored account row differs from the replayed account, or one of them is missing. */
  | 'account-mismatch'
  /** Balances, stakes, unbonding stakes and open escrows do not add up to the supply minted by grants. */
  | 'value-not-conserved';

export interface LedgerProblem {
  readonly code: LedgerProblemCode;
  readonly message: string;
  /** The block at fault (0 for the genesis). */
  readonly height?: number;
  /** The transaction's index in that block. */
  readonly txIndex?: number;
  /** The transaction's append position. */
  readonly seq?: number;
  readonly account?: AccountId;
}

/** A ledger that replayed: the state and everything the service needs to go on appending. */
export interface ReplayedLedger {
  readonly genesis: GenesisMessage;
  readonly state: LedgerState;
  readonly head: ChainHead;
  readonly txCount: number;
  /** The hash chain value after the last stored transaction (the genesis id when there is none). */
  readonly chain: Hash;
  /** Stored transactions that no block covers yet, in order. */
  readonly unblocked: readonly StoredTx[];
  /** The block time of each unstake still unbonding that a block holds (see `BlockTimes` in the core). */
  readonly blockTimes: ImmutableMap<TxId, number>;
}

export interface StoreReplay {
  /** Empty when the ledger is sound. */
  readonly problems: readonly LedgerProblem[];
  /** Undefined when the chain could not be replayed far enough to know the state. */
  readonly ledger: ReplayedLedger | undefined;
  readonly txCount: number;
}

/** Replays and checks everything in `store`. Throws only when the store itself fails. */
export async function replayStore(store: LedgerStore, verifier: Ed25519Verifier): Promise<StoreReplay> {
  const problems: LedgerProblem[] = [];
  const genesisBytes = await store.genesis();
  const txs = await readAll((from) => store.txs({ fromSeq: from + 1, limit: MAX_PAGE }));
  if (genesisBytes === undefined) {
    problems.push({ code: 'missing-genesis', message: 'the store has no genesis' });
    return { problems, ledger: undefined, txCount: txs.length };
  }
  const genesis = readGenesis(genesisBytes, verifier);
  if (!genesis.ok) {
    problems.push({ code: 'invalid-chain', message: genesis.error.message, height: 0 });
    return { problems, ledger: undefined, txCount: txs.length };
  }

  const chain = checkTxRows(txs, genesis.value.id, problems);
  const records = await readAll((from) => store.blocks({ fromHeight: from + 1, limit: MAX_PAGE }));
  const blocks = blockBodies(records, txs, problems);
  const replayed = replayChain({ genesis: genesisBytes, blocks }, verifier);
  if (!replayed.ok) {
    const { height, txIndex } = replayed.error;
    problems.push({
      code: 'invalid-chain',
      message: replayed.error.message,
      height,
      ...(txIndex === undefined ? {} : { txIndex }),
    });
    return { problems, ledger: undefined, txCount: txs.length };
  }

  const blocked = blocks.reduce((n, b) => n + b.txs.length, 0);
  const unblocked = txs.slice(blocked);
  let state = replayed.value.state;
  const blockTimes = replayed.value.blockTimes;
  for (const stored of unblocked) {
    const read = readTransaction(stored.bytes, verifier);
    const next = read.ok ? applyTransaction(state, read.value, blockTimes) : read;
    if (!next.ok) {
      problems.push({ code: 'invalid-tail', message: `tx ${stored.seq}: ${next.error.message}`, seq: stored.seq });
      return { problems, ledger: undefined, txCount: txs.length };
    }
    state = next.value;
  }

  const rows = await readAll<AccountRow>((_, last) =>
    store.accounts({ limit: MAX_PAGE, ...(last === undefined ? {} : { after: last.account }) }),
  );
  checkAccountRows(rows, state, problems);
  if (totalValue(state) !== state.supply) {
    problems.push({
      code: 'value-not-conserved',
      message: `balances, stakes, unbonding stakes and open escrows add up to ${totalValue(state)}, grants to ${state.supply}`,
    });
  }
  return {
    problems,
    txCount: txs.length,
    ledger: {
      genesis: genesis.value,
      state,
      head: replayed.value.head,
      txCount: txs.length,
      chain,
      unblocked,
      blockTimes,
    },
  };
}

/** Reads pages until one comes back empty. `next(count, last)` fetches the page after `count` rows. */
async function readAll<T>(next: (count: number, last: T | undefined) => Promise<T[]>): Promise<T[]> {
  const all: T[] = [];
  for (;;) {
    const page = await next(all.length, all.at(-1));
    if (page.length === 0) return all;
    all.push(...page);
  }
}

/** Checks seq, id, type and hash chain of every stored transaction; returns the last chain value. */
function checkTxRows(txs: readonly StoredTx[], genesisId: Hash, problems: LedgerProblem[]): Hash {
  let chain = genesisId;
  for (const [i, tx] of txs.entries()) {
    const envelope = decodeEnvelope(tx.bytes);
    if (tx.seq !== i + 1) {
      problems.push({ code: 'tx-mismatch', message: `expected seq ${i + 1}, found ${tx.seq}`, seq: tx.seq });
    } else if (!envelope.ok || messageId(envelope.value) !== tx.id || envelope.value.type !== tx.type) {
      problems.push({ code: 'tx-mismatch', message: `tx ${tx.seq}: id or type does not match its bytes`, seq: tx.seq });
    }
    chain = nextChainHash(chain, tx.id);
    if (tx.chain !== chain) {
      problems.push({ code: 'hash-chain-mismatch', message: `tx ${tx.seq}: hash chain broken`, seq: tx.seq });
      chain = tx.chain; // go on from the stored value, so one edit is reported where it is, not on every later row
    }
  }
  return chain;
}

/** Pairs each stored block with the transactions it covers, checking the ranges and ids. */
function blockBodies(records: readonly BlockRecord[], txs: readonly StoredTx[], problems: LedgerProblem[]): Block[] {
  const blocks: Block[] = [];
  let nextSeq = 1;
  for (const record of records) {
    const { height, firstSeq, txCount } = record;
    if (firstSeq !== nextSeq || firstSeq + txCount - 1 > txs.length) {
      problems.push({ code: 'block-mismatch', message: `block ${height} covers the wrong transactions`, height });
    }
    const header = decodeEnvelope(record.header);
    if (header.ok && (messageId(header.value) as BlockHash) !== record.id) {
      problems.push({ code: 'block-mismatch', message: `block ${height}: stored id is not its header's`, height });
    }
    blocks.push({ header: record.header, txs: txs.slice(firstSeq - 1, firstSeq - 1 + txCount).map((t) => t.bytes) });
    nextSeq = firstSeq + txCount;
  }
  return blocks;
}

function checkAccountRows(rows: readonly AccountRow[], state: LedgerState, problems: LedgerProblem[]): void {
  const seen = new Set<AccountId>();
  for (const row of rows) {
    seen.add(row.account);
    const expected = state.accounts.get(row.account);
    if (expected === undefined || !sameAccount(row, expected)) {
      problems.push({
        code: 'account-mismatch',
        message: `account ${row.account}: stored row differs from the replayed ledger`,
        account: row.account,
      });
    }
  }
  for (const account of state.accounts.keys()) {
    if (!seen.has(account)) {
      problems.push({ code: 'account-mismatch', message: `account ${account}: no stored row`, account });
    }
  }
}

function sameAccount(row: AccountRow, record: AccountRecord): boolean {
  return (
    row.balance === record.balance &&
    row.stake === record.stake &&
    row.seq === record.seq &&
    row.reputation === record.reputation &&
    row.granted === record.granted
  );
}
