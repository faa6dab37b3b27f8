/**
 * Where the worker reaches the relay's libp2p node. The relay accepts libp2p
 * WebSockets on its HTTP(S) port too, so the URL the worker was given (the one
 * known to work from here, perhaps through a proxy or tunnel) comes first;
 * the addresses from `GET /api/network/bootstrap` follow (the relay's own
 * view, which may name interfaces this machine cannot reach).
 */
import { isIP } from 'node:net';
import { CODE_P2P, multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import * as v from 'valibot';
import { accountId } from '#core/messages/fields.ts';
import type { AccountId } from '#core/identity/ids.ts';

export const bootstrapSchema = v.object({
  peerId: accountId,
  multiaddrs: v.pipe(v.array(v.pipe(v.string(), v.maxLength(512))), v.maxLength(64)),
});

export interface RelayBootstrap {
  /** The relay's PeerId, which is its account id and the network id. */
  readonly peerId: AccountId;
  readonly multiaddrs: readonly string[];
}

/** Fetches the relay's libp2p identity and addresses. */
export async function fetchBootstrap(
  relayUrl: string,
  options: { readonly fetch?: typeof fetch; readonly signal?: AbortSignal } = {},
): Promise<RelayBootstrap> {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const timeout = AbortSignal.timeout(30_000);
  const response = await fetchFn(`${relayUrl.replace(/\/+$/, '')}/api/network/bootstrap`, {
    signal: options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]),
  });
  if (!response.ok) throw new Error(`GET /api/network/bootstrap answered ${response.status}`);
  const parsed = v.safeParse(bootstrapSchema, await response.json());
  if (!parsed.success) throw new Error('GET /api/network/bootstrap gave an answer of another shape');
  return parsed.output;
}

/** The libp2p address of the relay at `relayUrl` (its HTTP port, `/ws` or `/tls/ws`), ending in `/p2p/<peerId>`. */
export function multiaddrOfUrl(relayUrl: string, peerId: string): Multiaddr {
  const url = new URL(relayUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const family = isIP(host);
  const protocol = family === 4 ? 'ip4' : family === 6 ? 'ip6' : 'dns';
  const secure = url.protocol === 'https:';
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  return multiaddr(`/${protocol}/${host}/tcp/${port}/${secure ? 'tls/ws' : 'ws'}/p2p/${peerId}`);
}

/** The relay's addresses to dial, best first, without duplicates; only those that end in its own `/p2p/`. */
export function relayMultiaddrs(relayUrl: string, bootstrap: RelayBootstrap): Multiaddr[] {
  const seen = new Set<string>();
  const out: Multiaddr[] = [];
  const candidates = [multiaddrOfUrl(relayUrl, bootstrap.peerId).toString(), ...bootstrap.multiaddrs];
  for (const text of candidates) {
    let address: Multiaddr;
    try {
      address = multiaddr(text);
    } catch {
      continue;
    }
    const last = address.getComponents().at(-1);
    if (last?.code !== CODE_P2P || last.value !== bootstrap.peerId || seen.has(address.toString())) continue;
    seen.add(address.toString());
    out.push(address);
  }
  return out;
}
