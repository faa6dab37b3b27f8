/**
 * Wallet: the balance, sending tokens to another account, receiving (the
 * account id as text and QR code), and the key's backup and restore.
 */
import { consume } from '@lit/context';
import { Task } from '@lit/task';
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { parseAccountId } from '#core/identity/ids.ts';
import '../components/acn-backup-restore.ts';
import '../components/acn-qr.ts';
import { accountContext, statusContext, type AccountService, type AppStatus } from '../services/app-context.ts';
import { errorText } from '../services/error-text.ts';
import { formText } from '../services/form-field.ts';
import { unbondingText } from '../services/format-unbonding.ts';
import { sharedStyles } from '../styles/shared-styles.ts';
import { formatCount } from '../services/format-count.ts';

type Outcome = { readonly tone: 'ok' | 'error' | 'info'; readonly text: string; readonly code?: string } | undefined;

/** Unstaked tokens still on hold, on a line of their own; nothing when there are none. */
function unbondingLine(unbonding: Parameters<typeof unbondingText>[0]): TemplateResult | typeof nothing {
  const text = unbondingText(unbonding);
  return text === undefined ? nothing : html`<br /><span data-testid="wallet-unbonding">${text}</span>`;
}

@customElement('page-wallet')
export class PageWallet extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      .balance {
        min-height: 128px;
      }
      /* Reserved before the account is read, so the cards below do not move when it arrives. */
      .account-line {
        min-height: 1.5em;
      }
      .receive {
        display: grid;
        gap: 12px;
        justify-items: start;
      }
    `,
  ];

  @consume({ context: accountContext, subscribe: true })
  @state()
  accountService: AccountService | undefined;

  @consume({ context: statusContext, subscribe: true })
  @state()
  status!: AppStatus;

  @state() private sending = false;
  @state() private outcome: Outcome;
  @state() private copied = false;

  private readonly account = new Task(this, {
    task: async ([accountService], { signal }) => accountService?.refreshBalance({ signal }),
    args: () => [this.accountService] as const,
  });

  private async send(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const accountService = this.accountService;
    if (!accountService) return;
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    const to = parseAccountId(formText(data, 'to').trim());
    const amount = Number(data.get('amount'));
    if (!to.ok) {
      this.outcome = {
        tone: 'error',
        text: 'That is not an account id. Paste or scan the full id, starting with 12D3KooW.',
      };
      return;
    }
    if (to.value === accountService.account) {
      this.outcome = { tone: 'error', text: 'That is your own account. Enter the account you are paying.' };
      return;
    }
    if (!Number.isSafeInteger(amount) || amount < 1) {
      this.outcome = { tone: 'error', text: 'Enter a whole number of tokens, 1 or more.' };
      return;
    }
    const balance = this.status.balance;
    if (balance !== undefined && amount > balance) {
      this.outcome = { tone: 'error', text: `You have ${balance} tokens; you cannot send ${amount}.` };
      return;
    }
    this.sending = true;
    this.outcome = { tone: 'info', text: 'Sending…' };
    try {
      const tx = await accountService.transfer(to.value, amount);
      form.reset();
      this.outcome = { tone: 'ok', text: `Sent ${amount} tokens. Transaction ${tx.id.slice(0, 12)}…` };
      await accountService.refreshBalance();
    } catch (error) {
      const text = errorText(error);
      this.outcome = { tone: 'error', text: text.message, ...(text.code ? { code: text.code } : {}) };
    } finally {
      this.sending = false;
    }
  }

  private async copyAccount(): Promise<void> {
    const account = this.accountService?.account;
    if (!account) return;
    await navigator.clipboard.writeText(account);
    this.copied = true;
  }

  override render(): TemplateResult {
    const { status } = this;
    return html`<h1>Wallet</h1>
      <section class="card balance" aria-labelledby="balance-heading">
        <h2 id="balance-heading">Balance</h2>
        <p class="big" data-testid="wallet-balance" data-value=${status.balance ?? ''}>
          ${status.balance === undefined ? '—' : formatCount(status.balance)}
          <span class="muted" style="font-size:1rem;font-weight:400">tokens</span>
        </p>
        <p class="muted account-line">
          ${this.account.render({
            complete: (record) =>
              record
                ? html`Staked ${record.stake} · reputation ${record.reputation} ${unbondingLine(record.unbonding)}`
                : 'The relay cannot be reached: this is the last balance seen.',
            error: (error) => errorText(error).message,
          })}
        </p>
      </section>

      <section class="card" aria-labelledby="send-heading">
        <h2 id="send-heading">Send tokens</h2>
        <form @submit=${(e: SubmitEvent) => void this.send(e)} novalidate>
          <div class="field">
            <label for="to">To account</label>
            <input
              id="to"
              name="to"
              autocomplete="off"
              autocapitalize="off"
              spellcheck="false"
              placeholder="12D3KooW…"
              required
              data-testid="transfer-to"
            />
          </div>
          <div class="field">
            <label for="amount">Amount (tokens)</label>
            <input
              id="amount"
              name="amount"
              type="number"
              inputmode="numeric"
              min="1"
              step="1"
              required
              data-testid="transfer-amount"
            />
          </div>
          ${
            this.outcome
              ? html`<div
                  class="notice ${this.outcome.tone}"
                  role=${this.outcome.tone === 'error' ? 'alert' : 'status'}
                  data-testid="transfer-status"
                  data-tone=${this.outcome.tone}
                  data-code=${this.outcome.code ?? ''}
                >
                  ${this.outcome.text}
                </div>`
              : nothing
          }
          <button
            type="submit"
            ?disabled=${this.sending || !this.accountService || status.connection === 'offline'}
            data-testid="transfer-submit"
          >
            ${this.sending ? 'Sending…' : 'Send'}
          </button>
          ${status.connection === 'offline' ? html`<p class="hint">Sending needs a connection to the relay.</p>` : nothing}
        </form>
      </section>

      <section class="card" aria-labelledby="receive-heading">
        <h2 id="receive-heading">Receive</h2>
        <div class="receive">
          <p>Show this code, or share your account id, to be paid.</p>
          ${
            this.accountService
              ? html`<acn-qr .value=${this.accountService.account} label="QR code of your account id"></acn-qr>
                  <p class="mono" data-testid="account-id">${this.accountService.account}</p>
                  <button class="secondary" @click=${() => void this.copyAccount()}>
                    ${this.copied ? 'Copied' : 'Copy account id'}
                  </button>`
              : html`<p class="muted">Loading…</p>`
          }
        </div>
      </section>

      <section class="card" aria-labelledby="backup-heading">
        <h2 id="backup-heading">Backup and restore</h2>
        <acn-backup-restore></acn-backup-restore>
      </section>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'page-wallet': PageWallet;
  }
}
