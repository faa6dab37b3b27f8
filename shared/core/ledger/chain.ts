/**
 * Replaying a whole chain from its genesis message: every signature, every
 * link, every Merkle root and every transaction, recomputing every balance.
 * `relay ledger verify` and the tests run this.
 *
 * Replay also keeps the ledger's clock for unbonding ({@link BlockTimes}):
 * after each block, the time of that block for every unstake in it. A release
 * in a later block is checked against it (./state.ts), and a release may not
 * be dated after the block that holds it, so no release reaches the balance
 * before a signed block time says the period has passed.
 */
import { readMessage, type SignedMessage } from '../envelope/envelope.ts';
import type { AcnError } from '../errors.ts';
import { Map as ImmutableMap } from 'immutable';
import type { BlockHash, Hash, TxId } from '../identity/ids.ts';
import type { Ed25519Verifier } from '../identity/verifier.ts';
import { err, ok, type Result } from '../result.ts';
import { checkBlockBody, checkHeaderLink, readBlockHeader, type Block } from './block.ts';
import { InvalidBlockError, InvalidChainError, UnauthorizedError } from './errors.ts';
import { decodeGenesisPayload, type GenesisPayload } from './genesis.ts';
import { applyTransaction, createLedgerState, type LedgerState } from './state.ts';
import { readTransaction } from './transaction.ts';

export interface Chain {
  /** The encoded genesis envelope. */
  readonly genesis: Uint8Array;
  readonly blocks: readonly Block[];
}

export interface ChainHead {
  readonly id: Hash;
  readonly height: number;
  readonly ts: number;
  readonly net: string;
}

export interface ReplayResult {
  readonly state: LedgerState;
  readonly head: ChainHead;
  /** The block time of every unstake still unbonding whose block has been applied. */
  readonly blockTimes: ImmutableMap<TxId, number>;
}

/** Reads a genesis message: signed by the relay whose account is the network. */
export function readGenesis(
  bytes: Uint8Array,
  verifier: Ed25519Verifier,
): Result<SignedMessage<'genesis', GenesisPayload>, InvalidChainError> {
  const genesis = readMessage(bytes, 'genesis', decodeGenesisPayload, verifier);
  if (!genesis.ok) return err(new InvalidChainError(0, undefined, genesis.error as AcnError));
  if (genesis.value.signer !== genesis.value.payload.net) {
    return err(
      new InvalidChainError(0, undefined, new UnauthorizedError('genesis must be signed by the network relay')),
    );
  }
  return genesis;
}

/** The state and head right after genesis. */
export function genesisState(genesis: SignedMessage<'genesis', GenesisPayload>): ReplayResult {
  return {
    state: createLedgerState(genesis.payload.net, genesis.payload.params),
    head: { id: genesis.id, height: 0, ts: genesis.payload.ts, net: genesis.payload.net },
    blockTimes: ImmutableMap(),
  };
}

/** Applies one block on top of `from`. Never throws; `from` is unchanged. */
export function applyBlock(
  from: ReplayResult,
  block: Block,
  verifier: Ed25519Verifier,
): Result<ReplayResult, InvalidChainError> {
  const height = from.head.height + 1;
  const header = readBlockHeader(block.header, verifier);
  if (!header.ok) return err(new InvalidChainError(height, undefined, header.error as AcnError));
  const linked = checkHeaderLink(from.head, header.value);
  if (!linked.ok) return err(new InvalidChainError(height, undefined, linked.error));
  const body = checkBlockBody(header.value, block.txs);
  if (!body.ok) return err(new InvalidChainError(height, undefined, body.error));
  const p = header.value.payload;
  let state = from.state;
  const txs: { readonly id: TxId; readonly type: string }[] = [];
  for (const [index, bytes] of block.txs.entries()) {
    const tx = readTransaction(bytes, verifier);
    if (!tx.ok) return err(new InvalidChainError(height, index, tx.error as AcnError));
    if (tx.value.type === 'tx/release' && tx.value.message.payload.ts > p.ts) {
      const late = new InvalidBlockError(`a release dated ${tx.value.message.payload.ts} is in a block of ${p.ts}`);
      return err(new InvalidChainError(height, index, late));
    }
    const next = applyTransaction(state, tx.value, from.blockTimes);
    if (!next.ok) return err(new InvalidChainError(height, index, next.error));
    state = next.value;
    txs.push(tx.value);
  }
  return ok({
    state,
    head: { id: header.value.id as BlockHash, height: p.height, ts: p.ts, net: p.net },
    blockTimes: nextBlockTimes(from.blockTimes, state, p.ts, txs),
  });
}

/**
 * The block times after a block of time `ts` holding `txs`, with `state` the
 * ledger after it (or later): its unstakes still unbonding get `ts`, and
 * unstakes no longer unbonding (released, or slashed to nothing) are dropped,
 * so the times kept are as many as the open unbonding entries.
 */
export function nextBlockTimes(
  times: ImmutableMap<TxId, number>,
  state: LedgerState,
  ts: number,
  txs: readonly { readonly id: TxId; readonly type: string }[],
): ImmutableMap<TxId, number> {
  if (times.size === 0 && !txs.some((t) => t.type === 'tx/unstake')) return times;
  const open = new Set<TxId>();
  for (const unbonds of state.unbonding.values()) for (const u of unbonds) open.add(u.tx);
  return times.withMutations((next) => {
    for (const id of times.keys()) if (!open.has(id)) next.delete(id);
    for (const t of txs) if (t.type === 'tx/unstake' && open.has(t.id)) next.set(t.id, ts);
  });
}

/** Replays `chain` from genesis and returns the final state, or the first fault with its place. */
export function replayChain(chain: Chain, verifier: Ed25519Verifier): Result<ReplayResult, InvalidChainError> {
  const genesis = readGenesis(chain.genesis, verifier);
  if (!genesis.ok) return genesis;
  let at = genesisState(genesis.value);
  for (const block of chain.blocks) {
    const next = applyBlock(at, block, verifier);
    if (!next.ok) return next;
    at = next.value;
  }
  return ok(at);
}
