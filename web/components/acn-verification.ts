/**
 * A result's verification report: "Verified" only when every check passed;
 * otherwise which check failed and why. Every check is listed either way,
 * so a failure is never hidden behind a summary.
 */
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { VerificationCheck, VerificationReport } from '#client/sdk/verify-result.ts';
import { sharedStyles } from '../styles/shared-styles.ts';

/** Each check in words. */
export const CHECK_TEXT: Readonly<Record<VerificationCheck['name'], string>> = {
  'task-signature': 'Your signature on the task',
  'receipt-signature': "The worker's signature on the receipt",
  'receipt-names-task': 'The receipt is for this task',
  'output-hash': 'The result is the one the receipt signed',
  'header-signature': 'The block is signed by your relay',
  'header-chain': 'The block links to the blocks this phone has seen',
  'settlement-included': 'The payment is recorded in the block',
  'settlement-matches': 'The payment settles this task with this receipt',
};

@customElement('acn-verification')
export class AcnVerification extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      .summary {
        font-size: 1.125rem;
        font-weight: 700;
      }
      li {
        display: grid;
        grid-template-columns: 28px 1fr;
        gap: 4px 8px;
        padding: 8px 0;
        border-bottom: 1px solid var(--acn-border);
      }
      .mark {
        font-weight: 700;
        text-align: center;
      }
      .ok .mark {
        color: var(--acn-ok);
      }
      .bad .mark {
        color: var(--acn-danger);
      }
      .detail {
        grid-column: 2;
        font-size: 0.875rem;
        color: var(--acn-muted);
        overflow-wrap: anywhere;
      }
      .bad .detail {
        color: var(--acn-danger);
      }
    `,
  ];

  @property({ attribute: false }) report: VerificationReport | undefined;

  override render(): TemplateResult | typeof nothing {
    const report = this.report;
    if (!report) return nothing;
    const failed = report.checks.filter((c) => !c.ok);
    // "Verified" needs the report's own verdict and every listed check passed.
    const verified = report.verified && failed.length === 0 && report.checks.length > 0;
    return html`<div data-testid="verification" data-verified=${verified ? 'true' : 'false'}>
      ${
        verified
          ? html`<div class="notice ok summary" role="status" data-testid="verification-summary">✓ Verified</div>`
          : html`<div class="notice error" role="alert" data-testid="verification-summary">
              <span class="summary">✗ Not verified</span><br />
              ${
                failed.length > 0
                  ? html`Failed: ${failed.map((c) => CHECK_TEXT[c.name]).join('; ')}. Do not trust this result.`
                  : 'The report did not confirm this result. Do not trust it.'
              }
            </div>`
      }
      <ul class="plain">
        ${report.checks.map(
          (c) =>
            html`<li
              class=${c.ok ? 'ok' : 'bad'}
              data-testid="verification-check"
              data-check=${c.name}
              data-ok=${c.ok ? 'true' : 'false'}
            >
              <span class="mark" aria-hidden="true">${c.ok ? '✓' : '✗'}</span>
              <span>${CHECK_TEXT[c.name]} <span class="visually-hidden">${c.ok ? 'passed' : 'failed'}</span></span>
              <span class="detail">${c.detail}</span>
            </li>`,
        )}
      </ul>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-verification': AcnVerification;
  }
}
