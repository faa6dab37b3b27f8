/**
 * Contribute: how much of this device the network may use, as a preset
 * (conservative, balanced, generous, mobile) or custom shares of CPU, RAM,
 * storage and GPU, with the concrete limits each choice implies on this
 * device, and the pause rules. Every change is stored at once in the
 * database's settings (and announced to the app's other contexts).
 *
 * The "Contribute compute" switch runs this tab as a worker
 * (web/contribution/, loaded only when switched on): every allocation change
 * is handed to it at once, and its status is shown live.
 */
import { consume } from '@lit/context';
import { Task } from '@lit/task';
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import {
  CUSTOM_RANGES,
  decodeResourceAllocation,
  limitsFor,
  PRESET_NAMES,
  PRESETS,
  presetAllocation,
  type PresetName,
  type ResourceAllocation,
  type Shares,
} from '#core/resources/allocation.ts';
import { contributionContext, type ContributionService } from '../services/app-context.ts';
import { deviceTotals } from '../services/device-totals.ts';
import { errorText } from '../services/error-text.ts';
import { unbondingText } from '../services/format-unbonding.ts';
import { sharedStyles } from '../styles/shared-styles.ts';
import type { ActiveWorker } from '../contribution/active-worker.ts';
import type { BrowserWorkerStatus } from '../contribution/browser-worker.ts';

/** The settings key of the allocation (read by the workers). */

const PRESET_TEXT: Readonly<Record<PresetName | 'custom', { readonly title: string; readonly text: string }>> = {
  conservative: { title: 'Conservative', text: 'A little, barely noticeable.' },
  balanced: { title: 'Balanced', text: 'The default: a fair share that leaves the device responsive.' },
  generous: { title: 'Generous', text: 'More work for the network, and more tokens for you.' },
  mobile: { title: 'Mobile', text: 'For phones: light on battery and memory, no GPU.' },
  custom: { title: 'Custom', text: 'Choose each share yourself.' },
};

const SHARE_TEXT: Readonly<Record<keyof Shares, string>> = {
  cpu: 'CPU',
  ram: 'Memory (RAM)',
  storage: 'Storage',
  gpu: 'GPU',
};

const SHARE_KEYS = ['cpu', 'ram', 'storage', 'gpu'] as const;

