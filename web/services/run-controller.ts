/** Binds the Run screen to the app's {@link RunSession} (from `runContext`); see ./session-controller.ts. */
import type { ReactiveControllerHost } from 'lit';
import { runContext, type RunSession } from './app-context.ts';
import { SessionController } from './session-controller.ts';

export class RunController extends SessionController<RunSession> {
  constructor(host: ReactiveControllerHost & HTMLElement) {
    super(host, runContext);
  }
}
