/**
 * Replaying a whole chain from its genesis message: every signature, every
 * link, every Merkle root and every transaction, recomputing every balance.
 * `relay ledger verify` and the tests run this.
 */
import { readMessage, type SignedMessage } from '../envelope/envelope.ts';
import type { AcnError } from '../errors.ts';
import type { BlockHash, Hash } from '../identity/ids.ts';
import type { Ed25519Verifier } from '../identity/verifier.ts';
import { err, ok, type Result } from '../result.ts';
import { checkBlockBody, checkHeaderLink, readBlockHeader, type Block } from './block.ts';
import { InvalidChainError, UnauthorizedError } from './errors.ts';
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
  let state = from.state;
  for (const [index, bytes] of block.txs.entries()) {
    const tx = readTransaction(bytes, verifier);
    if (!tx.ok) return err(new InvalidChainError(height, index, tx.error as AcnError));
    const next = applyTransaction(state, tx.value);
    if (!next.ok) return err(new InvalidChainError(height, index, next.error));
    state = next.value;
  }
  const p = header.value.payload;
  return ok({ state, head: { id: header.value.id as BlockHash, height: p.height, ts: p.ts, net: p.net } });
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
