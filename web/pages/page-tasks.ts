/**
 * Tasks: the history (the relay's tasks for this account and the outbox's
 * entries), and one task's screen (`/tasks/<id>`): its state, its result
 * decoded for people and its verification as a light client.
 */
import { consume } from '@lit/context';
import { Task } from '@lit/task';
import { css, html, LitElement, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { parseTaskId, type TaskId } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { TaskView } from '#core/api/responses.ts';
import '../components/acn-task-output.ts';
import '../components/acn-task-row.ts';
import '../components/acn-verification.ts';
import type { OutboxEntry } from '#browser-storage/outbox/outbox-store.ts';
import {
  modelsContext,
  statusContext,
  tasksContext,
  type AppStatus,
  type ModelService,
  type TaskService,
} from '../services/app-context.ts';
import { errorText } from '../services/error-text.ts';
import { outputViewOf, type OutputView } from '../services/output-view.ts';
import { STATE_TEXT } from '../services/task-history.ts';
import { sharedStyles } from '../styles/shared-styles.ts';

/** States in which the relay holds (or held) a result. */
const WITH_RESULT = new Set(['completed', 'verified', 'settled']);
const tokens = (n: number): string => `${n} token${n === 1 ? '' : 's'}`;

/** States no task leaves. */
const FINAL = new Set(['settled', 'refunded', 'failed', 'cancelled']);

interface TaskDetail {
  readonly id: TaskId;
  readonly view: TaskView | undefined;
  readonly outbox: OutboxEntry | undefined;
  readonly entry: ModelEntry | undefined;
  /** The result decoded, when the relay still has it. */
  readonly output: OutputView | undefined;
  /** Why there is no result to show. */
  readonly noResult: string | undefined;
}

@customElement('page-tasks')
export class PageTasks extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      dl {
        display: grid;
        grid-template-columns: max-content minmax(0, 1fr);
        gap: 6px 12px;
        margin: 0;
      }
      dt {
        color: var(--acn-muted);
      }
      dd {
        margin: 0;
        overflow-wrap: anywhere;
      }
    `,
  ];

  /** The task shown, or undefined for the list. */
  @property({ attribute: false }) taskId: string | undefined;

  @consume({ context: tasksContext, subscribe: true })
  @state()
  tasks: TaskService | undefined;

  @consume({ context: modelsContext, subscribe: true })
  @state()
  models: ModelService | undefined;

  @consume({ context: statusContext, subscribe: true })
  @state()
  status!: AppStatus;

  @state() private permission: NotificationPermission | 'unsupported' =
    typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
  @state() private sendError: string | undefined;
  /** Bumped on live events, so the tasks reload. */
  @state() private revision = 0;

  private offEvents: (() => void) | undefined;

  private readonly list = new Task(this, {
    task: async ([tasks, taskId], { signal }) => {
      if (!tasks || taskId !== undefined) return undefined;
      return tasks.history({ signal });
    },
    args: () => [this.tasks, this.taskId, this.status.outboxQueued, this.status.connection, this.revision] as const,
  });

  private readonly detail = new Task(this, {
    task: async ([tasks, models, taskId], { signal }): Promise<TaskDetail | undefined> => {
      if (!tasks || !models || taskId === undefined) return undefined;
      const parsed = parseTaskId(taskId);
      if (!parsed.ok) throw parsed.error;
      return this.loadDetail(tasks, models, parsed.value, signal);
    },
    args: () => [this.tasks, this.models, this.taskId, this.status.outboxQueued, this.revision] as const,
  });

  private readonly verification = new Task(this, {
    task: async ([tasks, id, state], { signal }) => {
      if (!tasks || id === undefined || state === undefined || !WITH_RESULT.has(state)) return undefined;
      return tasks.verify(id, { signal });
    },
    // Checked again only when the task's state changes (completed, then settled), not on every reload.
    args: () => [this.tasks, this.detail.value?.id, this.detail.value?.view?.state] as const,
  });

  protected override updated(changed: PropertyValues): void {
    if (changed.has('tasks') && this.tasks && !this.offEvents) {
      // A task of this account finished, or was taken: the list and the task screen read it again.
      const offDone = this.tasks.onEvent('task_completed', () => {
        this.revision++;
      });
      const offSubmitted = this.tasks.onEvent('task_submitted', () => {
        this.revision++;
      });
      this.offEvents = () => {
        offDone();
        offSubmitted();
      };
    }
  }

  override disconnectedCallback(): void {
    this.offEvents?.();
    this.offEvents = undefined;
    super.disconnectedCallback();
  }

  private async loadDetail(
    tasks: TaskService,
    models: ModelService,
    id: TaskId,
    signal: AbortSignal,
  ): Promise<TaskDetail> {
    const outbox = await tasks.outboxEntry(id);
    let view: TaskView | undefined;
    try {
      view = await tasks.task(id, { signal });
    } catch (error) {
      // Not on the relay yet (queued, or refused): the outbox entry tells its story.
      if (!outbox) throw error;
    }
    const entry = await models.modelEntry(view?.model ?? outbox?.model ?? '', { signal });
    let output: OutputView | undefined;
    let noResult: string | undefined;
    if (view && WITH_RESULT.has(view.state)) {
      try {
        const result = await tasks.result(id, { signal });
        if (result && entry) output = outputViewOf(entry, result.output);
        else if (result)
          noResult = 'The model of this task is no longer in the catalogue, so its result cannot be shown.';
      } catch (error) {
        noResult = errorText(error).message;
        if ((error as { status?: unknown }).status === 410) {
          noResult = 'The relay no longer keeps this result (it keeps results for a while after payment).';
        }
      }
    }
    return { id, view, outbox, entry, output, noResult };
  }

  private async enableNotifications(): Promise<void> {
    this.permission = await Notification.requestPermission();
  }

  private async sendNow(): Promise<void> {
    this.sendError = undefined;
    try {
      await this.tasks?.deliverOutbox();
    } catch (error) {
      this.sendError = errorText(error).message;
    }
    this.revision++;
  }

  override render(): TemplateResult {
    return this.taskId === undefined ? this.renderList() : this.renderDetail();
  }

  private renderNotifyButton(): TemplateResult | typeof nothing {
    if (this.permission !== 'default') return nothing;
    return html`<button class="secondary" data-testid="notify-enable" @click=${() => void this.enableNotifications()}>
      Notify me when results are ready
    </button>`;
  }

  private renderList(): TemplateResult {
    const queued = this.status.outboxQueued;
    return html`<h1>Tasks</h1>
      <section class="card" aria-labelledby="outbox-heading">
        <div class="spread">
          <h2 id="outbox-heading">Waiting to be sent</h2>
          <span class="badge ${queued > 0 ? 'warn' : ''}" data-testid="outbox-queued" data-count=${queued}
            >${queued} queued</span
          >
        </div>
        ${
          queued > 0
            ? html`<p>Queued tasks are sent as soon as the relay can be reached.</p>
                <button
                  data-testid="outbox-send"
                  ?disabled=${this.status.connection === 'offline'}
                  @click=${() => void this.sendNow()}
                >
                  Send now
                </button>`
            : html`<p class="muted">Nothing is waiting: every task has reached the relay.</p>`
        }
        ${this.sendError ? html`<div class="notice error" role="alert">${this.sendError}</div>` : nothing}
      </section>
      <section class="card" aria-labelledby="history-heading">
        <h2 id="history-heading">History</h2>
        ${this.permission === 'default' ? html`<p>${this.renderNotifyButton()}</p>` : nothing}
        ${this.list.render({
          initial: () => html`<p class="muted">Loading…</p>`,
          pending: () => (this.list.value ? this.renderRows() : html`<p class="muted">Loading…</p>`),
          complete: () => this.renderRows(),
          error: (error) => html`<div class="notice error" role="alert">${errorText(error).message}</div>`,
        })}
      </section>`;
  }

  private renderRows(): TemplateResult {
    const history = this.list.value;
    if (!history) return html`<p class="muted">Loading…</p>`;
    return html`${
      history.relayError
        ? html`<div class="notice warn" role="status">Showing this device's queue only. ${history.relayError}</div>`
        : nothing
    }
    ${
      history.rows.length === 0
        ? html`<div class="empty" data-testid="tasks-empty">
            <p>No tasks yet. Your tasks and their results appear here.</p>
            <a class="button" href="/run">Run a task</a>
          </div>`
        : html`<ul class="plain" data-testid="task-list">
            ${history.rows.map((row) => html`<li><acn-task-row .row=${row}></acn-task-row></li>`)}
          </ul>`
    }`;
  }

  private renderDetail(): TemplateResult {
    return html`<p><a href="/tasks">← All tasks</a></p>
      <h1>Task</h1>
      ${this.detail.render({
        initial: () => html`<p class="muted">Loading…</p>`,
        pending: () => (this.detail.value ? this.renderTask(this.detail.value) : html`<p class="muted">Loading…</p>`),
        complete: (detail) => (detail ? this.renderTask(detail) : html`<p class="muted">Loading…</p>`),
        error: (error) =>
          html`<div class="notice error" role="alert" data-testid="task-error">${errorText(error).message}</div>
            <button @click=${() => void this.detail.run()}>Try again</button>`,
      })}`;
  }

  private renderTask(detail: TaskDetail): TemplateResult {
    const { view, outbox, entry } = detail;
    const state = view?.state ?? outbox?.state ?? 'pending';
    return html`<section
        class="card"
        aria-labelledby="task-heading"
        data-testid="task-detail"
        data-task-id=${detail.id}
        data-status=${state}
      >
        <h2 id="task-heading">${entry?.name ?? 'Unknown model'}</h2>
        <dl>
          <dt>State</dt>
          <dd><span class="badge" data-testid="task-status">${STATE_TEXT[state]}</span></dd>
          ${
            view
              ? html`<dt>Price</dt>
                  <dd>${view.state === 'settled' ? tokens(view.price) : `up to ${tokens(view.maxPrice)}`}</dd>
                  <dt>Sent</dt>
                  <dd>${new Date(view.submittedAt).toLocaleString('en')}</dd>
                  ${
                    view.finishedAt !== undefined
                      ? html`<dt>Finished</dt>
                          <dd>${new Date(view.finishedAt).toLocaleString('en')}</dd>`
                      : nothing
                  }
                  ${
                    view.worker
                      ? html`<dt>Ran on</dt>
                          <dd class="mono">${view.worker}</dd>`
                      : nothing
                  }`
              : nothing
          }
          ${
            outbox && !view
              ? html`<dt>Queued</dt>
                  <dd>${new Date(outbox.createdAt).toLocaleString('en')}</dd>
                  <dt>Price</dt>
                  <dd>up to ${tokens(outbox.maxPrice)}</dd>`
              : nothing
          }
          <dt>Task id</dt>
          <dd class="mono">${detail.id}</dd>
        </dl>
      </section>
      ${this.renderOutboxState(outbox, view)}
      ${
        view?.error
          ? html`<div class="notice error" role="alert">${errorText(view.error).message} (${view.error.message})</div>`
          : nothing
      }
      ${
        view && !FINAL.has(view.state) && !WITH_RESULT.has(view.state)
          ? html`<div class="notice info" role="status">
                The task is ${STATE_TEXT[view.state].toLowerCase()}; this page updates when its result arrives.
              </div>
              ${this.renderNotifyButton()}`
          : nothing
      }
      ${
        detail.output || detail.noResult
          ? html`<section class="card" aria-labelledby="result-heading">
              <h2 id="result-heading">Result</h2>
              ${detail.output ? html`<acn-task-output .view=${detail.output}></acn-task-output>` : html`<p>${detail.noResult}</p>`}
            </section>`
          : nothing
      }
      ${view && WITH_RESULT.has(view.state) ? this.renderVerification() : nothing}`;
  }

  private renderOutboxState(
    outbox: OutboxEntry | undefined,
    view: TaskView | undefined,
  ): TemplateResult | typeof nothing {
    if (!outbox || view) return nothing;
    if (outbox.state === 'queued') {
      return html`<div class="notice info" role="status" data-testid="task-queued">
        Queued, will be sent when online.
      </div>`;
    }
    if (outbox.state === 'failed') {
      return html`<div class="notice error" role="alert" data-testid="task-refused" data-code=${outbox.lastError ?? ''}>
        The relay refused this task:
        ${errorText({ code: outbox.lastError, message: outbox.lastErrorMessage ?? '' }).message}
      </div>`;
    }
    return nothing;
  }

  private renderVerification(): TemplateResult {
    return html`<section class="card" aria-labelledby="verify-heading">
      <h2 id="verify-heading">Verification</h2>
      <p class="muted">
        This phone checks the signatures, the result and the payment's record in the relay's ledger itself.
      </p>
      ${this.verification.render({
        initial: () => html`<p data-testid="verification" data-verified="pending">Checking…</p>`,
        pending: () =>
          html`<p data-testid="verification" data-verified="pending" role="status">
            Checking… waiting for the payment to be recorded in a block.
          </p>`,
        complete: (report) =>
          report
            ? html`<acn-verification .report=${report}></acn-verification>`
            : html`<p data-testid="verification" data-verified="pending">Checking…</p>`,
        error: (error) =>
          html`<div class="notice error" role="alert" data-testid="verification" data-verified="error">
              The result could not be checked: ${errorText(error).message}
            </div>
            <button @click=${() => void this.verification.run()}>Check again</button>`,
      })}
    </section>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'page-tasks': PageTasks;
  }
}
