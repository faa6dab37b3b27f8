/**
 * The light client's reusable elements in real Chromium: the verification
 * report shows "Verified" only when every check passed and otherwise names
 * the failed check; the progress bar is an accessible progressbar. The
 * elements are loaded by URL (Lit's decorators are compiled with the app's
 * own tsconfig), and driven through the DOM only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { VerificationReport } from '#client/sdk/verify-result.ts';

// Loaded at run time so the test project's typecheck does not compile the app's decorators.
const ELEMENTS = ['../../../../web/components/acn-verification.ts', '../../../../web/components/acn-progress.ts'];
await Promise.all(ELEMENTS.map((path) => import(/* @vite-ignore */ path)));

type Updatable = HTMLElement & { updateComplete: Promise<boolean> };

async function mount(tag: string, props: Record<string, unknown>): Promise<Updatable> {
  const element = Object.assign(document.createElement(tag), props) as unknown as Updatable;
  document.body.append(element);
  await element.updateComplete;
  return element;
}

const shadow = (element: Element): ShadowRoot => {
  if (!element.shadowRoot) throw new Error(`${element.tagName} has no shadow root`);
  return element.shadowRoot;
};

const passing: VerificationReport = {
  verified: true,
  taskId: undefined,
  checks: [
    { name: 'receipt-signature', ok: true, detail: 'signed by the relay' },
    { name: 'output-hash', ok: true, detail: 'matches' },
    { name: 'settlement-included', ok: true, detail: 'leaf 1 of 2' },
  ],
};

afterEach(() => {
  document.body.replaceChildren();
});

describe('acn-verification', () => {
  it('says Verified when every check passed', async () => {
    const root = shadow(await mount('acn-verification', { report: passing }));
    const report = root.querySelector('[data-testid=verification]');
    expect(report?.getAttribute('data-verified')).toBe('true');
    expect(root.querySelector('[data-testid=verification-summary]')?.textContent).toContain('Verified');
    expect(root.querySelectorAll('[data-testid=verification-check][data-ok=true]')).toHaveLength(3);
  });

  it('names the failed check and never says Verified', async () => {
    const tampered: VerificationReport = {
      ...passing,
      verified: false,
      checks: passing.checks.map((c) =>
        c.name === 'output-hash'
          ? { ...c, ok: false, detail: 'the output hashes to 12ab…, the receipt signed 34cd…' }
          : c,
      ),
    };
    const root = shadow(await mount('acn-verification', { report: tampered }));
    expect(root.querySelector('[data-testid=verification]')?.getAttribute('data-verified')).toBe('false');
    const summary = root.querySelector('[data-testid=verification-summary]')?.textContent ?? '';
    expect(summary).toContain('Not verified');
    expect(summary).toContain('The result is the one the receipt signed');
    const failed = root.querySelector('[data-testid=verification-check][data-ok=false]');
    expect(failed?.getAttribute('data-check')).toBe('output-hash');
    expect(failed?.textContent).toContain('the receipt signed 34cd');
  });

  it('does not trust a report that claims verified while a check failed', async () => {
    const inconsistent: VerificationReport = {
      ...passing,
      checks: [...passing.checks, { name: 'header-chain', ok: false, detail: 'fork at 7' }],
    };
    const root = shadow(await mount('acn-verification', { report: inconsistent }));
    expect(root.querySelector('[data-testid=verification]')?.getAttribute('data-verified')).toBe('false');
  });
});

describe('acn-progress', () => {
  it('is a labelled progressbar with its value, announced politely', async () => {
    const root = shadow(await mount('acn-progress', { label: 'Downloading the model', value: 0.42 }));
    const bar = root.querySelector('[role=progressbar]');
    expect(bar?.getAttribute('aria-label')).toBe('Downloading the model');
    expect(bar?.getAttribute('aria-valuenow')).toBe('42');
    expect(root.querySelector('[aria-live=polite]')?.textContent).toContain('42%');
  });

  it('leaves out aria-valuenow while the amount is unknown', async () => {
    const root = shadow(await mount('acn-progress', { label: 'Getting ready' }));
    expect(root.querySelector('[role=progressbar]')?.hasAttribute('aria-valuenow')).toBe(false);
  });
});
