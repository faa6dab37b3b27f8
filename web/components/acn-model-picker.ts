/**
 * The Run screen's model list: one radio card per catalogue model, with its
 * price, where it runs and its download size; the chosen one shows its
 * description. Choosing fires `acn-model-select` with the entry.
 */
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { megabytes, tokens } from '../services/format-amount.ts';
import { sharedStyles } from '../styles/shared-styles.ts';

const SIZE_TEXT: Readonly<Record<ModelEntry['sizeClass'], string>> = {
  phone: 'Runs on phones',
  desktop: 'Desktop workers',
  heavy: 'Relay only',
};

const totalBytes = (entry: ModelEntry): number => entry.bytes + entry.assets.reduce((sum, a) => sum + a.bytes, 0);

@customElement('acn-model-picker')
export class AcnModelPicker extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      :host {
        display: block;
      }
      fieldset {
        border: 0;
        margin: 0;
        padding: 0;
      }
      .model {
        display: flex;
        gap: 12px;
        align-items: flex-start;
        padding: 12px;
        min-height: 48px;
        border: 1px solid var(--acn-border);
        border-radius: 10px;
        margin: 0 0 8px;
        cursor: pointer;
        font-weight: 400;
      }
      .model:has(input:checked) {
        border-color: var(--acn-primary);
        box-shadow: inset 0 0 0 1px var(--acn-primary);
        background: #f0fdfa;
      }
      .model input {
        width: 24px;
        height: 24px;
        margin: 2px 0 0;
        flex: none;
        accent-color: var(--acn-primary);
      }
      .model strong {
        display: block;
      }
      .model .meta {
        display: flex;
        flex-wrap: wrap;
        gap: 6px;
        margin-top: 6px;
      }
    `,
  ];

  /** The catalogue's models. */
  @property({ attribute: false }) models: readonly ModelEntry[] = [];
  /** The chosen model's id. */
  @property({ attribute: false }) selectedId: string | undefined;

  override render(): TemplateResult {
    return html`<fieldset>
      <legend class="visually-hidden">Model</legend>
      ${this.models.map((m) => this.renderModel(m))}
    </fieldset>`;
  }

  private renderModel(m: ModelEntry): TemplateResult {
    return html`<label class="model" data-testid="model-option" data-model=${m.name}>
      <input
        type="radio"
        name="model"
        .value=${m.id}
        .checked=${m.id === this.selectedId}
        @change=${() => {
          this.dispatchEvent(new CustomEvent('acn-model-select', { detail: m, bubbles: true, composed: true }));
        }}
      />
      <span>
        <strong>${m.name}</strong>
        ${m.id === this.selectedId ? html`<span class="muted">${m.description}</span>` : nothing}
        <span class="meta">
          <span class="badge">${tokens(m.price.perUnit)} per ${m.price.unit}</span>
          <span class="badge ${m.sizeClass === 'phone' ? 'ok' : ''}">${SIZE_TEXT[m.sizeClass]}</span>
          <span class="badge">${megabytes(totalBytes(m))}</span>
        </span>
      </span>
    </label>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-model-picker': AcnModelPicker;
  }
  interface HTMLElementEventMap {
    /** A model was chosen. */
    'acn-model-select': CustomEvent<ModelEntry>;
  }
}
