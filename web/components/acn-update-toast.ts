/**
 * "Update available — Reload": shown when a new service worker is waiting.
 * Reload asks it to take over (the registration's `onReload`), and the page
 * reloads once it controls the page.
 */
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';

@customElement('acn-update-toast')
export class AcnUpdateToast extends LitElement {
  static override styles = css`
    :host {
      position: fixed;
      left: 8px;
      right: 8px;
      bottom: calc(var(--acn-nav-height) + 8px + env(safe-area-inset-bottom));
      z-index: 3;
      display: flex;
      justify-content: center;
      pointer-events: none;
    }
    div {
      pointer-events: auto;
      display: flex;
      align-items: center;
      gap: 12px;
      max-width: 480px;
      width: 100%;
      padding: 8px 8px 8px 16px;
      border-radius: var(--acn-radius);
      background: var(--acn-text);
      color: #fff;
      box-shadow: 0 8px 24px rgb(15 23 42 / 0.3);
    }
    span {
      flex: 1;
    }
    button {
      font: inherit;
      font-weight: 600;
      min-height: 48px;
      min-width: 48px;
      padding: 0 18px;
      border-radius: 10px;
      border: 0;
      background: #5eead4;
      color: #042f2e;
      cursor: pointer;
    }
    button:focus-visible {
      outline: 3px solid #fff;
      outline-offset: 2px;
    }
  `;

  /** Shown while true. */
  @property({ type: Boolean, reflect: true }) open = false;
  /** Called by Reload: tells the waiting worker to take over. */
  @property({ attribute: false }) onReload: (() => void) | undefined;

  @state() private reloading = false;

  override render(): TemplateResult | typeof nothing {
    if (!this.open) return nothing;
    return html`<div role="status" data-testid="update-toast">
      <span>Update available</span>
      <button
        data-testid="update-reload"
        ?disabled=${this.reloading}
        @click=${() => {
          this.reloading = true;
          this.onReload?.();
        }}
      >
        ${this.reloading ? 'Reloading…' : 'Reload'}
      </button>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-update-toast': AcnUpdateToast;
  }
}
