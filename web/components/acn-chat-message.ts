/**
 * One message of a chat: the user's, or the model's answer with what it
 * came to — its text as it streams in, then where it ran, how fast, why it
 * ended when it did not end by itself, what it cost and whether its receipt
 * was verified on this phone — and a Copy button.
 */
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { StoredChatMessage } from '#browser-storage/conversations.ts';
import type { LiveAnswer } from '../services/chat-session.ts';
import { answerFacts } from '../services/chat-view.ts';
import { sharedStyles } from '../styles/shared-styles.ts';

@customElement('acn-chat-message')
export class AcnChatMessage extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      :host {
        display: block;
      }
      .bubble {
        max-width: 88%;
        padding: 10px 14px;
        border-radius: 14px;
        border: 1px solid var(--acn-border);
        background: var(--acn-surface);
      }
      .user {
        margin-left: auto;
        background: var(--acn-primary-soft);
        border-color: #99f6e4;
      }
      .text {
        white-space: pre-wrap;
        overflow-wrap: anywhere;
        margin: 0;
      }
      .note {
        margin: 0;
      }
      .streaming .text::after {
        content: '▍';
        color: var(--acn-primary);
      }
      .facts {
        display: flex;
        flex-wrap: wrap;
        gap: 6px;
        align-items: center;
        margin-top: 8px;
        font-size: 0.8125rem;
      }
      .facts button {
        min-height: 36px;
        padding: 4px 12px;
        font-size: 0.8125rem;
      }
      .typing {
        color: var(--acn-muted);
        letter-spacing: 2px;
      }
    `,
  ];

  @property({ attribute: false }) message: StoredChatMessage | undefined;
  /** Set while this answer is being made. */
  @property({ attribute: false }) live: LiveAnswer | undefined;
  @property({ attribute: false }) verifying = false;

  /** Feedback after Copy: copied to the clipboard, or (without clipboard access) selected for the system's Copy. */
  @state() private copied: 'copied' | 'selected' | undefined;

  override render(): TemplateResult | typeof nothing {
    const m = this.message;
    if (!m) return nothing;
    if (m.role === 'user') {
      return html`<div class="bubble user" data-testid="chat-message" data-role="user">
        <p class="text" .textContent=${m.text}></p>
      </div>`;
    }
    const streaming = m.state === 'pending' && m.text !== '';
    return html`<div
      class="bubble ${streaming ? 'streaming' : ''}"
      data-testid="chat-answer"
      data-role="assistant"
      data-id=${m.id}
      data-state=${streaming ? 'streaming' : (m.state ?? 'done')}
      data-where=${m.where ?? ''}
      data-finish=${m.finish ?? ''}
      data-pieces=${m.pieces ?? ''}
      data-price=${m.price ?? ''}
      data-max-price=${m.maxPrice ?? ''}
      data-task-id=${m.taskId ?? ''}
      data-verified=${m.verified === undefined ? (this.verifying ? 'pending' : '') : String(m.verified)}
    >
      ${this.renderBody(m)} ${m.state === 'done' ? this.renderFacts(m) : nothing}
    </div>`;
  }

  private renderBody(m: StoredChatMessage): TemplateResult {
    switch (m.state) {
      case 'queued':
        return html`<p class="note" data-testid="chat-queued">
          Queued: your message is sent when you are back online, and the answer appears here.
        </p>`;
      case 'failed':
        return html`<p class="note" role="alert" data-testid="chat-failed">
          No answer: ${m.error ?? 'something went wrong.'}
        </p>`;
      case 'pending':
        return m.text === ''
          ? html`<p class="text typing" aria-label="The model is answering">…</p>`
          : html`<p class="text" data-testid="chat-text" .textContent=${m.text}></p>`;
      default:
        // The text as a property: the template's own line breaks must not show in a pre-wrap paragraph.
        return m.text === ''
          ? html`<p class="text muted" data-testid="chat-text" data-empty="true">(no text)</p>`
          : html`<p class="text" data-testid="chat-text" .textContent=${m.text}></p>`;
    }
  }

  private renderFacts(m: StoredChatMessage): TemplateResult {
    const facts = answerFacts(m, this.verifying);
    return html`<div class="facts">
      <span class="badge">${facts.where}</span>
      ${facts.rate ? html`<span class="muted" data-testid="chat-answer-rate">${facts.rate}</span>` : nothing}
      ${facts.ending ? html`<span class="badge warn" data-testid="chat-ending">${facts.ending}</span>` : nothing}
      ${facts.cost ? html`<span class="badge" data-testid="chat-cost">${facts.cost}</span>` : nothing}
      ${this.renderVerification(m, facts.verification)}
      <button class="secondary" data-testid="chat-copy" @click=${() => void this.copy(m.text)}>
        ${this.copied === 'copied' ? 'Copied' : this.copied === 'selected' ? 'Selected: copy it' : 'Copy'}
      </button>
    </div>`;
  }

  private renderVerification(
    m: StoredChatMessage,
    verification: ReturnType<typeof answerFacts>['verification'],
  ): TemplateResult | typeof nothing {
    const link = m.taskId ? `/tasks/${m.taskId}` : undefined;
    switch (verification) {
      case undefined:
        return nothing;
      case 'verifying':
        return html`<span class="badge" data-testid="chat-verification" data-value="verifying">Verifying…</span>`;
      case 'verified':
        return html`<a class="badge ok" data-testid="chat-verification" data-value="verified" href=${link ?? '/tasks'}
          >✓ Verified</a
        >`;
      case 'failed':
        return html`<a class="badge error" data-testid="chat-verification" data-value="failed" href=${link ?? '/tasks'}
          >✗ Not verified: do not trust it</a
        >`;
      case 'unverified':
        return link
          ? html`<a data-testid="chat-verification" data-value="unverified" href=${link}>Check the receipt</a>`
          : nothing;
    }
  }

  private async copy(text: string): Promise<void> {
    try {
      // The clipboard API needs a secure context (https or localhost) and, in some browsers, a permission.
      await navigator.clipboard.writeText(text);
      this.copied = 'copied';
    } catch {
      // Without it, the text is selected, for the system's own Copy.
      const paragraph = this.renderRoot.querySelector('[data-testid=chat-text]');
      if (paragraph) getSelection()?.selectAllChildren(paragraph);
      this.copied = 'selected';
    }
    setTimeout(() => {
      this.copied = undefined;
    }, 2000);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-chat-message': AcnChatMessage;
  }
}
