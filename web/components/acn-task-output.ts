/** A task's result shown for people (see web/services/output-view.ts). */
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { OutputView } from '../services/output-view.ts';
import { sharedStyles } from '../styles/shared-styles.ts';

const percent = (p: number): string => `${(p * 100).toFixed(p >= 0.995 || p < 0.001 ? 0 : 1)}%`;
const number = (x: number): string =>
  Math.abs(x) >= 1e6 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : String(Number(x.toFixed(4)));

@customElement('acn-task-output')
export class AcnTaskOutput extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      .top {
        font-size: 1.375rem;
        font-weight: 700;
        margin: 0 0 8px;
      }
      .meter {
        display: grid;
        grid-template-columns: minmax(0, 1fr) auto;
        gap: 4px 12px;
        align-items: center;
        margin: 0 0 8px;
      }
      .bar {
        grid-column: 1 / -1;
        height: 8px;
        border-radius: 4px;
        background: #e2e8f0;
        overflow: hidden;
      }
      .bar > div {
        height: 100%;
        background: var(--acn-primary);
      }
      table {
        border-collapse: collapse;
        width: 100%;
        font-variant-numeric: tabular-nums;
      }
      th,
      td {
        text-align: left;
        padding: 6px 8px;
        border-bottom: 1px solid var(--acn-border);
      }
      td.num,
      th.num {
        text-align: right;
      }
      ol {
        margin: 0;
        padding-left: 1.5em;
      }
      li {
        margin: 0 0 6px;
      }
    `,
  ];

  @property({ attribute: false }) view: OutputView | undefined;

  override render(): TemplateResult | typeof nothing {
    const view = this.view;
    if (!view) return nothing;
    return html`<div data-testid="task-output" data-kind=${view.kind}>${this.renderView(view)}</div>`;
  }

  private renderView(view: OutputView): TemplateResult {
    switch (view.kind) {
      case 'classification': {
        const [best] = view.top;
        return html`<h3>${view.heading}</h3>
          ${best ? html`<p class="top" data-testid="output-label">${best.label} · ${percent(best.probability)}</p>` : nothing}
          ${view.top.map(
            (c) =>
              html`<div class="meter">
                <span>${c.label}</span><span>${percent(c.probability)}</span>
                <div class="bar" aria-hidden="true"><div style="width:${(c.probability * 100).toFixed(1)}%"></div></div>
              </div>`,
          )}`;
      }
      case 'text-lines':
        return view.lines.length === 0
          ? html`<p class="empty">No text was found in this picture. Try a sharper, closer photo.</p>`
          : html`<h3>Text found</h3>
              <ol data-testid="output-lines">
                ${view.lines.map((l) => html`<li>${l.text} <span class="muted">(${percent(l.confidence)})</span></li>`)}
              </ol>`;
      case 'regression':
        return html`<h3>Fitted line</h3>
          <table>
            <thead>
              <tr>
                <th scope="col">Term</th>
                <th scope="col" class="num">Coefficient</th>
              </tr>
            </thead>
            <tbody>
              ${view.coefficients.map(
                (c) =>
                  html`<tr>
                    <td>${c.name}</td>
                    <td class="num">${number(c.value)}</td>
                  </tr>`,
              )}
              <tr>
                <td>Intercept</td>
                <td class="num">${number(view.intercept)}</td>
              </tr>
            </tbody>
          </table>
          <p class="muted">R² ${number(view.r2)} · RMSE ${number(view.rmse)}</p>`;
      case 'clusters':
        return html`<h3>${view.clusters.length} clusters</h3>
          <table>
            <thead>
              <tr>
                <th scope="col">Cluster</th>
                <th scope="col">Centre</th>
                <th scope="col" class="num">Rows</th>
              </tr>
            </thead>
            <tbody>
              ${view.clusters.map(
                (c, i) =>
                  html`<tr>
                    <td>${i + 1}</td>
                    <td>${c.centre.map(number).join(', ')}</td>
                    <td class="num">${c.rows}</td>
                  </tr>`,
              )}
            </tbody>
          </table>
          <p class="muted">Inertia ${number(view.inertia)} after ${view.iterations} iterations</p>`;
      case 'components':
        return html`<h3>Principal components</h3>
          <table>
            <thead>
              <tr>
                <th scope="col">Component</th>
                <th scope="col">Direction</th>
                <th scope="col" class="num">Variance</th>
              </tr>
            </thead>
            <tbody>
              ${view.components.map(
                (c, i) =>
                  html`<tr>
                    <td>${i + 1}</td>
                    <td>${c.vector.map(number).join(', ')}</td>
                    <td class="num">${percent(c.share)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`;
      case 'raw':
        return html`<p>The result is ${view.bytes} bytes of data this app does not display.</p>`;
      case 'invalid':
        return html`<div class="notice error" role="alert">
          The result could not be read: ${view.message}. Do not trust it.
        </div>`;
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-task-output': AcnTaskOutput;
  }
}
