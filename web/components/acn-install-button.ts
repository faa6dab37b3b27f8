/**
 * "Install" in the header: shown when the browser offers to install the app
 * (`beforeinstallprompt`, Chromium), or, on iOS Safari outside the installed
 * app, a button that explains Share → Add to Home Screen (Safari has no
 * install prompt).
 */
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, state } from 'lit/decorators.js';

/** Chromium's install prompt event (not in the DOM typings). */
interface BeforeInstallPromptEvent extends Event {
  prompt(): Promise<void>;
  readonly userChoice: Promise<{ outcome: 'accepted' | 'dismissed' }>;
}

/** True on iPhone or iPad Safari (iPadOS reports itself as a Mac with touch). */
export function isIosSafari(nav: Pick<Navigator, 'userAgent' | 'maxTouchPoints'>): boolean {
  const ua = nav.userAgent;
  const ios = /iPhone|iPad|iPod/.test(ua) || (ua.includes('Macintosh') && nav.maxTouchPoints > 1);
  // Other browsers on iOS name themselves; only Safari can add to the home screen with a manifest.
  return ios && ua.includes('Safari') && !/CriOS|FxiOS|EdgiOS|OPiOS|GSA/.test(ua);
}

/** True when the app runs installed (home screen), not in a browser tab. */
export function isStandalone(): boolean {
  return (
    matchMedia('(display-mode: standalone)').matches ||
    (navigator as Navigator & { standalone?: boolean }).standalone === true
  );
}

@customElement('acn-install-button')
export class AcnInstallButton extends LitElement {
  static override styles = css`
    :host {
      display: contents;
    }
    button {
      font: inherit;
      font-size: 0.875rem;
      font-weight: 600;
      min-height: 48px;
      min-width: 48px;
      padding: 0 12px;
      border-radius: 10px;
      border: 2px solid #fff;
      background: transparent;
      color: #fff;
      cursor: pointer;
    }
    button:focus-visible {
      outline: 3px solid #fff;
      outline-offset: 2px;
    }
    [role='dialog'] {
      position: fixed;
      left: 8px;
      right: 8px;
      top: calc(var(--acn-header-height) + 8px);
      z-index: 3;
      max-width: 420px;
      margin: 0 auto;
      background: var(--acn-surface);
      color: var(--acn-text);
      border: 1px solid var(--acn-border);
      border-radius: var(--acn-radius);
      box-shadow: 0 8px 24px rgb(15 23 42 / 0.2);
      padding: 16px;
    }
    [role='dialog'] p {
      margin: 0 0 12px;
    }
    [role='dialog'] button {
      color: var(--acn-on-primary);
      background: var(--acn-primary);
      border-color: var(--acn-primary);
      padding: 0 18px;
    }
  `;

  @state() private prompt: BeforeInstallPromptEvent | undefined;
  @state() private iosHint = false;
  @state() private hintOpen = false;

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('beforeinstallprompt', this.onPrompt);
    window.addEventListener('appinstalled', this.onInstalled);
    this.iosHint = isIosSafari(navigator) && !isStandalone();
  }

  override disconnectedCallback(): void {
    window.removeEventListener('beforeinstallprompt', this.onPrompt);
    window.removeEventListener('appinstalled', this.onInstalled);
    super.disconnectedCallback();
  }

  private readonly onPrompt = (event: Event): void => {
    // Keep the browser's own mini-infobar away: the app offers installing from its header.
    event.preventDefault();
    this.prompt = event as BeforeInstallPromptEvent;
  };

  private readonly onInstalled = (): void => {
    this.prompt = undefined;
  };

  private async install(): Promise<void> {
    const prompt = this.prompt;
    if (!prompt) return;
    await prompt.prompt();
    const choice = await prompt.userChoice;
    // A prompt can be used once; the browser fires a new event if it offers again.
    if (choice.outcome === 'accepted') this.prompt = undefined;
  }

  override render(): TemplateResult | typeof nothing {
    if (this.prompt) {
      return html`<button data-testid="install-button" @click=${() => void this.install()}>Install</button>`;
    }
    if (!this.iosHint) return nothing;
    return html`<button
        data-testid="ios-install-hint-button"
        aria-expanded=${this.hintOpen ? 'true' : 'false'}
        @click=${() => (this.hintOpen = !this.hintOpen)}
      >
        Install
      </button>
      ${
        this.hintOpen
          ? html`<div role="dialog" aria-label="Add to Home Screen" data-testid="ios-install-hint">
              <p>
                To install the app: tap <strong>Share</strong> in Safari's toolbar, then
                <strong>Add to Home Screen</strong>.
              </p>
              <button @click=${() => (this.hintOpen = false)}>OK</button>
            </div>`
          : nothing
      }`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-install-button': AcnInstallButton;
  }
}
