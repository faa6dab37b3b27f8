/** The worker protocols live in shared/ (browser workers speak them too); re-exported for the relay's modules. */
export * from '../../shared/p2p/task-protocol.ts';
