/**
 * The text a language model reads: a text area, and what to fix in it.
 * Every edit fires `acn-text-change` with the whole text.
 */
import { html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { sharedStyles } from '../styles/shared-styles.ts';

@customElement('acn-text-input')
export class AcnTextInput extends LitElement {
  static override styles = [sharedStyles];

  @property({ attribute: false }) value = '';
  /** What to fix in the input; nothing shown when undefined. */
  @property({ attribute: false }) error: string | undefined;

  override render(): TemplateResult {
    return html`<div class="field">
      <label for="run-text">Text to identify the language of</label>
      <textarea
        id="run-text"
        data-testid="run-text"
        maxlength="4000"
        aria-describedby="input-error"
        .value=${this.value}
        @input=${(e: Event) => {
          const text = (e.target as HTMLTextAreaElement).value;
          this.dispatchEvent(new CustomEvent('acn-text-change', { detail: text, bubbles: true, composed: true }));
        }}
      ></textarea>
      ${this.error ? html`<p class="hint" id="input-error" data-testid="run-input-error">${this.error}</p>` : nothing}
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-text-input': AcnTextInput;
  }
  interface HTMLElementEventMap {
    /** The text was edited: `detail` is the whole text. */
    'acn-text-change': CustomEvent<string>;
  }
}
