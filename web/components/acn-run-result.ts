/**
 * Where a run is, under the Run screen's buttons: the download and run
 * progress, sending and waiting (with Cancel, which fires `acn-run-cancel`),
 * queued for later, the result decoded for people with the way it ran, or
 * the failure.
 */
import { html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { megabytes } from '../services/format-amount.ts';
import type { RunState } from '../services/run-session.ts';
import { sharedStyles } from '../styles/shared-styles.ts';
import './acn-progress.ts';
import './acn-task-output.ts';

@customElement('acn-run-result')
export class AcnRunResult extends LitElement {
  static override styles = [sharedStyles];

  @property({ attribute: false }) run: RunState = { kind: 'idle' };

  private cancelButton(): TemplateResult {
    return html`<button
      class="secondary"
      data-testid="run-cancel"
      @click=${() => {
        this.dispatchEvent(new CustomEvent('acn-run-cancel', { bubbles: true, composed: true }));
      }}
    >
      Cancel
    </button>`;
  }

  override render(): TemplateResult | typeof nothing {
    const run = this.run;
    switch (run.kind) {
      case 'idle':
        return nothing;
      case 'local': {
        const d = run.download;
        return html`<div data-testid="run-result" data-state="running-local" style="margin-top:16px">
          ${
            run.phase === 'loading'
              ? html`<acn-progress
                  label="Downloading the model"
                  .value=${d && d.total > 0 ? d.loaded / d.total : undefined}
                  .detail=${d ? `${megabytes(d.loaded)} of ${megabytes(d.total)}` : 'Checking this device for the model…'}
                ></acn-progress>`
              : html`<acn-progress label="Running on this phone"></acn-progress>`
          }
          ${this.cancelButton()}
        </div>`;
      }
      case 'network':
        return html`<div data-testid="run-result" data-state=${run.phase} style="margin-top:16px">
          <acn-progress
            label=${run.phase === 'sending' ? 'Signing and sending' : 'Waiting for the result'}
          ></acn-progress>
          ${run.taskId ? html`<p class="hint">Task <a href="/tasks/${run.taskId}">${run.taskId.slice(0, 12)}…</a></p>` : nothing}
          ${this.cancelButton()}
        </div>`;
      case 'queued':
        return html`<div
          class="notice info"
          role="status"
          data-testid="run-result"
          data-state="queued"
          style="margin-top:16px"
        >
          Queued, will be sent when online. <a href="/tasks/${run.taskId}">See the task</a>
        </div>`;
      case 'done':
        return html`<div
          data-testid="run-result"
          data-state="done"
          data-where=${run.where}
          data-via=${run.via ?? ''}
          data-remote-addr=${run.remoteAddr ?? ''}
          style="margin-top:16px"
        >
          <p class="row">
            <span class="badge ok">${run.where === 'phone' ? 'Ran on this phone' : 'Ran on the network'}</span>
            ${
              run.via === undefined
                ? nothing
                : html`<span class="badge" data-testid="run-via"
                    >${run.via === 'webrtc' ? 'via WebRTC' : 'via relay'}</span
                  >`
            }
            ${run.backend ? html`<span class="badge" data-testid="run-backend">${run.backend}</span>` : nothing}
            ${run.ms === undefined ? nothing : html`<span class="muted">${Math.round(run.ms)} ms</span>`}
          </p>
          <acn-task-output .view=${run.view}></acn-task-output>
          ${
            run.taskId
              ? html`<p>
                  <a class="button secondary" href="/tasks/${run.taskId}" data-testid="run-verify-link"
                    >Verify this result</a
                  >
                </p>`
              : nothing
          }
        </div>`;
      case 'failed':
        return html`<div
          class="notice error"
          role="alert"
          data-testid="run-result"
          data-state="failed"
          data-code=${run.error.code ?? ''}
          style="margin-top:16px"
        >
          ${run.error.message}
        </div>`;
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-run-result': AcnRunResult;
  }
  interface HTMLElementEventMap {
    /** The user cancels the run in progress. */
    'acn-run-cancel': CustomEvent<undefined>;
  }
}
