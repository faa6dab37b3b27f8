/**
 * Which accounts a transaction can change, so that an append writes just
 * those account rows. Listing an account that does not change is harmless
 * (its row is skipped); missing one would leave a stale row, which
 * `verifyLedger` reports as an account mismatch.
 */
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import type { LedgerState } from '#core/ledger/state.ts';
import type { VerifiedTx } from '#core/ledger/transaction.ts';

/** The accounts `tx` may change when applied to `state` (the state before it). */
export function touchedAccounts(state: LedgerState, tx: VerifiedTx): AccountId[] {
  switch (tx.type) {
    case 'tx/grant':
      return [tx.message.payload.to];
    case 'tx/transfer':
      return [tx.message.signer, tx.message.payload.to];
    case 'tx/stake':
    case 'tx/unstake':
      return [tx.message.signer];
    case 'tx/escrow':
      return [tx.task.signer];
    case 'tx/settle':
      return [tx.receipt.signer, state.network, ...payerOf(state, tx.message.payload.task)];
    case 'tx/refund':
      return payerOf(state, tx.message.payload.task);
    case 'tx/slash':
      return [tx.message.payload.worker, state.network];
    case 'tx/release':
      return [tx.message.payload.account];
  }
}

function payerOf(state: LedgerState, task: TaskId): AccountId[] {
  const escrow = state.escrows.get(task);
  return escrow === undefined ? [] : [escrow.payer];
}
