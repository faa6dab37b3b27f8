/** The in-memory header store keeps the HeaderStore contract. */
import { createMemoryHeaderStore } from '#client/sdk/header-store.ts';
import { runHeaderStoreContract } from '#test/header-store-contract.ts';

runHeaderStoreContract('memory', () => ({ open: () => Promise.resolve(createMemoryHeaderStore()) }));
