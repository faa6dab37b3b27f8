/**
 * The app's status, written by the services (the connection its state, the
 * account its phase and balance, the tasks the outbox count) and read by the
 * shell, which hands each new snapshot down to the screens.
 */
import type { AppStatus } from './app-context.ts';

export interface AppStatusStore {
  /** The current snapshot. */
  readonly status: AppStatus;
  /** Applies a change and reports the new snapshot. Once failed, the phase stays failed. */
  set(change: Partial<AppStatus>): void;
}

export interface AppStatusStoreInit {
  /** The first snapshot. */
  readonly initial: AppStatus;
  /** Called with every new snapshot, the first one included. Default: nothing. */
  readonly onStatus?: (status: AppStatus) => void;
}

/** Makes the store and reports its first snapshot. */
export function createAppStatusStore(init: AppStatusStoreInit): AppStatusStore {
  let status = init.initial;
  const onStatus = init.onStatus ?? (() => undefined);
  onStatus(status);
  return {
    get status() {
      return status;
    },
    set(change) {
      // A failure the app cannot get past is not hidden by a later, ordinary change of phase.
      if (status.phase === 'failed' && change.phase !== undefined && change.phase !== 'failed') return;
      status = { ...status, ...change };
      onStatus(status);
    },
  };
}
