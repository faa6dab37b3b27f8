/**
 * Binds an element to the app's {@link RunSession} (from `runContext`): the
 * element re-renders on every change of the session's state, and stops
 * following it while disconnected. The state itself stays in the session, so
 * a Run screen removed by the app's routing and made again shows the same
 * model, input and result.
 */
import { ContextConsumer } from '@lit/context';
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { runContext, type RunSession } from './app-context.ts';
import type { RunSnapshot } from './run-session.ts';

export class RunController implements ReactiveController {
  readonly #host: ReactiveControllerHost & HTMLElement;
  #session: RunSession | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(host: ReactiveControllerHost & HTMLElement) {
    this.#host = host;
    host.addController(this);
    new ContextConsumer(host, {
      context: runContext,
      subscribe: true,
      callback: (session) => {
        this.#follow(session);
      },
    });
  }

  /** The session, undefined until the services have loaded. */
  get session(): RunSession | undefined {
    return this.#session;
  }

  /** The session's current state, undefined until the services have loaded. */
  get state(): RunSnapshot | undefined {
    return this.#session?.state;
  }

  hostConnected(): void {
    // The context answers again on reconnection; this follows the session it had until then.
    if (this.#session && !this.#unsubscribe) this.#follow(this.#session);
  }

  hostDisconnected(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  #follow(session: RunSession | undefined): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#session = session;
    if (session) {
      this.#unsubscribe = session.subscribe(() => {
        this.#host.requestUpdate();
      });
    }
    this.#host.requestUpdate();
  }
}
