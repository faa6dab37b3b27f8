/**
 * The JS SDK: `AIComputeClient` over a relay's REST API and events, and
 * light-client verification of results. Isomorphic, like all of shared/.
 */
export * from './client.ts';
export * from './direct-dial.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './generation.ts';
export * from './header-store.ts';
export * from './relay-http.ts';
export * from './sse.ts';
export * from '#core/api/responses.ts';
export * from './verify-result.ts';
