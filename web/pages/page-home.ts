/**
 * Home: the balance, the connection state, what waits in the outbox and the
 * latest tasks, with empty states that say what to do next (a chat first:
 * what most people come to an AI network for).
 */
import { consume } from '@lit/context';
import { Task } from '@lit/task';
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import '../components/acn-task-row.ts';
import { tasksContext, statusContext, type TaskService, type AppStatus } from '../services/app-context.ts';
import { UNREACHABLE_TEXT } from '../services/error-text.ts';
import { sharedStyles } from '../styles/shared-styles.ts';
import { formatCount } from '../services/format-count.ts';

const RECENT = 5;

@customElement('page-home')
export class PageHome extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      .balance-card {
        min-height: 224px;
      }
      .actions {
        display: grid;
        grid-template-columns: 1fr 1fr;
        gap: 8px;
      }
      /* The first thing a new user is likely to want: a full row. */
      .actions .wide {
        grid-column: 1 / -1;
      }
    `,
  ];

  @consume({ context: tasksContext, subscribe: true })
  @state()
  tasks: TaskService | undefined;

  @consume({ context: statusContext, subscribe: true })
  @state()
  status!: AppStatus;

  private readonly recent = new Task(this, {
    task: async ([tasks], { signal }) => {
      if (!tasks) return undefined;
      return tasks.history({ limit: RECENT, signal });
    },
    args: () => [this.tasks, this.status.connection, this.status.outboxQueued] as const,
  });

  override render(): TemplateResult {
    const { status } = this;
    return html`<h1>Home</h1>
      ${this.renderConnection()}
      <section class="card balance-card" aria-labelledby="balance-heading">
        <h2 id="balance-heading">Balance</h2>
        <p class="big" data-testid="balance" data-value=${status.balance ?? ''}>
          ${status.balance === undefined ? '—' : formatCount(status.balance)}
          <span class="muted" style="font-size:1rem;font-weight:400">tokens</span>
        </p>
        <div class="actions">
          <a class="button wide" href="/chat" data-testid="home-chat">Chat with a language model</a>
          <a class="button secondary" href="/run">Run a task</a>
          <a class="button secondary" href="/wallet">Wallet</a>
        </div>
      </section>
      <section class="card" aria-labelledby="recent-heading">
        <div class="spread">
          <h2 id="recent-heading">Recent tasks</h2>
          <span
            class="badge ${status.outboxQueued > 0 ? 'warn' : ''}"
            data-testid="outbox-queued"
            data-count=${status.outboxQueued}
          >
            ${status.outboxQueued} queued
          </span>
        </div>
        ${this.recent.render({
          initial: () => html`<p class="muted">Loading…</p>`,
          pending: () => html`<p class="muted">Loading…</p>`,
          complete: (history) =>
            history === undefined
              ? html`<p class="muted">Loading…</p>`
              : history.rows.length === 0
                ? html`<div class="empty" data-testid="tasks-empty">
                    <p>No tasks yet.</p>
                    <a class="button" href="/chat">Start a chat</a>
                    <a class="button secondary" href="/run">Run a task</a>
                  </div>`
                : html`${
                      history.relayError === undefined
                        ? nothing
                        : html`<p class="muted">Showing this device's queue only: ${history.relayError}</p>`
                    }
                    <ul class="plain">
                      ${history.rows.map((row) => html`<li><acn-task-row .row=${row}></acn-task-row></li>`)}
                    </ul>
                    <p><a href="/tasks">All tasks</a></p>`,
          error: () =>
            html`<p class="muted">
              Your task history is not available right now${status.connection === 'online' ? '' : ' (offline)'}.
            </p>`,
        })}
      </section>`;
  }

  private renderConnection(): TemplateResult | typeof nothing {
    switch (this.status.connection) {
      case 'offline':
        return html`<div class="notice warn" role="status">
          You are offline. You can still prepare tasks: they are queued and sent when you are back online.
        </div>`;
      case 'unreachable':
        return html`<div class="notice warn" role="status">${UNREACHABLE_TEXT}</div>`;
      default:
        return nothing;
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'page-home': PageHome;
  }
}
