/**
 * The picture an image model looks at: "Take a photo" (the camera) or
 * "Choose a picture", its preview and the size it is sent at. A chosen file
 * fires `acn-picture` with the file.
 */
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { sharedStyles } from '../styles/shared-styles.ts';

@customElement('acn-image-input')
export class AcnImageInput extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      :host {
        display: block;
      }
      .photo-buttons {
        display: grid;
        grid-template-columns: 1fr 1fr;
        gap: 8px;
      }
      .photo-buttons label {
        margin: 0;
      }
      .photo-buttons input {
        position: absolute;
        width: 1px;
        height: 1px;
        opacity: 0;
      }
      .photo-buttons label:focus-within {
        outline: 3px solid var(--acn-focus);
        outline-offset: 2px;
      }
      .preview {
        width: 100%;
        aspect-ratio: 4 / 3;
        margin: 12px 0 0;
        border-radius: 10px;
        background: #e2e8f0;
        display: flex;
        align-items: center;
        justify-content: center;
        overflow: hidden;
      }
      .preview img {
        max-width: 100%;
        max-height: 100%;
        object-fit: contain;
      }
    `,
  ];

  /** The picture is being read. */
  @property({ attribute: false }) busy = false;
  /** The preview's URL; no picture yet when undefined. */
  @property({ attribute: false }) previewUrl: string | undefined;
  /** The size the picture is sent at, once read. */
  @property({ attribute: false }) size: { readonly width: number; readonly height: number } | undefined;
  /** What to fix in the input; nothing shown when undefined. */
  @property({ attribute: false }) error: string | undefined;

  private onFile(event: Event): void {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    // The same file chosen again is a new choice.
    input.value = '';
    if (!file) return;
    this.dispatchEvent(new CustomEvent('acn-picture', { detail: file, bubbles: true, composed: true }));
  }

  override render(): TemplateResult {
    return html`<div class="photo-buttons">
        <label class="button">
          <input
            type="file"
            accept="image/*"
            capture="environment"
            data-testid="run-camera"
            @change=${(e: Event) => {
              this.onFile(e);
            }}
          />
          Take a photo
        </label>
        <label class="button secondary">
          <input
            type="file"
            accept="image/*"
            data-testid="run-image"
            @change=${(e: Event) => {
              this.onFile(e);
            }}
          />
          Choose a picture
        </label>
      </div>
      <div class="preview">
        ${
          this.busy
            ? html`<span class="muted">Reading the picture…</span>`
            : this.previewUrl
              ? html`<img src=${this.previewUrl} alt="The picture to send" />`
              : html`<span class="muted">No picture yet</span>`
        }
      </div>
      ${this.size ? html`<p class="hint">Sent as ${this.size.width} × ${this.size.height} pixels.</p>` : nothing}
      ${this.error ? html`<p class="hint" id="input-error" data-testid="run-input-error">${this.error}</p>` : nothing}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-image-input': AcnImageInput;
  }
  interface HTMLElementEventMap {
    /** A photo was taken or a picture chosen. */
    'acn-picture': CustomEvent<File>;
  }
}
