/**
 * A QR code of a short text (an account id), drawn as SVG by uqr: crisp at
 * any size, no canvas, and the text itself shown beneath for copying.
 */
import { css, html, LitElement, type TemplateResult } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { unsafeHTML } from 'lit/directives/unsafe-html.js';
import { renderSVG } from 'uqr';

@customElement('acn-qr')
export class AcnQr extends LitElement {
  static override styles = css`
    :host {
      display: block;
    }
    figure {
      margin: 0;
      width: min(100%, 240px);
      aspect-ratio: 1;
    }
    figure > :first-child,
    svg {
      display: block;
      width: 100%;
      height: 100%;
    }
  `;

  /** What the code holds. */
  @property() value = '';
  /** The accessible name of the picture. */
  @property() label = 'QR code';

  override render(): TemplateResult {
    // uqr builds the SVG from the encoded modules only: no part of `value` reaches the markup as text.
    return html`<figure role="img" aria-label=${this.label} data-testid="qr">
      ${this.value === '' ? '' : unsafeHTML(renderSVG(this.value, { border: 2 }))}
    </figure>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-qr': AcnQr;
  }
}
