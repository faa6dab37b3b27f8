/**
 * The relay's pinned key. A relay's join URL carries its account id in the
 * fragment (`https://relay.example/#relay=12D3KooW…`, see relay/run.ts
 * `joinUrl`); the app pins it for the relay's origin and refuses a relay at
 * that origin that later presents another key. Without a join URL the first
 * key seen is pinned (trust on first use).
 */
import { parseAccountId, type AccountId } from '#core/identity/ids.ts';
import type { AcnDb } from '#browser-storage/db.ts';
import { InvalidJoinUrlError, RelayKeyChangedError } from './errors.ts';

export type { RelayPin } from '#browser-storage/db.ts';
import type { RelayPin } from '#browser-storage/db.ts';

export interface PinOptions {
  readonly signal?: AbortSignal;
}

/**
 * Pins the relay named in a join URL's `#relay=<accountId>` fragment for the
 * URL's origin and returns the pin; undefined when the URL has no `relay`
 * fragment (the app was opened some other way). A different key already
 * pinned for that origin is kept and {@link RelayKeyChangedError} thrown,
 * unless `replace` is true (the user confirmed the relay's new key).
 */
export async function pinRelayFromJoinUrl(
  db: AcnDb,
  url: string | URL,
  options: PinOptions & { readonly replace?: boolean } = {},
): Promise<RelayPin | undefined> {
  options.signal?.throwIfAborted();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidJoinUrlError('not a URL');
  }
  const fragment = new URLSearchParams(parsed.hash.replace(/^#/, '')).get('relay');
  if (fragment === null) return undefined;
  const account = parseAccountId(fragment);
  if (!account.ok) throw new InvalidJoinUrlError(`the join URL's relay key is not an account id: ${fragment}`);
  const pin: RelayPin = { origin: parsed.origin, account: account.value, source: 'join-url', pinnedAt: Date.now() };
  const tx = db.transaction('relay', 'readwrite');
  const existing = await tx.store.get(pin.origin);
  if (existing?.account === pin.account) {
    await tx.done;
    return existing;
  }
  if (existing && options.replace !== true) {
    tx.abort();
    await tx.done.catch(() => undefined);
    throw new RelayKeyChangedError(pin.origin, existing.account, pin.account);
  }
  await tx.store.put(pin);
  await tx.done;
  return pin;
}

/**
 * Checks the key a relay presents against the pin for its origin (default:
 * this app's own origin) and returns the pin. With no pin yet, pins the
 * presented key (trust on first use). Throws {@link RelayKeyChangedError}
 * when the relay presents another key than the pinned one.
 */
export async function checkRelayKey(
  db: AcnDb,
  presented: AccountId,
  options: PinOptions & { readonly origin?: string } = {},
): Promise<RelayPin> {
  options.signal?.throwIfAborted();
  const origin = options.origin ?? globalThis.location.origin;
  const tx = db.transaction('relay', 'readwrite');
  const existing = await tx.store.get(origin);
  if (existing) {
    await tx.done;
    if (existing.account !== presented) throw new RelayKeyChangedError(origin, existing.account, presented);
    return existing;
  }
  const pin: RelayPin = { origin, account: presented, source: 'first-use', pinnedAt: Date.now() };
  await tx.store.put(pin);
  await tx.done;
  return pin;
}

/** The pin for `origin` (default: this app's own origin), if any. */
export async function getRelayPin(db: AcnDb, options: PinOptions & { readonly origin?: string } = {}) {
  options.signal?.throwIfAborted();
  return db.get('relay', options.origin ?? globalThis.location.origin);
}
