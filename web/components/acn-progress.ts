/**
 * A labelled progress bar: `role=progressbar` with `aria-valuenow` (0–100, or
 * none while the amount is unknown), and the same text in a polite live
 * region so screen readers hear progress without a focus change. Space is
 * reserved, so the page does not move when it appears or updates.
 */
import { css, html, LitElement, type TemplateResult } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { ifDefined } from 'lit/directives/if-defined.js';

@customElement('acn-progress')
export class AcnProgress extends LitElement {
  static override styles = css`
    :host {
      display: block;
      margin: 0 0 16px;
    }
    .label {
      display: flex;
      justify-content: space-between;
      gap: 8px;
      font-weight: 600;
      margin: 0 0 6px;
      min-height: 1.5em;
    }
    .track {
      height: 12px;
      border-radius: 6px;
      background: #e2e8f0;
      overflow: hidden;
    }
    /* The bar grows by scaling, which the compositor animates: a width
       transition would lay out and repaint the page on every frame. */
    .bar {
      height: 100%;
      background: var(--acn-primary);
      transform-origin: left;
      transition: transform 0.2s linear;
    }
    .indeterminate .bar {
      width: 30%;
      animation: slide 1.2s ease-in-out infinite;
    }
    @keyframes slide {
      from {
        transform: translateX(-100%);
      }
      to {
        transform: translateX(340%);
      }
    }
    @media (prefers-reduced-motion: reduce) {
      .indeterminate .bar {
        animation: none;
        width: 100%;
        opacity: 0.4;
      }
    }
    .detail {
      font-size: 0.875rem;
      color: var(--acn-muted);
      margin: 6px 0 0;
      min-height: 1.3em;
    }
  `;

  /** What is progressing (the accessible name). */
  @property() label = '';
  /** Done so far, 0 to 1; undefined when unknown (indeterminate). */
  @property({ type: Number }) value: number | undefined;
  /** Extra text under the bar (bytes, attempts). */
  @property() detail = '';

  override render(): TemplateResult {
    const percent = this.value === undefined ? undefined : Math.round(Math.min(1, Math.max(0, this.value)) * 100);
    const text = percent === undefined ? this.label : `${this.label}: ${percent}%`;
    return html`<div class="label" aria-hidden="true">
        <span>${this.label}</span><span>${percent === undefined ? '' : `${percent}%`}</span>
      </div>
      <div
        class="track ${percent === undefined ? 'indeterminate' : ''}"
        role="progressbar"
        aria-label=${this.label}
        aria-valuemin="0"
        aria-valuemax="100"
        aria-valuenow=${ifDefined(percent)}
        aria-valuetext=${text}
        data-testid="progress"
      >
        <div class="bar" style=${percent === undefined ? '' : `transform:scaleX(${percent / 100})`}></div>
      </div>
      <p class="detail" aria-live="polite">${this.detail || text}</p>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-progress': AcnProgress;
  }
}
