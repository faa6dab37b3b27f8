/**
 * The protocol core: pure, isomorphic TypeScript shared by the app, the
 * service worker, Web Workers and the relay. No I/O, no `node:*`, no DOM.
 */
export * from './result.ts';
export * from './errors.ts';
export * from './encoding/bytes.ts';
export * from './encoding/canonical.ts';
export * from './encoding/errors.ts';
export * from './identity/ids.ts';
export * from './identity/errors.ts';
export * from './identity/signer.ts';
export * from './identity/verifier.ts';
export * from './envelope/envelope.ts';
export * from './envelope/errors.ts';
export * from './envelope/freshness.ts';
export * from './messages/errors.ts';
export * from './messages/fields.ts';
export * from './messages/task.ts';
export * from './messages/receipt.ts';
export * from './messages/transactions.ts';
export * from './messages/block-header.ts';
export * from './messages/worker-advert.ts';
export * from './messages/assignment.ts';
export * from './messages/relay-control.ts';
export * from './resources/allocation.ts';
export * from './resources/errors.ts';
export * from './task-state/task-state.ts';
export * from './pow/pow.ts';
export * from './ledger/errors.ts';
export * from './ledger/merkle.ts';
export * from './ledger/genesis.ts';
export * from './ledger/transaction.ts';
export * from './ledger/state.ts';
export * from './ledger/block.ts';
export * from './ledger/chain.ts';
export * from './models/errors.ts';
export * from './models/tensor.ts';
export * from './models/runtime.ts';
export * from './models/catalogue.ts';
export * from './models/pipeline.ts';
export * from './models/load-models.ts';
