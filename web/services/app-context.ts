/**
 * What the app shell hands down to its elements through `@lit/context`: one
 * context per focused service (account, relay connection, tasks, models,
 * contribution, the Run and Chat screens' sessions), each undefined until the services
 * module has loaded after the first render, and the app's status (phase,
 * connection, balance, outbox), a new snapshot on every change so consumers
 * re-render.
 *
 * On the critical path, and imported by every page: type-only imports, so
 * none of the services' code (the SDK, storage, libp2p, onnxruntime, noble)
 * is pulled into the first bundle or into a page's chunk. That is also why
 * the contexts live here together rather than in each service's module.
 */
import { createContext } from '@lit/context';
import type { AccountService } from './account-service.ts';
import type { AppServices } from './app-services.ts';
import type { ChatSession } from './chat-session.ts';
import type { ConnectionService } from './connection-service.ts';
import type { ContributionService } from './contribution-service.ts';
import type { ModelService } from './model-service.ts';
import type { RunSession } from './run-session.ts';
import type { TaskService } from './task-service.ts';

export type {
  AccountService,
  AppServices,
  ChatSession,
  ConnectionService,
  ContributionService,
  ModelService,
  RunSession,
  TaskService,
};

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

/** The account: key, balance, onboarding, transfers, backup. */
export const accountContext = createContext<AccountService | undefined>(Symbol('acn-account'));

/** The relay connection: SDK client, pinned relay key, reachability, live events. */
export const connectionContext = createContext<ConnectionService | undefined>(Symbol('acn-connection'));

/** The account's tasks: submit, outbox, history, results, verification. */
export const tasksContext = createContext<TaskService | undefined>(Symbol('acn-tasks'));

/** The model catalogue and running a model on this device. */
export const modelsContext = createContext<ModelService | undefined>(Symbol('acn-models'));

/** This tab as a worker for the network: the switch, and the resources it may use. */
export const contributionContext = createContext<ContributionService | undefined>(Symbol('acn-contribution'));

/** The Run screen's state (model, input, run, result), kept while the user is on other screens. */
export const runContext = createContext<RunSession | undefined>(Symbol('acn-run'));

/** The Chat screen's state (model, conversations, the answer being made), kept while the user is on other screens. */
export const chatContext = createContext<ChatSession | undefined>(Symbol('acn-chat'));

/** The app's status; a new object on every change. */
export const statusContext = createContext<AppStatus>(Symbol('acn-status'));
