/**
 * The app's settings in the database (onboarded, the last catalogue, the
 * contribution's resources), readable by every context of the origin.
 */
import type { AcnDb } from '#browser-storage/db.ts';

export interface SettingsStore {
  /** Reads a setting (undefined when unset). */
  read(name: string): Promise<unknown>;
  /**
   * Stores a setting and, unless `announce` is false, tells the other
   * contexts of this origin (workers read their settings live). Default
   * `announce: true`; the app's own bookkeeping (onboarded, the last
   * catalogue) is written unannounced.
   */
  write(name: string, value: unknown, options?: { readonly announce?: boolean }): Promise<void>;
}

/** The settings kept in `db`'s `settings` store. */
export function createSettingsStore(db: AcnDb): SettingsStore {
  return {
    read: (name) => db.get('settings', name),
    async write(name, value, options = {}) {
      await db.put('settings', value, name);
      if (options.announce !== false && typeof BroadcastChannel !== 'undefined') {
        const channel = new BroadcastChannel('acn-settings');
        channel.postMessage({ name });
        channel.close();
      }
    },
  };
}
