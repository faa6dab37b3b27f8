/**
 * What the app shell hands down to its pages through `@lit/context`: the
 * services (client, database, account, relay), loaded lazily after the first
 * render, and the app's status (phase, connection, balance, outbox), a new
 * snapshot on every change so consumers re-render.
 *
 * On the critical path: type-only imports, so none of the services' code is
 * pulled into the first bundle.
 */
import { createContext } from '@lit/context';
import type { AppServices } from './app-services.ts';

export type { AppServices };

/** Whether the relay can be reached. `unreachable`: the device is online but the relay does not answer. */
export type ConnectionState = 'checking' | 'online' | 'offline' | 'unreachable';

/**
 * Where the app is: loading its services, waiting for a new account to be
 * onboarded, ready, or stopped by a failure it cannot get past by itself
 * (no storage, the relay's key changed).
 */
export type AppPhase = 'starting' | 'onboarding' | 'ready' | 'failed';

/** A failure told to the user: what happened and what to do about it. */
export interface AppFailure {
  readonly title: string;
  readonly message: string;
  readonly code: string | undefined;
}

export interface AppStatus {
  readonly phase: AppPhase;
  readonly connection: ConnectionState;
  /** The account id, once the key is loaded. */
  readonly account: string | undefined;
  /** The last balance read from the relay (undefined until read). */
  readonly balance: number | undefined;
  /** Tasks waiting in the outbox to be sent. */
  readonly outboxQueued: number;
  readonly failure: AppFailure | undefined;
}

/** The status before any service has loaded. */
export function initialStatus(online: boolean): AppStatus {
  return {
    phase: 'starting',
    connection: online ? 'checking' : 'offline',
    account: undefined,
    balance: undefined,
    outboxQueued: 0,
    failure: undefined,
  };
}

/** The services, undefined until the services module has loaded. */
export const servicesContext = createContext<AppServices | undefined>(Symbol('acn-services'));

/** The app's status; a new object on every change. */
export const statusContext = createContext<AppStatus>(Symbol('acn-status'));
