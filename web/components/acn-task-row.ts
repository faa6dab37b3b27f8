/**
 * One line of the task history: the model, when, its state (relay task or
 * outbox entry) and, once checked, whether its result was verified. The whole
 * row links to the task's screen.
 */
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { HistoryRow } from '../services/task-history.ts';
import { sharedStyles } from '../styles/shared-styles.ts';

const TONE: Readonly<Record<string, string>> = {
  settled: 'ok',
  verified: 'ok',
  completed: 'ok',
  delivered: 'ok',
  failed: 'error',
  refunded: 'error',
  cancelled: 'error',
  queued: 'warn',
};

@customElement('acn-task-row')
export class AcnTaskRow extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      a {
        display: flex;
        align-items: center;
        gap: 12px;
        min-height: 56px;
        padding: 8px 4px;
        color: inherit;
        text-decoration: none;
        border-bottom: 1px solid var(--acn-border);
      }
      .main {
        flex: 1;
        min-width: 0;
      }
      .model {
        font-weight: 600;
        white-space: nowrap;
        overflow: hidden;
        text-overflow: ellipsis;
      }
      .when {
        font-size: 0.875rem;
        color: var(--acn-muted);
      }
      .states {
        display: flex;
        flex-direction: column;
        align-items: flex-end;
        gap: 4px;
      }
    `,
  ];

  @property({ attribute: false }) row: HistoryRow | undefined;

  override render(): TemplateResult | typeof nothing {
    const row = this.row;
    if (!row) return nothing;
    return html`<a
      href="/tasks/${row.id}"
      data-testid="task-row"
      data-task-id=${row.id}
      data-source=${row.source}
      data-status=${row.state}
      data-verified=${row.verified ?? 'unknown'}
    >
      <span class="main">
        <span class="model">${row.modelName}</span><br />
        <span class="when">${new Date(row.submittedAt).toLocaleString('en')}</span>
      </span>
      <span class="states">
        <span class="badge ${TONE[row.state] ?? ''}" data-testid="task-status">${row.stateText}</span>
        ${
          row.verified === 'verified'
            ? html`<span class="badge ok" data-testid="task-verified">Verified</span>`
            : row.verified === 'failed'
              ? html`<span class="badge error" data-testid="task-verified">Check failed</span>`
              : nothing
        }
      </span>
    </a>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-task-row': AcnTaskRow;
  }
}
