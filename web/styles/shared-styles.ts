/**
 * Styles every screen shares: cards, buttons and form fields at a 48 px tap
 * size, visible focus, notices. The colours are the custom properties set in
 * index.html's critical CSS, which reach into every shadow root.
 */
import { css } from 'lit';

export const sharedStyles = css`
  :host {
    display: block;
  }
  *,
  *::before,
  *::after {
    box-sizing: border-box;
  }
  h1 {
    font-size: 1.5rem;
    line-height: 1.25;
    margin: 0 0 16px;
  }
  h2 {
    font-size: 1.125rem;
    line-height: 1.3;
    margin: 0 0 12px;
  }
  h3 {
    font-size: 1rem;
    margin: 0 0 8px;
  }
  p {
    margin: 0 0 12px;
  }
  a {
    color: var(--acn-primary-dark);
  }
  .card {
    background: var(--acn-surface);
    border: 1px solid var(--acn-border);
    border-radius: var(--acn-radius);
    padding: 16px;
    margin: 0 0 16px;
  }
  .muted {
    color: var(--acn-muted);
  }
  .mono {
    font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
    overflow-wrap: anywhere;
  }
  .row {
    display: flex;
    flex-wrap: wrap;
    gap: 8px;
    align-items: center;
  }
  .spread {
    display: flex;
    justify-content: space-between;
    align-items: center;
    gap: 8px;
  }
  button,
  .button {
    font: inherit;
    font-weight: 600;
    min-height: 48px;
    min-width: 48px;
    padding: 10px 18px;
    border-radius: 10px;
    border: 2px solid var(--acn-primary);
    background: var(--acn-primary);
    color: var(--acn-on-primary);
    cursor: pointer;
    display: inline-flex;
    align-items: center;
    justify-content: center;
    gap: 8px;
    text-decoration: none;
  }
  button.secondary,
  .button.secondary {
    background: var(--acn-surface);
    color: var(--acn-primary-dark);
  }
  button.danger {
    background: var(--acn-danger);
    border-color: var(--acn-danger);
  }
  button:disabled {
    opacity: 0.55;
    cursor: not-allowed;
  }
  button:hover:not(:disabled) {
    filter: brightness(0.95);
  }
  :focus-visible {
    outline: 3px solid var(--acn-focus);
    outline-offset: 2px;
  }
  label {
    display: block;
    font-weight: 600;
    margin: 0 0 4px;
  }
  input[type='text'],
  input[type='number'],
  input[type='password'],
  input:not([type]),
  select,
  textarea {
    font: inherit;
    width: 100%;
    min-height: 48px;
    padding: 10px 12px;
    border: 1px solid #64748b;
    border-radius: 10px;
    background: var(--acn-surface);
    color: var(--acn-text);
  }
  input[type='file']::file-selector-button {
    font: inherit;
    min-height: 48px;
    padding: 0 16px;
    margin-right: 12px;
    border-radius: 10px;
    border: 2px solid var(--acn-primary);
    background: var(--acn-surface);
    color: var(--acn-primary-dark);
    font-weight: 600;
    cursor: pointer;
  }
  textarea {
    min-height: 120px;
    resize: vertical;
  }
  .field {
    margin: 0 0 16px;
  }
  .hint {
    font-size: 0.875rem;
    color: var(--acn-muted);
    margin: 4px 0 0;
  }
  .notice {
    border-radius: 10px;
    padding: 12px 14px;
    margin: 0 0 16px;
    border: 1px solid transparent;
  }
  .notice.error {
    background: var(--acn-danger-soft);
    color: var(--acn-danger);
    border-color: #fca5a5;
  }
  .notice.warn {
    background: var(--acn-warn-soft);
    color: var(--acn-warn);
    border-color: #fcd34d;
  }
  .notice.ok {
    background: var(--acn-ok-soft);
    color: var(--acn-ok);
    border-color: #86efac;
  }
  .notice.info {
    background: var(--acn-primary-soft);
    color: var(--acn-primary-dark);
    border-color: #5eead4;
  }
  .badge {
    display: inline-block;
    font-size: 0.8125rem;
    font-weight: 600;
    padding: 2px 10px;
    border-radius: 999px;
    background: #e2e8f0;
    color: var(--acn-text);
    white-space: nowrap;
  }
  .badge.ok {
    background: var(--acn-ok-soft);
    color: var(--acn-ok);
  }
  .badge.error {
    background: var(--acn-danger-soft);
    color: var(--acn-danger);
  }
  .badge.warn {
    background: var(--acn-warn-soft);
    color: var(--acn-warn);
  }
  .empty {
    text-align: center;
    padding: 24px 8px;
    color: var(--acn-muted);
  }
  .big {
    font-size: 2rem;
    font-weight: 700;
    line-height: 1.2;
  }
  ul.plain {
    list-style: none;
    margin: 0;
    padding: 0;
  }
  .visually-hidden {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip: rect(0 0 0 0);
    white-space: nowrap;
  }
`;
