/**
 * Back up the account key (a passphrase, twice, then a file download) and
 * restore it (the file and its passphrase), with the warnings that matter:
 * the file and passphrase together are the account; restoring replaces the
 * account on this device.
 */
import { consume } from '@lit/context';
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { accountContext, type AccountService } from '../services/app-context.ts';
import { errorText } from '../services/error-text.ts';
import { formText } from '../services/form-field.ts';
import { sharedStyles } from '../styles/shared-styles.ts';

/** The shortest passphrase accepted: the file is only as safe as the passphrase. */
export const MIN_PASSPHRASE_LENGTH = 10;

type Outcome = { readonly tone: 'ok' | 'error' | 'info'; readonly text: string; readonly code?: string } | undefined;

@customElement('acn-backup-restore')
export class AcnBackupRestore extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      form + form {
        margin-top: 24px;
        padding-top: 16px;
        border-top: 1px solid var(--acn-border);
      }
      input[type='file'] {
        font: inherit;
        min-height: 48px;
        width: 100%;
      }
    `,
  ];

  /** Which forms to show. */
  @property() mode: 'backup' | 'restore' | 'both' = 'both';

  @consume({ context: accountContext, subscribe: true })
  @state()
  account: AccountService | undefined;

  @state() private backupBusy = false;
  @state() private restoreBusy = false;
  @state() private backupOutcome: Outcome;
  @state() private restoreOutcome: Outcome;

  private async backup(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    const passphrase = formText(data, 'passphrase');
    const again = formText(data, 'again');
    if (passphrase.length < MIN_PASSPHRASE_LENGTH) {
      this.backupOutcome = { tone: 'error', text: `Use a passphrase of at least ${MIN_PASSPHRASE_LENGTH} characters.` };
      return;
    }
    if (passphrase !== again) {
      this.backupOutcome = { tone: 'error', text: 'The two passphrases differ. Type the same passphrase twice.' };
      return;
    }
    const account = this.account;
    if (!account) return;
    this.backupBusy = true;
    this.backupOutcome = { tone: 'info', text: 'Encrypting your key… this takes a few seconds.' };
    try {
      const text = await account.exportBackup(passphrase);
      const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
      const link = document.createElement('a');
      link.href = url;
      link.download = `acn-backup-${account.account.slice(-8)}.json`;
      link.click();
      setTimeout(() => {
        URL.revokeObjectURL(url);
      }, 60_000);
      form.reset();
      this.backupOutcome = {
        tone: 'ok',
        text: 'Backup downloaded. Keep the file and the passphrase in two different safe places.',
      };
    } catch (error) {
      const text = errorText(error);
      this.backupOutcome = { tone: 'error', text: text.message, ...(text.code ? { code: text.code } : {}) };
    } finally {
      this.backupBusy = false;
    }
  }

  private async restore(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    const file = data.get('file');
    const passphrase = formText(data, 'passphrase');
    if (!(file instanceof File) || file.size === 0) {
      this.restoreOutcome = { tone: 'error', text: 'Choose your backup file.' };
      return;
    }
    if (passphrase === '') {
      this.restoreOutcome = { tone: 'error', text: 'Enter the passphrase of the backup.' };
      return;
    }
    const account = this.account;
    if (!account) return;
    this.restoreBusy = true;
    this.restoreOutcome = { tone: 'info', text: 'Decrypting your backup… this takes a few seconds.' };
    try {
      const restored = await account.importBackup(await file.text(), passphrase);
      this.restoreOutcome = { tone: 'ok', text: `Account ${restored.slice(0, 16)}… restored. Reloading…` };
      // Every service holds the old key: start afresh with the restored one.
      setTimeout(() => {
        location.reload();
      }, 800);
    } catch (error) {
      const text = errorText(error);
      this.restoreOutcome = { tone: 'error', text: text.message, ...(text.code ? { code: text.code } : {}) };
      this.restoreBusy = false;
    }
  }

  override render(): TemplateResult {
    return html`${this.mode !== 'restore' ? this.renderBackup() : nothing}
    ${this.mode !== 'backup' ? this.renderRestore() : nothing}`;
  }

  private renderOutcome(outcome: Outcome, testid: string): TemplateResult | typeof nothing {
    if (!outcome) return nothing;
    return html`<div
      class="notice ${outcome.tone}"
      role=${outcome.tone === 'error' ? 'alert' : 'status'}
      data-testid=${testid}
      data-tone=${outcome.tone}
      data-code=${outcome.code ?? ''}
    >
      ${outcome.text}
    </div>`;
  }

  private renderBackup(): TemplateResult {
    return html`<form @submit=${(e: SubmitEvent) => void this.backup(e)} novalidate>
      <h3>Back up your account</h3>
      <div class="notice warn">
        Anyone with this file <strong>and</strong> its passphrase can use your account and spend your tokens. If you
        lose both, nobody can recover the account.
      </div>
      <div class="field">
        <label for="backup-passphrase">Passphrase</label>
        <input
          id="backup-passphrase"
          name="passphrase"
          type="password"
          autocomplete="new-password"
          minlength=${MIN_PASSPHRASE_LENGTH}
          required
          data-testid="backup-passphrase"
        />
        <p class="hint">At least ${MIN_PASSPHRASE_LENGTH} characters. A few unrelated words are easy to remember.</p>
      </div>
      <div class="field">
        <label for="backup-again">Passphrase again</label>
        <input
          id="backup-again"
          name="again"
          type="password"
          autocomplete="new-password"
          required
          data-testid="backup-passphrase-confirm"
        />
      </div>
      ${this.renderOutcome(this.backupOutcome, 'backup-status')}
      <button type="submit" ?disabled=${this.backupBusy || !this.account} data-testid="backup-download">
        ${this.backupBusy ? 'Encrypting…' : 'Download backup'}
      </button>
    </form>`;
  }

  private renderRestore(): TemplateResult {
    return html`<form @submit=${(e: SubmitEvent) => void this.restore(e)} novalidate>
      <h3>Restore from a backup</h3>
      <div class="notice warn">
        Restoring replaces the account on this device. If this device's account holds tokens, back it up first.
      </div>
      <div class="field">
        <label for="restore-file">Backup file</label>
        <input
          id="restore-file"
          name="file"
          type="file"
          accept=".json,application/json"
          required
          data-testid="restore-file"
        />
      </div>
      <div class="field">
        <label for="restore-passphrase">Passphrase</label>
        <input
          id="restore-passphrase"
          name="passphrase"
          type="password"
          autocomplete="current-password"
          required
          data-testid="restore-passphrase"
        />
      </div>
      ${this.renderOutcome(this.restoreOutcome, 'restore-status')}
      <button
        type="submit"
        class="secondary"
        ?disabled=${this.restoreBusy || !this.account}
        data-testid="restore-submit"
      >
        ${this.restoreBusy ? 'Restoring…' : 'Restore account'}
      </button>
    </form>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-backup-restore': AcnBackupRestore;
  }
}
