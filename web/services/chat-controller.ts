/**
 * Binds an element to the app's {@link ChatSession} (from `chatContext`):
 * the element re-renders on every change of the session's state, and stops
 * following it while disconnected. The state stays in the session, so the
 * Chat screen, removed by the app's routing and made again, shows the same
 * conversation and the answer still being made.
 */
import { ContextConsumer } from '@lit/context';
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { chatContext, type ChatSession } from './app-context.ts';
import type { ChatSnapshot } from './chat-session.ts';

export class ChatController implements ReactiveController {
  readonly #host: ReactiveControllerHost & HTMLElement;
  #session: ChatSession | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(host: ReactiveControllerHost & HTMLElement) {
    this.#host = host;
    host.addController(this);
    new ContextConsumer(host, {
      context: chatContext,
      subscribe: true,
      callback: (session) => {
        this.#follow(session);
      },
    });
  }

  /** The session, undefined until the services have loaded. */
  get session(): ChatSession | undefined {
    return this.#session;
  }

  /** The session's current state, undefined until the services have loaded. */
  get state(): ChatSnapshot | undefined {
    return this.#session?.state;
  }

  hostConnected(): void {
    if (this.#session && !this.#unsubscribe) this.#follow(this.#session);
  }

  hostDisconnected(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  #follow(session: ChatSession | undefined): void {
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
