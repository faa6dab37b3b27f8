/** Binds the Chat screen to the app's {@link ChatSession} (from `chatContext`); see ./session-controller.ts. */
import type { ReactiveControllerHost } from 'lit';
import { chatContext, type ChatSession } from './app-context.ts';
import { SessionController } from './session-controller.ts';

export class ChatController extends SessionController<ChatSession> {
  constructor(host: ReactiveControllerHost & HTMLElement) {
    super(host, chatContext);
  }
}
