/**
 * First open: the account key exists (created on this device when the app
 * started). "Create my account" has the device solve the relay's
 * proof-of-work in a Web Worker, with progress and Cancel, and receive the
 * welcome grant. It waits for that tap: the work costs battery, the grant is
 * the network's to give once per person, and someone who already has an
 * account restores it from a backup instead and needs neither.
 */
import { consume } from '@lit/context';
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import type { PowProgress } from '#core/pow/pow.ts';
import '../components/acn-backup-restore.ts';
import '../components/acn-progress.ts';
import { accountContext, statusContext, type AccountService, type AppStatus } from '../services/app-context.ts';
import { errorText, type ErrorText } from '../services/error-text.ts';
import { sharedStyles } from '../styles/shared-styles.ts';
import { formatCount } from '../services/format-count.ts';

/** Shortest time between two progress repaints. */
const PROGRESS_INTERVAL_MS = 150;

type Step = 'idle' | 'solving' | 'claiming' | 'done' | 'failed' | 'restore';

@customElement('page-onboarding')
export class PageOnboarding extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      .lead {
        font-size: 1.0625rem;
      }
      ol {
        padding-left: 1.25em;
      }
      li {
        margin: 0 0 6px;
      }
      /* Room for a progress bar and a button, whichever step shows: nothing below moves. */
      .action {
        min-height: 150px;
      }
    `,
  ];

  @consume({ context: accountContext, subscribe: true })
  @state()
  account: AccountService | undefined;

  @consume({ context: statusContext, subscribe: true })
  @state()
  status!: AppStatus;

  @state() private step: Step = 'idle';
  @state() private progress: PowProgress | undefined;
  @state() private failure: ErrorText | undefined;

  private controller: AbortController | undefined;
  private progressShownAt = 0;

  override disconnectedCallback(): void {
    this.controller?.abort();
    super.disconnectedCallback();
  }

  private async start(): Promise<void> {
    const account = this.account;
    if (!account) return;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.failure = undefined;
    this.progress = undefined;
    this.step = 'solving';
    try {
      await account.onboard({
        signal: controller.signal,
        onProgress: (progress) => {
          // Workers report after every batch; a few repaints a second are enough for a progress bar.
          const now = performance.now();
          if (now - this.progressShownAt < PROGRESS_INTERVAL_MS) return;
          this.progressShownAt = now;
          this.progress = progress;
        },
      });
      this.step = 'done';
    } catch (error) {
      if (controller.signal.aborted) return;
      this.failure = errorText(error);
      this.step = 'failed';
    }
  }

  private cancel(): void {
    this.controller?.abort();
    this.step = 'idle';
    this.failure = undefined;
  }

  override render(): TemplateResult {
    return html`<h1>Welcome to AI Compute Network</h1>
      <p class="lead">
        Run AI tasks on a network run by its members. Every task and payment is signed by you and checked on this phone.
      </p>
      ${this.step === 'restore' ? this.renderRestore() : this.renderJoin()}`;
  }

  private renderJoin(): TemplateResult {
    const { step, progress } = this;
    return html`<section class="card" aria-labelledby="join-heading" data-testid="onboarding" data-step=${step}>
        <h2 id="join-heading">Create your account</h2>
        <ol>
          <li>
            Your account is a key kept on this device:<br />
            <span class="mono">${this.status.account ? `${this.status.account.slice(0, 16)}…` : '…'}</span>
          </li>
          <li>
            Your phone does a short computation (a proof of work, a few seconds) so the network knows you are not a bot.
          </li>
          <li>You receive free tokens to run your first tasks.</li>
        </ol>
        <div class="action">
          ${
            step === 'solving'
              ? html`<acn-progress
                    data-testid="onboarding-progress"
                    label="Proving you are not a bot"
                    .value=${progress?.fraction ?? 0}
                    .detail=${progress ? `${formatCount(progress.attempts)} tries` : 'Starting…'}
                  ></acn-progress>
                  <button
                    class="secondary"
                    data-testid="onboarding-cancel"
                    @click=${() => {
                      this.cancel();
                    }}
                  >
                    Cancel
                  </button>`
              : nothing
          }
          ${
            step === 'done'
              ? html`<div class="notice ok" role="status" data-testid="onboarding-done">Your account is ready.</div>`
              : nothing
          }
          ${
            step === 'failed' && this.failure
              ? html`<div
                    class="notice error"
                    role="alert"
                    data-testid="onboarding-error"
                    data-code=${this.failure.code ?? ''}
                  >
                    ${this.failure.message}
                  </div>
                  <button data-testid="onboarding-retry" @click=${() => void this.start()}>Try again</button>`
              : nothing
          }
          ${
            step === 'idle' && !this.account
              ? html`<acn-progress data-testid="onboarding-preparing" label="Getting ready"></acn-progress>`
              : nothing
          }
          ${
            step === 'idle' && this.account
              ? html`<button data-testid="onboarding-start" @click=${() => void this.start()}>
                  Create my account
                </button>`
              : nothing
          }
        </div>
      </section>
      <section class="card" aria-labelledby="restore-heading">
        <h2 id="restore-heading">Already have an account?</h2>
        <p>Restore it from the backup file you saved on another device.</p>
        <button
          class="secondary"
          data-testid="onboarding-restore"
          @click=${() => {
            this.controller?.abort();
            this.step = 'restore';
          }}
        >
          Restore from a backup
        </button>
      </section>`;
  }

  private renderRestore(): TemplateResult {
    return html`<section class="card" aria-labelledby="restore-heading">
        <h2 id="restore-heading">Restore your account</h2>
        <acn-backup-restore mode="restore"></acn-backup-restore>
      </section>
      <button class="secondary" @click=${() => (this.step = 'idle')}>Back</button>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'page-onboarding': PageOnboarding;
  }
}
