/**
 * The numbers a table model (regression, k-means, PCA) reads: rows of comma
 * separated values, with the parameter of its pipeline (the column to
 * predict, the number of clusters, the components to keep). Every edit fires
 * `acn-table-change` with what changed.
 */
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { DataTable } from '#core/pipelines/data/table.ts';
import { sharedStyles } from '../styles/shared-styles.ts';

/** What an edit of the table input changed. */
export interface TableChange {
  readonly tableText?: string;
  readonly target?: number;
  readonly k?: number;
  readonly components?: number;
}

@customElement('acn-table-input')
export class AcnTableInput extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      :host {
        display: block;
      }
      .params {
        display: grid;
        grid-template-columns: repeat(auto-fit, minmax(140px, 1fr));
        gap: 8px;
      }
    `,
  ];

  /** The model's pipeline (`linear-regression`, `kmeans` or `pca`): which parameter is asked for. */
  @property({ attribute: false }) pipeline = '';
  /** The table as typed. */
  @property({ attribute: false }) value = '';
  /** The table as read from it; undefined while it cannot be read. */
  @property({ attribute: false }) table: DataTable | undefined;
  /** The column to predict; undefined: the last one. */
  @property({ attribute: false }) target: number | undefined;
  @property({ attribute: false }) k = 2;
  @property({ attribute: false }) components = 2;
  /** What to fix in the input; nothing shown when undefined. */
  @property({ attribute: false }) error: string | undefined;

  private change(detail: TableChange): void {
    this.dispatchEvent(new CustomEvent('acn-table-change', { detail, bubbles: true, composed: true }));
  }

  override render(): TemplateResult {
    const { table } = this;
    const width = table?.rows[0]?.length ?? 0;
    const names = table?.columns ?? Array.from({ length: width }, (_, i) => `Column ${i + 1}`);
    return html`<div class="field">
        <label for="run-table">Numbers: one row per line, values separated by commas</label>
        <textarea
          id="run-table"
          data-testid="run-table"
          aria-describedby="input-error table-hint"
          spellcheck="false"
          .value=${this.value}
          @input=${(e: Event) => {
            this.change({ tableText: (e.target as HTMLTextAreaElement).value });
          }}
        ></textarea>
        <p class="hint" id="table-hint">
          A first line of names is optional. ${table ? `${table.rows.length} rows, ${width} columns.` : ''}
        </p>
        ${this.error ? html`<p class="hint" id="input-error" data-testid="run-input-error">${this.error}</p>` : nothing}
      </div>
      <div class="params">
        ${
          this.pipeline === 'linear-regression'
            ? html`<div class="field">
                <label for="run-target">Column to predict</label>
                <select
                  id="run-target"
                  @change=${(e: Event) => {
                    this.change({ target: Number((e.target as HTMLSelectElement).value) });
                  }}
                >
                  ${names.map(
                    (name, i) =>
                      html`<option value=${i} ?selected=${(this.target ?? width - 1) === i}>${name}</option>`,
                  )}
                </select>
              </div>`
            : nothing
        }
        ${
          this.pipeline === 'kmeans'
            ? html`<div class="field">
                <label for="run-k">Number of clusters</label>
                <input
                  id="run-k"
                  type="number"
                  inputmode="numeric"
                  min="1"
                  max="64"
                  .value=${String(this.k)}
                  @input=${(e: Event) => {
                    this.change({ k: Number((e.target as HTMLInputElement).value) });
                  }}
                />
              </div>`
            : nothing
        }
        ${
          this.pipeline === 'pca'
            ? html`<div class="field">
                <label for="run-components">Components to keep</label>
                <input
                  id="run-components"
                  type="number"
                  inputmode="numeric"
                  min="1"
                  max=${Math.max(1, width)}
                  .value=${String(this.components)}
                  @input=${(e: Event) => {
                    this.change({ components: Number((e.target as HTMLInputElement).value) });
                  }}
                />
              </div>`
            : nothing
        }
      </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-table-input': AcnTableInput;
  }
  interface HTMLElementEventMap {
    /** The table or its parameter was edited. */
    'acn-table-change': CustomEvent<TableChange>;
  }
}
