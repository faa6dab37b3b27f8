/**
 * Tells, before the services load, whether this browser already has an
 * onboarded account: a first open then shows the onboarding screen at once,
 * and a returning device its screen, instead of a skeleton that later jumps.
 * On the critical path, so it uses the bare IndexedDB API (no idb), and it
 * never creates or upgrades the database (the storage layer owns that).
 */

/** What the probe found: an onboarded account (`known`), none (`new`), or the browser cannot tell. */
export type DeviceKind = 'new' | 'known' | 'unknown';

/** The app's database name (shared/browser-storage/db.ts `ACN_DB_NAME`; importing it would pull idb into the first bundle). */
export const APP_DB_NAME = 'acn';
/** The settings store and the key prefix of the "account onboarded" flags (web/services/app-services.ts). */
const SETTINGS_STORE = 'settings';
export const ONBOARDED_PREFIX = 'onboarded:';

function settle<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => {
      resolve(request.result);
    };
    request.onerror = () => {
      reject(request.error ?? new Error('IndexedDB request failed'));
    };
  });
}

/** Looks for an onboarded account in the app's database; never throws. */
export async function probeDevice(dbName: string = APP_DB_NAME): Promise<DeviceKind> {
  if (typeof indexedDB === 'undefined') return 'unknown';
  let db: IDBDatabase;
  try {
    const request = indexedDB.open(dbName);
    // An upgrade here means the database does not exist: leave creating it to the storage layer.
    request.onupgradeneeded = () => {
      request.transaction?.abort();
    };
    db = await settle(request);
  } catch (error) {
    return error instanceof DOMException && error.name === 'AbortError' ? 'new' : 'unknown';
  }
  try {
    // Another context upgrading the schema must not wait for this connection.
    db.onversionchange = () => {
      db.close();
    };
    if (!db.objectStoreNames.contains(SETTINGS_STORE)) return 'unknown';
    const range = IDBKeyRange.bound(ONBOARDED_PREFIX, `${ONBOARDED_PREFIX}\uffff`);
    const keys = await settle(db.transaction(SETTINGS_STORE).objectStore(SETTINGS_STORE).getAllKeys(range, 1));
    return keys.length > 0 ? 'known' : 'new';
  } catch {
    return 'unknown';
  } finally {
    db.close();
  }
}
