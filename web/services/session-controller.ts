/**
 * Binds an element to one of the app's sessions (the Run screen's, the Chat
 * screen's) given through a @lit/context: the element re-renders on every
 * change of the session's state, and stops following it while disconnected.
 * The state itself stays in the session, so a screen removed by the app's
 * routing and made again shows the same state.
 */
import { ContextConsumer, type Context } from '@lit/context';
import type { ReactiveController, ReactiveControllerHost } from 'lit';

/** What a session offers its screen: its current state, and a way to hear of changes. */
export interface FollowedSession<S> {
  readonly state: S;
  subscribe(listener: () => void): () => void;
}

export class SessionController<T extends FollowedSession<T['state']>> implements ReactiveController {
  readonly #host: ReactiveControllerHost & HTMLElement;
  #session: T | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(host: ReactiveControllerHost & HTMLElement, context: Context<unknown, T | undefined>) {
    this.#host = host;
    host.addController(this);
    new ContextConsumer(host, {
      context,
      subscribe: true,
      callback: (session) => {
        this.#follow(session);
      },
    });
  }

  /** The session, undefined until the services have loaded. */
  get session(): T | undefined {
    return this.#session;
  }

  /** The session's current state, undefined until the services have loaded. */
  get state(): T['state'] | undefined {
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

  #follow(session: T | undefined): void {
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
