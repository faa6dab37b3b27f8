/**
 * Run: pick a model from the relay's catalogue, give it its input (text, a
 * photo, or a table of numbers), see the price, then run it on this phone
 * (small models) or on the network (signed and paid; queued in the outbox
 * when offline), and read the result decoded for people.
 */
import { consume } from '@lit/context';
import { Task } from '@lit/task';
import { css, html, LitElement, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import type { TaskId } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { Raster } from '#core/pipelines/image.ts';
import '../components/acn-progress.ts';
import '../components/acn-task-output.ts';
import type { LocalDownloadProgress } from '../inference/run-locally.ts';
import { servicesContext, statusContext, type AppServices, type AppStatus } from '../services/app-context.ts';
import { errorText, type ErrorText } from '../services/error-text.ts';
import { imageToRaster } from '../services/image-raster.ts';
import {
  EXAMPLE_TABLES,
  imageMaxSide,
  inputKindOf,
  parseTable,
  prepareInput,
  type PreparedInput,
  type UserInput,
} from '../services/model-input.ts';
import { outputViewOf, type OutputView } from '../services/output-view.ts';
import { sharedStyles } from '../styles/shared-styles.ts';

type RunState =
  | { readonly kind: 'idle' }
  | {
      readonly kind: 'local';
      readonly download: LocalDownloadProgress | undefined;
      readonly phase: 'loading' | 'running';
    }
  | { readonly kind: 'network'; readonly phase: 'sending' | 'waiting'; readonly taskId: TaskId | undefined }
  | { readonly kind: 'queued'; readonly taskId: TaskId }
  | {
      readonly kind: 'done';
      readonly where: 'phone' | 'network';
      readonly view: OutputView;
      readonly backend: string | undefined;
      readonly ms: number | undefined;
      readonly taskId: TaskId | undefined;
      /** On the network: straight to a desktop worker over WebRTC, or through the relay. */
      readonly via: 'webrtc' | 'relay' | undefined;
      /** The worker's address as the direct connection saw it. */
      readonly remoteAddr: string | undefined;
    }
  | { readonly kind: 'failed'; readonly error: ErrorText };

const SIZE_TEXT: Readonly<Record<ModelEntry['sizeClass'], string>> = {
  phone: 'Runs on phones',
  desktop: 'Desktop workers',
  heavy: 'Relay only',
};

/** Shortest time between two progress repaints. */
const PROGRESS_INTERVAL_MS = 150;

const megabytes = (bytes: number): string =>
  bytes < 1e5 ? `${Math.max(1, Math.round(bytes / 1e3))} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
const tokens = (n: number): string => `${n} token${n === 1 ? '' : 's'}`;
const totalBytes = (entry: ModelEntry): number => entry.bytes + entry.assets.reduce((sum, a) => sum + a.bytes, 0);

@customElement('page-run')
export class PageRun extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      fieldset {
        border: 0;
        margin: 0;
        padding: 0;
      }
      legend {
        font-weight: 600;
        margin: 0 0 8px;
        padding: 0;
      }
      .model {
        display: flex;
        gap: 12px;
        align-items: flex-start;
        padding: 12px;
        min-height: 48px;
        border: 1px solid var(--acn-border);
        border-radius: 10px;
        margin: 0 0 8px;
        cursor: pointer;
        font-weight: 400;
      }
      .model:has(input:checked) {
        border-color: var(--acn-primary);
        box-shadow: inset 0 0 0 1px var(--acn-primary);
        background: #f0fdfa;
      }
      .model input {
        width: 24px;
        height: 24px;
        margin: 2px 0 0;
        flex: none;
        accent-color: var(--acn-primary);
      }
      .model strong {
        display: block;
      }
      .model .meta {
        display: flex;
        flex-wrap: wrap;
        gap: 6px;
        margin-top: 6px;
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
      .params {
        display: grid;
        grid-template-columns: repeat(auto-fit, minmax(140px, 1fr));
        gap: 8px;
      }
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

  @consume({ context: servicesContext, subscribe: true })
  @state()
  services: AppServices | undefined;

  @consume({ context: statusContext, subscribe: true })
  @state()
  status!: AppStatus;

  @state() private selectedId: string | undefined;
  @state() private text = '';
  @state() private tableText = '';
  @state() private target: number | undefined;
  @state() private k = 2;
  @state() private components = 2;
  @state() private image: Raster<3> | undefined;
  @state() private previewUrl: string | undefined;
  @state() private imageBusy = false;
  @state() private prepared: PreparedInput | undefined;
  @state() private inputError: string | undefined;
  @state() private run: RunState = { kind: 'idle' };

  private controller: AbortController | undefined;

  private readonly catalogue = new Task(this, {
    task: async ([services], { signal }) => (services ? (await services.catalogue({ signal })).models : undefined),
    args: () => [this.services] as const,
  });

  override disconnectedCallback(): void {
    this.controller?.abort();
    if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
    super.disconnectedCallback();
  }

  private get models(): readonly ModelEntry[] {
    return this.catalogue.value ?? [];
  }

  private get entry(): ModelEntry | undefined {
    return this.models.find((m) => m.id === this.selectedId);
  }

  protected override willUpdate(changed: PropertyValues): void {
    let inputChanged = ['selectedId', 'text', 'tableText', 'target', 'k', 'components', 'image'].some((key) =>
      changed.has(key),
    );
    // The first model the app can build input for is chosen for the user.
    if (this.selectedId === undefined && this.models.length > 0) {
      this.select(this.models.find((m) => inputKindOf(m) !== 'unsupported') ?? this.models[0]);
      inputChanged = true;
    }
    if (inputChanged) this.prepare();
  }

  private select(entry: ModelEntry | undefined): void {
    if (!entry) return;
    this.controller?.abort();
    this.selectedId = entry.id;
    this.run = { kind: 'idle' };
    if (inputKindOf(entry) === 'table') {
      this.tableText = EXAMPLE_TABLES[entry.pre] ?? '';
      this.target = undefined;
    }
    if (inputKindOf(entry) === 'image') this.setImage(undefined, undefined);
  }

  private setImage(image: Raster<3> | undefined, file: Blob | undefined): void {
    if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
    this.previewUrl = file ? URL.createObjectURL(file) : undefined;
    this.image = image;
  }

  /** The user's input for the chosen model, or an error saying what to fix. */
  private userInput(entry: ModelEntry): UserInput | string {
    switch (inputKindOf(entry)) {
      case 'text':
        return this.text.trim() === '' ? 'Type or paste some text.' : { kind: 'text', text: this.text };
      case 'image':
        return this.image ? { kind: 'image', image: this.image } : 'Take a photo or choose a picture.';
      case 'table': {
        try {
          const { columns, rows } = parseTable(this.tableText);
          const width = rows[0]?.length ?? 0;
          const names = columns?.length === width ? columns : undefined;
          const table =
            entry.pre === 'linear-regression'
              ? { rows, ...(names ? { columns: names } : {}), target: this.target ?? width - 1 }
              : entry.pre === 'kmeans'
                ? { rows, ...(names ? { columns: names } : {}), k: this.k }
                : { rows, ...(names ? { columns: names } : {}), components: Math.min(this.components, width) };
          return { kind: 'table', table };
        } catch (error) {
          return errorText(error).message;
        }
      }
      case 'unsupported':
        return 'This model takes raw tensors: use the SDK or the command line to run it.';
    }
  }

  private prepare(): void {
    const entry = this.entry;
    if (!entry) {
      this.prepared = undefined;
      return;
    }
    const input = this.userInput(entry);
    if (typeof input === 'string') {
      this.prepared = undefined;
      this.inputError = input;
      return;
    }
    try {
      this.prepared = prepareInput(entry, input);
      this.inputError = undefined;
    } catch (error) {
      this.prepared = undefined;
      this.inputError = errorText(error).message;
    }
  }

  private async onPhoto(event: Event): Promise<void> {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    const entry = this.entry;
    input.value = '';
    if (!file || !entry) return;
    this.imageBusy = true;
    try {
      this.setImage(await imageToRaster(file, imageMaxSide(entry)), file);
    } catch (error) {
      this.setImage(undefined, undefined);
      this.inputError = errorText(error).message;
    } finally {
      this.imageBusy = false;
    }
  }

  private async runOnPhone(): Promise<void> {
    const { entry, prepared, services } = this;
    if (!entry || !prepared || !services) return;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.run = { kind: 'local', download: undefined, phase: 'loading' };
    let shownAt = 0;
    try {
      const { runLocally } = await import('../inference/run-locally.ts');
      const result = await runLocally(entry, prepared.bytes, {
        relayUrl: services.relayUrl,
        signal: controller.signal,
        onDownloadProgress: (download) => {
          // Downloads report every chunk; a few repaints a second are enough for a progress bar.
          const now = performance.now();
          const finished = download.loaded >= download.total;
          if (!finished && now - shownAt < PROGRESS_INTERVAL_MS) return;
          shownAt = now;
          this.run = { kind: 'local', download, phase: finished ? 'running' : 'loading' };
        },
      });
      this.run = {
        kind: 'done',
        where: 'phone',
        view: outputViewOf(entry, result.output, this.tableNames()),
        backend: result.backend === 'webgpu' ? 'WebGPU' : 'WASM',
        ms: result.ms,
        taskId: undefined,
        via: undefined,
        remoteAddr: undefined,
      };
    } catch (error) {
      if (controller.signal.aborted) {
        this.run = { kind: 'idle' };
        return;
      }
      this.run = { kind: 'failed', error: errorText(error) };
    }
  }

  private async runOnNetwork(): Promise<void> {
    const { entry, prepared, services } = this;
    if (!entry || !prepared || !services) return;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    const { signal } = controller;
    this.run = { kind: 'network', phase: 'sending', taskId: undefined };
    try {
      const outcome = await services.submit(entry, prepared, { signal });
      if (outcome.kind === 'queued') {
        this.run = { kind: 'queued', taskId: outcome.taskId };
        return;
      }
      const taskId = outcome.task.id;
      this.run = { kind: 'network', phase: 'waiting', taskId };
      // A direct run's own result says which way it went; otherwise the relay runs it brokered.
      const result =
        outcome.direct === undefined
          ? {
              ...(await services.client.waitForResult(taskId, { signal })),
              via: 'relay' as const,
              remoteAddr: undefined,
            }
          : await untilAborted(outcome.direct, signal);
      this.run = {
        kind: 'done',
        where: 'network',
        view: outputViewOf(entry, result.output, this.tableNames()),
        backend: undefined,
        ms: result.task.finishedAt === undefined ? undefined : result.task.finishedAt - result.task.submittedAt,
        taskId,
        via: result.via,
        remoteAddr: result.remoteAddr,
      };
      if (document.visibilityState === 'hidden') void services.notifyResult(taskId);
    } catch (error) {
      if (signal.aborted) return;
      this.run = { kind: 'failed', error: errorText(error) };
    }
  }

  /** Stops waiting; a task still pending on the relay is cancelled (and refunded). */
  private async cancel(): Promise<void> {
    const run = this.run;
    this.controller?.abort();
    this.run = { kind: 'idle' };
    if (run.kind === 'network' && run.taskId !== undefined) {
      try {
        await this.services?.client.cancelTask(run.taskId);
      } catch (error) {
        this.run = { kind: 'failed', error: errorText(error) };
      }
    }
  }

  private tableNames(): { columns: readonly string[] | undefined; target: number | undefined } {
    const input = this.entry ? this.userInput(this.entry) : undefined;
    if (typeof input !== 'object' || input.kind !== 'table') return { columns: undefined, target: undefined };
    return { columns: input.table.columns, target: input.table.target };
  }

  override render(): TemplateResult {
    return html`<h1>Run a task</h1>
      ${this.catalogue.render({
        initial: () => html`<p class="muted">Loading the models…</p>`,
        pending: () => html`<p class="muted">Loading the models…</p>`,
        complete: (models) =>
          models === undefined
            ? html`<p class="muted">Loading the models…</p>`
            : models.length === 0
              ? html`<div class="empty card">This relay offers no models yet.</div>`
              : this.renderForm(models),
        error: (error) =>
          html`<div class="notice error" role="alert" data-testid="run-catalogue-error">
              ${errorText(error).message}
            </div>
            <button @click=${() => void this.catalogue.run()}>Try again</button>`,
      })}`;
  }

  private renderForm(models: readonly ModelEntry[]): TemplateResult {
    const entry = this.entry;
    return html`<section class="card" aria-labelledby="model-heading">
        <h2 id="model-heading">1. Choose a model</h2>
        <fieldset>
          <legend class="visually-hidden">Model</legend>
          ${models.map((m) => this.renderModel(m))}
        </fieldset>
      </section>
      ${
        entry
          ? html`<section class="card" aria-labelledby="input-heading">
                <h2 id="input-heading">2. Your input</h2>
                ${this.renderInput(entry)}
              </section>
              <section class="card" aria-labelledby="run-heading">
                <h2 id="run-heading">3. Run</h2>
                ${this.renderRun(entry)}
              </section>`
          : nothing
      }`;
  }

  private renderModel(m: ModelEntry): TemplateResult {
    return html`<label class="model" data-testid="model-option" data-model=${m.name}>
      <input
        type="radio"
        name="model"
        .value=${m.id}
        .checked=${m.id === this.selectedId}
        @change=${() => {
          this.select(m);
        }}
      />
      <span>
        <strong>${m.name}</strong>
        ${m.id === this.selectedId ? html`<span class="muted">${m.description}</span>` : nothing}
        <span class="meta">
          <span class="badge">${tokens(m.price.perUnit)} per ${m.price.unit}</span>
          <span class="badge ${m.sizeClass === 'phone' ? 'ok' : ''}">${SIZE_TEXT[m.sizeClass]}</span>
          <span class="badge">${megabytes(totalBytes(m))}</span>
        </span>
      </span>
    </label>`;
  }

  private renderInput(entry: ModelEntry): TemplateResult {
    const error = this.inputError;
    const errorBlock = error
      ? html`<p class="hint" id="input-error" data-testid="run-input-error">${error}</p>`
      : nothing;
    switch (inputKindOf(entry)) {
      case 'text':
        return html`<div class="field">
          <label for="run-text">Text to identify the language of</label>
          <textarea
            id="run-text"
            data-testid="run-text"
            maxlength="4000"
            aria-describedby="input-error"
            .value=${this.text}
            @input=${(e: Event) => (this.text = (e.target as HTMLTextAreaElement).value)}
          ></textarea>
          ${errorBlock}
        </div>`;
      case 'image':
        return html`<div class="photo-buttons">
            <label class="button">
              <input
                type="file"
                accept="image/*"
                capture="environment"
                data-testid="run-camera"
                @change=${(e: Event) => void this.onPhoto(e)}
              />
              Take a photo
            </label>
            <label class="button secondary">
              <input
                type="file"
                accept="image/*"
                data-testid="run-image"
                @change=${(e: Event) => void this.onPhoto(e)}
              />
              Choose a picture
            </label>
          </div>
          <div class="preview">
            ${
              this.imageBusy
                ? html`<span class="muted">Reading the picture…</span>`
                : this.previewUrl
                  ? html`<img src=${this.previewUrl} alt="The picture to send" />`
                  : html`<span class="muted">No picture yet</span>`
            }
          </div>
          ${this.image ? html`<p class="hint">Sent as ${this.image.width} × ${this.image.height} pixels.</p>` : nothing}
          ${errorBlock}`;
      case 'table':
        return this.renderTable(entry, errorBlock);
      case 'unsupported':
        return html`<p>${error}</p>`;
    }
  }

  private renderTable(entry: ModelEntry, errorBlock: TemplateResult | typeof nothing): TemplateResult {
    const input = this.userInput(entry);
    const table = typeof input === 'object' && input.kind === 'table' ? input.table : undefined;
    const width = table?.rows[0]?.length ?? 0;
    const names = table?.columns ?? Array.from({ length: width }, (_, i) => `Column ${i + 1}`);
    return html`<div class="field">
        <label for="run-table">Numbers: one row per line, values separated by commas</label>
        <textarea
          id="run-table"
          data-testid="run-table"
          aria-describedby="input-error table-hint"
          spellcheck="false"
          .value=${this.tableText}
          @input=${(e: Event) => (this.tableText = (e.target as HTMLTextAreaElement).value)}
        ></textarea>
        <p class="hint" id="table-hint">
          A first line of names is optional. ${table ? `${table.rows.length} rows, ${width} columns.` : ''}
        </p>
        ${errorBlock}
      </div>
      <div class="params">
        ${
          entry.pre === 'linear-regression'
            ? html`<div class="field">
                <label for="run-target">Column to predict</label>
                <select
                  id="run-target"
                  @change=${(e: Event) => (this.target = Number((e.target as HTMLSelectElement).value))}
                >
                  ${names.map(
                    (name, i) =>
                      html`<option value=${i} ?selected=${(this.target ?? width - 1) === i}>${name}</option>`,
                  )}
                </select>
              </div>`
            : nothing
        }
        ${
          entry.pre === 'kmeans'
            ? html`<div class="field">
                <label for="run-k">Number of clusters</label>
                <input
                  id="run-k"
                  type="number"
                  inputmode="numeric"
                  min="1"
                  max="64"
                  .value=${String(this.k)}
                  @input=${(e: Event) => (this.k = Number((e.target as HTMLInputElement).value))}
                />
              </div>`
            : nothing
        }
        ${
          entry.pre === 'pca'
            ? html`<div class="field">
                <label for="run-components">Components to keep</label>
                <input
                  id="run-components"
                  type="number"
                  inputmode="numeric"
                  min="1"
                  max=${Math.max(1, width)}
                  .value=${String(this.components)}
                  @input=${(e: Event) => (this.components = Number((e.target as HTMLInputElement).value))}
                />
              </div>`
            : nothing
        }
      </div>`;
  }

  private renderRun(entry: ModelEntry): TemplateResult {
    const { prepared, run, status } = this;
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
                @click=${() => void this.runOnPhone()}
              >
                Run on this phone
              </button>`
            : nothing
        }
        <button
          data-testid="run-network"
          ?disabled=${!prepared || busy || tooPoor || !this.services}
          @click=${() => void this.runOnNetwork()}
        >
          Run on the network
        </button>
      </div>
      <div aria-live="polite">${this.renderRunState()}</div>`;
  }

  private renderRunState(): TemplateResult | typeof nothing {
    const run = this.run;
    switch (run.kind) {
      case 'idle':
        return nothing;
      case 'local': {
        const d = run.download;
        return html`<div data-testid="run-result" data-state="running-local" style="margin-top:16px">
          ${
            run.phase === 'loading'
              ? html`<acn-progress
                  label="Downloading the model"
                  .value=${d && d.total > 0 ? d.loaded / d.total : undefined}
                  .detail=${d ? `${megabytes(d.loaded)} of ${megabytes(d.total)}` : 'Checking this device for the model…'}
                ></acn-progress>`
              : html`<acn-progress label="Running on this phone"></acn-progress>`
          }
          <button class="secondary" data-testid="run-cancel" @click=${() => void this.cancel()}>Cancel</button>
        </div>`;
      }
      case 'network':
        return html`<div data-testid="run-result" data-state=${run.phase} style="margin-top:16px">
          <acn-progress
            label=${run.phase === 'sending' ? 'Signing and sending' : 'Waiting for the result'}
          ></acn-progress>
          ${run.taskId ? html`<p class="hint">Task <a href="/tasks/${run.taskId}">${run.taskId.slice(0, 12)}…</a></p>` : nothing}
          <button class="secondary" data-testid="run-cancel" @click=${() => void this.cancel()}>Cancel</button>
        </div>`;
      case 'queued':
        return html`<div
          class="notice info"
          role="status"
          data-testid="run-result"
          data-state="queued"
          style="margin-top:16px"
        >
          Queued, will be sent when online. <a href="/tasks/${run.taskId}">See the task</a>
        </div>`;
      case 'done':
        return html`<div
          data-testid="run-result"
          data-state="done"
          data-where=${run.where}
          data-via=${run.via ?? ''}
          data-remote-addr=${run.remoteAddr ?? ''}
          style="margin-top:16px"
        >
          <p class="row">
            <span class="badge ok">${run.where === 'phone' ? 'Ran on this phone' : 'Ran on the network'}</span>
            ${
              run.via === undefined
                ? nothing
                : html`<span class="badge" data-testid="run-via"
                    >${run.via === 'webrtc' ? 'via WebRTC' : 'via relay'}</span
                  >`
            }
            ${run.backend ? html`<span class="badge" data-testid="run-backend">${run.backend}</span>` : nothing}
            ${run.ms === undefined ? nothing : html`<span class="muted">${Math.round(run.ms)} ms</span>`}
          </p>
          <acn-task-output .view=${run.view}></acn-task-output>
          ${
            run.taskId
              ? html`<p>
                  <a class="button secondary" href="/tasks/${run.taskId}" data-testid="run-verify-link"
                    >Verify this result</a
                  >
                </p>`
              : nothing
          }
        </div>`;
      case 'failed':
        return html`<div
          class="notice error"
          role="alert"
          data-testid="run-result"
          data-state="failed"
          data-code=${run.error.code ?? ''}
          style="margin-top:16px"
        >
          ${run.error.message}
        </div>`;
    }
  }
}

/** `promise`, or the signal's reason once it aborts (the promise itself goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => {
      signal.removeEventListener('abort', onAbort);
    });
  });
}

declare global {
  interface HTMLElementTagNameMap {
    'page-run': PageRun;
  }
}
