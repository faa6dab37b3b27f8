/**
 * A small time-series chart drawn by uPlot. uPlot and its stylesheet are
 * loaded when the first chart renders, not with the app. The space is
 * reserved (fixed height), so the page does not move when the chart appears.
 */
import { css, html, LitElement, type PropertyValues, type TemplateResult } from 'lit';
import { customElement, property, query } from 'lit/decorators.js';
import type uPlot from 'uplot';

/** One line of the chart. */
export interface ChartSeries {
  readonly label: string;
  readonly color: string;
}

const HEIGHT = 180;

/** "14:05" for a time in seconds since the epoch. */
function timeLabel(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
}

@customElement('acn-chart')
export class AcnChart extends LitElement {
  static override styles = css`
    :host {
      display: block;
      min-height: ${HEIGHT + 40}px;
    }
    .plot {
      width: 100%;
      min-height: ${HEIGHT}px;
    }
    ul {
      display: flex;
      flex-wrap: wrap;
      gap: 4px 16px;
      list-style: none;
      margin: 8px 0 0;
      padding: 0;
      font-size: 0.875rem;
    }
    li::before {
      content: '';
      display: inline-block;
      width: 12px;
      height: 3px;
      margin-right: 6px;
      vertical-align: middle;
      background: var(--swatch);
    }
  `;

  /** Accessible description of what the chart shows. */
  @property() label = '';
  @property({ attribute: false }) series: readonly ChartSeries[] = [];
  /** x (seconds since the epoch) then one array per series. */
  @property({ attribute: false }) data: uPlot.AlignedData = [[]];

  @query('.plot') private plotElement!: HTMLDivElement;

  private plot: uPlot | undefined;
  private resize: ResizeObserver | undefined;

  protected override firstUpdated(): void {
    void this.createPlot();
  }

  private async createPlot(): Promise<void> {
    const [{ default: UPlot }, { default: styles }] = await Promise.all([
      import('uplot'),
      import('uplot/dist/uPlot.min.css?inline'),
    ]);
    // The chart may have left the page while uPlot was loading.
    if (!this.isConnected) return;
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(styles);
    const root = this.renderRoot as ShadowRoot;
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
    this.plot = new UPlot(
      {
        width: Math.max(200, this.plotElement.clientWidth),
        height: HEIGHT,
        series: [{}, ...this.series.map((s) => ({ label: s.label, stroke: s.color, width: 2 }))],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(4, max)] } },
        axes: [
          { stroke: '#475569', values: (_u, ticks) => ticks.map((t) => timeLabel(t)) },
          { stroke: '#475569', size: 40 },
        ],
        // The legend is the element's own list (uPlot's shows cursor values, and there is no cursor here).
        legend: { show: false },
        cursor: { show: false },
      },
      this.data,
      this.plotElement,
    );
    this.resize = new ResizeObserver(() => {
      this.plot?.setSize({ width: Math.max(200, this.plotElement.clientWidth), height: HEIGHT });
    });
    this.resize.observe(this.plotElement);
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has('data')) this.plot?.setData(this.data);
  }

  override disconnectedCallback(): void {
    this.resize?.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
    super.disconnectedCallback();
  }

  override render(): TemplateResult {
    return html`<div class="plot" role="img" aria-label=${this.label} data-testid="chart"></div>
      <ul aria-hidden="true">
        ${this.series.map((s) => html`<li style="--swatch:${s.color}">${s.label}</li>`)}
      </ul>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-chart': AcnChart;
  }
}