const size = (bytes: number): string =>
  bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GB` : `${Math.round(bytes / 2 ** 20)} MB`;

/** Unstaked tokens still on hold, when there are any. */
function unbondingRow(unbonding: BrowserWorkerStatus['unbonding']): TemplateResult | typeof nothing {
  const text = unbondingText(unbonding);
  return text === undefined
    ? nothing
    : html`<dt>On hold</dt>
        <dd data-testid="contribute-unbonding">${text}</dd>`;
}

@customElement('page-contribute')
export class PageContribute extends LitElement {
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
        padding: 0;
        margin: 0 0 8px;
      }
      .choice {
        display: flex;
        gap: 12px;
        align-items: flex-start;
        min-height: 48px;
        padding: 10px 12px;
        border: 1px solid var(--acn-border);
        border-radius: 10px;
        margin: 0 0 8px;
        font-weight: 400;
        cursor: pointer;
      }
      .choice:has(input:checked) {
        border-color: var(--acn-primary);
        box-shadow: inset 0 0 0 1px var(--acn-primary);
        background: #f0fdfa;
      }
      .choice input {
        width: 24px;
        height: 24px;
        margin: 2px 0 0;
        flex: none;
        accent-color: var(--acn-primary);
      }
      .slider {
        margin: 0 0 16px;
      }
      .slider input {
        width: 100%;
        height: 48px;
        accent-color: var(--acn-primary);
      }
      .slider .spread label {
        margin: 0;
      }
      dl {
        display: grid;
        grid-template-columns: minmax(0, 1fr) auto;
        gap: 6px 12px;
        margin: 0;
      }
      dt {
        color: var(--acn-muted);
      }
      dd {
        margin: 0;
        text-align: right;
        font-weight: 600;
        font-variant-numeric: tabular-nums;
      }
    `,
  ];

  @consume({ context: contributionContext, subscribe: true })
  @state()
  contribution: ContributionService | undefined;

  @state() private allocation: ResourceAllocation = presetAllocation();
  @state() private saved: 'saved' | 'saving' | undefined;
  @state() private saveError: string | undefined;

  @state() private contributing = false;
  @state() private keepRunning = false;
  @state() private worker: BrowserWorkerStatus | undefined;
  @state() private workerError: { readonly code: string; readonly message: string } | undefined;

  private loadedFor: ContributionService | undefined;
  private unwatch: (() => void) | undefined;

  private readonly device = new Task(this, {
    task: () => deviceTotals(),
    args: () => [] as const,
  });

  protected override willUpdate(): void {
    if (this.contribution && this.loadedFor !== this.contribution) {
      this.loadedFor = this.contribution;
      void this.load(this.contribution);
      this.follow(this.contribution);
    }
  }

  override connectedCallback(): void {
    super.connectedCallback();
    if (this.contribution) this.follow(this.contribution);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** The worker outlives this screen: coming back shows the one running. */
  private follow(contribution: ContributionService): void {
    const show = (active: ActiveWorker | undefined): void => {
      if (active === undefined) return;
      this.contributing = true;
      this.keepRunning = active.keepRunning;
      this.worker = active.status;
    };
    this.unwatch?.();
    show(contribution.active());
    this.unwatch = contribution.watch(show);
  }

  private async startContributing(): Promise<void> {
    const contribution = this.contribution;
    if (!contribution || contribution.active()) return;
    this.contributing = true;
    this.workerError = undefined;
    try {
      const device = await (this.device.value ?? deviceTotals());
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- switched off during the await
      if (!this.contributing) return;
      // Switched off while the worker's module loads: the service starts nothing.
      await contribution.start({ allocation: this.allocation, keepRunning: this.keepRunning }, device);
    } catch (error) {
      const code = (error as { code?: unknown } | undefined)?.code;
      // A balance too low to stake says exactly how many tokens are missing: shown as it is.
      const message =
        code === 'insufficient-balance' && error instanceof Error ? error.message : errorText(error).message;
      this.workerError = { code: typeof code === 'string' ? code : 'start-failed', message };
      await this.stopContributing();
    }
  }

  private async stopContributing(): Promise<void> {
    this.contributing = false;
    await this.contribution?.stop();
  }

  /** Hands the allocation now to the running worker (threads, slots, GPU, pause rules, a new advert). */
  private applyToWorker(): void {
    void this.contribution
      ?.update({ allocation: this.allocation, keepRunning: this.keepRunning })
      .catch((error: unknown) => {
        this.workerError = { code: 'update-failed', message: errorText(error).message };
      });
  }

  private async load(contribution: ContributionService): Promise<void> {
    // A setting written by an older version that no longer fits is replaced by the default.
    const stored = await contribution.loadAllocation();
    if (stored !== undefined) this.allocation = stored;
  }

  private async save(next: ResourceAllocation): Promise<void> {
    this.allocation = next;
    const contribution = this.contribution;
    if (!contribution) return;
    const checked = decodeResourceAllocation(next);
    if (!checked.ok) {
      this.saveError = checked.error.message;
      return;
    }
    this.saved = 'saving';
    this.saveError = undefined;
    try {
      this.applyToWorker();
      await contribution.saveAllocation(checked.value);
      this.saved = 'saved';
    } catch (error) {
      this.saved = undefined;
      this.saveError = errorText(error).message;
    }
  }

  private choosePreset(name: PresetName | 'custom'): void {
    const { pauseWhenHidden, pauseOnBattery } = this.allocation;
    void this.save(
      name === 'custom'
        ? { ...this.allocation, preset: 'custom' }
        : { ...presetAllocation(name), pauseWhenHidden, pauseOnBattery },
    );
  }

  /** Moving a slider makes the allocation custom, keeping the other shares. */
  private setShare(key: keyof Shares, value: number, persist: boolean): void {
    const next: ResourceAllocation = { ...this.allocation, preset: 'custom', [key]: value };
    if (persist) void this.save(next);
    else this.allocation = next;
  }

  override render(): TemplateResult {
    const a = this.allocation;
    return html`<h1>Contribute</h1>
      <p>
        Lend this device's spare capacity to the network and earn tokens for the tasks it runs. Your choice is saved on
        this device and applies as soon as it works for the network.
      </p>
      ${this.renderWorker()}
      <section class="card" aria-labelledby="preset-heading">
        <h2 id="preset-heading">How much to give</h2>
        <fieldset>
          <legend class="visually-hidden">Preset</legend>
          ${[...PRESET_NAMES, 'custom' as const].map((name) => {
            const shares = name === 'custom' ? undefined : PRESETS[name];
            return html`<label class="choice">
              <input
                type="radio"
                name="preset"
                data-testid="resource-preset-${name}"
                .checked=${a.preset === name}
                @change=${() => {
                  this.choosePreset(name);
                }}
              />
              <span>
                <strong>${PRESET_TEXT[name].title}</strong><br />
                <span class="muted">${PRESET_TEXT[name].text}</span>
                ${
                  shares
                    ? html`<br /><span class="muted"
                          >CPU ${shares.cpu}% · RAM ${shares.ram}% · storage ${shares.storage}% · GPU
                          ${shares.gpu}%</span
                        >`
                    : nothing
                }
              </span>
            </label>`;
          })}
        </fieldset>
      </section>
      <section class="card" aria-labelledby="shares-heading">
        <h2 id="shares-heading">Shares</h2>
        ${SHARE_KEYS.map((key) => this.renderSlider(key))}
      </section>
      <section class="card" aria-labelledby="limits-heading">
        <h2 id="limits-heading">What this means on this device</h2>
        ${this.renderLimits()}
      </section>
      <section class="card" aria-labelledby="pause-heading">
        <h2 id="pause-heading">When to pause</h2>
        ${this.renderToggle('pauseWhenHidden', 'Pause while the app is in the background', 'pause-hidden')}
        ${this.renderToggle('pauseOnBattery', 'Pause while on battery', 'pause-battery')}
      </section>
      <p role="status" class="muted" data-testid="resources-saved" data-state=${this.saved ?? ''}>
        ${this.saved === 'saved' ? 'Saved.' : this.saved === 'saving' ? 'Saving…' : ''}
      </p>
      ${this.saveError ? html`<div class="notice error" role="alert">${this.saveError}</div>` : nothing}`;
  }

  private renderWorker(): TemplateResult {
    const w = this.worker;
    const running = this.contributing && w !== undefined && w.state !== 'stopped' && w.state !== 'failed';
    const shown = running ? w : undefined;
    const phase = shown === undefined ? 'off' : shown.state === 'online' && shown.paused ? 'paused' : shown.state;
    const phaseText: Record<string, string> = {
      off: 'Off',
      starting: 'Starting…',
      staking: 'Staking tokens…',
      connecting: 'Connecting to the relay…',
      online: 'Connected: taking tasks',
      paused: shown?.paused === 'battery' ? 'Paused: on battery' : 'Paused: the app is in the background',
    };
    return html`<section class="card" aria-labelledby="worker-heading">
      <h2 id="worker-heading">Contribute compute</h2>
      <label class="choice">
        <input
          type="checkbox"
          role="switch"
          data-testid="contribute-switch"
          .checked=${this.contributing}
          ?disabled=${!this.contribution}
          @change=${(e: Event) => {
            if ((e.target as HTMLInputElement).checked) void this.startContributing();
            else void this.stopContributing();
          }}
        />
        <span>Run tasks for the network in this tab while it is open</span>
      </label>
      <label class="choice">
        <input
          type="checkbox"
          data-testid="contribute-keep-running"
          .checked=${this.keepRunning}
          @change=${(e: Event) => {
            this.keepRunning = (e.target as HTMLInputElement).checked;
            this.contribution?.setKeepRunning(this.keepRunning);
            this.applyToWorker();
          }}
        />
        <span>Keep running when hidden or on battery</span>
      </label>
      <dl
        data-testid="contribute-status"
        data-state=${phase}
        data-connected=${String(shown?.connected ?? false)}
        data-paused=${shown?.paused ?? ''}
        data-running=${shown?.tasks.running ?? 0}
        data-done=${shown?.tasks.done ?? 0}
        data-failed=${shown?.tasks.failed ?? 0}
        data-threads=${shown?.limits.threads ?? ''}
        data-concurrency=${shown?.limits.concurrentTasks ?? ''}
        data-webgpu=${String(shown?.webgpu ?? false)}
        data-last-threads=${shown?.lastTaskThreads ?? ''}
        data-inference-workers=${shown?.inferenceWorkersStarted ?? 0}
        data-inference-ready=${String(shown?.inferenceReady ?? false)}
        data-advert-seq=${shown?.advert?.seq ?? ''}
        data-advert-ok=${shown?.advert === undefined ? '' : String(shown.advert.ok)}
        data-advert-models=${shown?.advert?.models ?? ''}
        data-earned=${shown?.earned ?? 0}
        data-balance=${shown?.balance ?? ''}
        data-account=${shown?.account ?? ''}
      >
        <dt>Status</dt>
        <dd data-testid="contribute-phase">${phaseText[phase] ?? phase}</dd>
        ${
          shown
            ? html`<dt>Tasks running / done</dt>
                <dd>${shown.tasks.running} / ${shown.tasks.done}</dd>
                <dt>Threads / tasks at once</dt>
                <dd>${shown.limits.threads} / ${shown.limits.concurrentTasks}</dd>
                <dt>GPU</dt>
                <dd>${shown.webgpu ? 'WebGPU' : 'off (WASM)'}</dd>
                <dt>Models offered</dt>
                <dd>${shown.models.length}</dd>
                ${
                  shown.advert?.ok === false
                    ? html`<dt>Relay</dt>
                        <dd>advert refused: ${shown.advert.error?.message ?? ''}</dd>`
                    : nothing
                }
                <dt>Earned</dt>
                <dd data-testid="contribute-earned">${shown.earned} tokens</dd>
                ${unbondingRow(shown.unbonding)}`
            : nothing
        }
      </dl>
      ${
        this.workerError
          ? html`<div
              class="notice error"
              role="alert"
              data-testid="contribute-error"
              data-code=${this.workerError.code}
            >
              ${this.workerError.message}
            </div>`
          : nothing
      }
    </section>`;
  }

  private renderSlider(key: keyof Shares): TemplateResult {
    const [min, max] = CUSTOM_RANGES[key];
    const value = this.allocation[key];
    const id = `share-${key}`;
    return html`<div class="slider">
      <div class="spread">
        <label for=${id}>${SHARE_TEXT[key]}</label>
        <output for=${id} data-testid="resource-value-${key}">${value}%</output>
      </div>
      <input
        id=${id}
        type="range"
        min=${min}
        max=${max}
        step="1"
        .value=${String(Math.min(max, Math.max(min, value)))}
        data-testid="resource-slider-${key}"
        aria-valuetext="${value} percent"
        @input=${(e: Event) => {
          this.setShare(key, Number((e.target as HTMLInputElement).value), false);
        }}
        @change=${(e: Event) => {
          this.setShare(key, Number((e.target as HTMLInputElement).value), true);
        }}
      />
    </div>`;
  }

  private renderLimits(): TemplateResult {
    const device = this.device.value;
    if (!device) return html`<p class="muted">Reading this device…</p>`;
    const limits = limitsFor(this.allocation, device);
    return html`<dl data-testid="resource-limits" data-threads=${limits.threads} data-memory=${limits.memoryBytes}>
        <dt>Inference threads (of ${device.cores} cores)</dt>
        <dd>${limits.threads}</dd>
        <dt>Tasks at the same time</dt>
        <dd>${limits.concurrentTasks}</dd>
        <dt>Busy at most</dt>
        <dd>${Math.round(limits.dutyCycle * 100)}% of the time</dd>
        <dt>Models kept in memory</dt>
        <dd>${size(limits.memoryBytes)}</dd>
        <dt>Models kept on disk</dt>
        <dd>${size(limits.storageBytes)}</dd>
        <dt>GPU</dt>
        <dd>${limits.gpu.enabled ? `on, models up to ${size(limits.gpu.maxModelBytes)}` : 'off'}</dd>
      </dl>
      <p class="hint">Browsers report memory and GPU only roughly; the figures are estimates.</p>`;
  }

  private renderToggle(key: 'pauseWhenHidden' | 'pauseOnBattery', label: string, testid: string): TemplateResult {
    return html`<label class="choice">
      <input
        type="checkbox"
        data-testid=${testid}
        .checked=${this.allocation[key]}
        @change=${(e: Event) => {
          void this.save({ ...this.allocation, [key]: (e.target as HTMLInputElement).checked });
        }}
      />
      <span>${label}</span>
    </label>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'page-contribute': PageContribute;
  }
}
