/** The relay's scheduler: brokers tasks to desktop workers over libp2p. */
export * from './errors.ts';
export * from './reputation-book.ts';
export * from './scheduler.ts';
