/**
 * Run: pick a model from the relay's catalogue, give it its input (text, a
 * photo, or a table of numbers), see the price, then run it on this phone
 * (small models) or on the network (signed and paid; queued in the outbox
 * when offline), and read the result decoded for people.
 *
 * The screen only shows and forwards: the model, the input and the run live
 * in the app's {@link RunSession} (`runContext`), so leaving the screen and
 * coming back shows them as they were.
 */
import { consume } from '@lit/context';
import { Task } from '@lit/task';
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import type { ModelEntry } from '#core/models/catalogue.ts';
import '../components/acn-image-input.ts';
import '../components/acn-model-picker.ts';
import '../components/acn-run-result.ts';
import '../components/acn-table-input.ts';
import '../components/acn-text-input.ts';
import type { TableChange } from '../components/acn-table-input.ts';
import { modelsContext, statusContext, type AppStatus, type ModelService } from '../services/app-context.ts';
import { errorText } from '../services/error-text.ts';
import { tokens } from '../services/format-amount.ts';
import { inputKindOf } from '../services/model-input.ts';
import { RunController } from '../services/run-controller.ts';
import { userInput, type RunSession, type RunSnapshot } from '../services/run-session.ts';
import { sharedStyles } from '../styles/shared-styles.ts';

@customElement('page-run')
export class PageRun extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      .price {
        display: flex;
        justify-content: space-between;
        align-items: baseline;
        gap: 8px;
        flex-wrap: wrap;
      }
      .price strong {
        font-size: 1.25rem;
      }
      .run-buttons {
        display: grid;
        gap: 8px;
      }
    `,
  ];

  @consume({ context: modelsContext, subscribe: true })
  @state()
  models: ModelService | undefined;

  @consume({ context: statusContext, subscribe: true })
  @state()
  status!: AppStatus;

  /** The session holding the screen's state. */
  private readonly run = new RunController(this);

  private readonly catalogue = new Task(this, {
    task: async ([models], { signal }) => (models ? (await models.catalogue({ signal })).models : undefined),
    args: () => [this.models] as const,
  });

  protected override willUpdate(): void {
    // The first model the app can build input for is chosen for the user (once: the session remembers the choice).
    const models = this.catalogue.value;
    if (models !== undefined && models.length > 0) this.run.session?.offer(models);
  }

  override render(): TemplateResult {
    return html`<h1>Run a task</h1>
      ${this.catalogue.render({
        initial: () => html`<p class="muted">Loading the models…</p>`,
        pending: () => html`<p class="muted">Loading the models…</p>`,
        complete: (models) => {
          const { session, state: snapshot } = this.run;
          return models === undefined || session === undefined || snapshot === undefined
            ? html`<p class="muted">Loading the models…</p>`
            : models.length === 0
              ? html`<div class="empty card">This relay offers no models yet.</div>`
              : this.renderForm(models, session, snapshot);
        },
        error: (error) =>
          html`<div class="notice error" role="alert" data-testid="run-catalogue-error">
              ${errorText(error).message}
            </div>
            <button @click=${() => void this.catalogue.run()}>Try again</button>`,
      })}`;
  }

  private renderForm(models: readonly ModelEntry[], session: RunSession, snapshot: RunSnapshot): TemplateResult {
    const entry = snapshot.entry;
    return html`<section class="card" aria-labelledby="model-heading">
        <h2 id="model-heading">1. Choose a model</h2>
        <acn-model-picker
          .models=${models}
          .selectedId=${entry?.id}
          @acn-model-select=${(e: CustomEvent<ModelEntry>) => {
            session.select(e.detail);
          }}
        ></acn-model-picker>
      </section>
      ${
        entry
          ? html`<section class="card" aria-labelledby="input-heading">
                <h2 id="input-heading">2. Your input</h2>
                ${this.renderInput(entry, session, snapshot)}
              </section>
              <section class="card" aria-labelledby="run-heading">
                <h2 id="run-heading">3. Run</h2>
                ${this.renderRun(entry, session, snapshot)}
              </section>`
          : nothing
      }`;
  }

  private renderInput(entry: ModelEntry, session: RunSession, snapshot: RunSnapshot): TemplateResult {
    const { inputs, inputError } = snapshot;
    switch (inputKindOf(entry)) {
      case 'text':
        return html`<acn-text-input
          .value=${inputs.text}
          .error=${inputError}
          @acn-text-change=${(e: CustomEvent<string>) => {
            session.setText(e.detail);
          }}
        ></acn-text-input>`;
      case 'image':
        return html`<acn-image-input
          .busy=${inputs.imageBusy}
          .previewUrl=${inputs.previewUrl}
          .size=${inputs.image}
          .error=${inputError}
          @acn-picture=${(e: CustomEvent<File>) => void session.choosePicture(e.detail)}
        ></acn-image-input>`;
      case 'table': {
        const input = userInput(entry, inputs);
        return html`<acn-table-input
          .pipeline=${entry.pre}
          .value=${inputs.tableText}
          .table=${typeof input === 'object' && input.kind === 'table' ? input.table : undefined}
          .target=${inputs.target}
          .k=${inputs.k}
          .components=${inputs.components}
          .error=${inputError}
          @acn-table-change=${(e: CustomEvent<TableChange>) => {
            const { tableText, target, k, components } = e.detail;
            if (tableText !== undefined) session.setTable(tableText);
            if (target !== undefined) session.setTarget(target);
            if (k !== undefined) session.setClusters(k);
            if (components !== undefined) session.setComponents(components);
          }}
        ></acn-table-input>`;
      }
      case 'unsupported':
        // A language model has its own screen: a conversation, streamed, with Stop.
        return entry.kind === 'text-generation'
          ? html`<p data-testid="run-chat-hint">
              ${entry.name} is a language model: chat with it on the <a href="/chat">Chat screen</a>.
            </p>`
          : html`<p>${inputError}</p>`;
    }
  }

  private renderRun(entry: ModelEntry, session: RunSession, snapshot: RunSnapshot): TemplateResult {
    const { prepared, run } = snapshot;
    const { status } = this;
    const busy = run.kind === 'local' || run.kind === 'network';
    const balance = status.balance;
    const tooPoor = prepared !== undefined && balance !== undefined && prepared.maxPrice > balance;
    return html`<div class="price" data-testid="run-price" data-value=${prepared?.maxPrice ?? ''}>
        <span>Price on the network</span>
        <strong>${prepared ? tokens(prepared.maxPrice) : '—'}</strong>
      </div>
      <p class="hint">
        ${
          prepared
            ? `${prepared.units} × ${entry.price.perUnit} per ${entry.price.unit}. The most you pay; running on this phone is free.`
            : 'Give the model its input to see the price.'
        }
        ${balance === undefined ? '' : ` Your balance: ${balance}.`}
      </p>
      ${
        tooPoor
          ? html`<div class="notice warn">
              Your balance is too low to run this on the network. Run it on this phone, or earn tokens by contributing.
            </div>`
          : nothing
      }
      ${
        status.connection === 'offline' || status.connection === 'unreachable'
          ? html`<p class="hint">You are offline: a task sent now is queued and sent when you are back online.</p>`
          : nothing
      }
      <div class="run-buttons">
        ${
          entry.sizeClass === 'phone'
            ? html`<button
                class="secondary"
                data-testid="run-local"
                ?disabled=${!prepared || busy}
                @click=${() => void session.runOnPhone()}
              >
                Run on this phone
              </button>`
            : nothing
        }
        <button
          data-testid="run-network"
          ?disabled=${!prepared || busy || tooPoor}
          @click=${() => void session.runOnNetwork()}
        >
          Run on the network
        </button>
      </div>
      <div aria-live="polite">
        <acn-run-result .run=${run} @acn-run-cancel=${() => void session.cancel()}></acn-run-result>
      </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'page-run': PageRun;
  }
}
