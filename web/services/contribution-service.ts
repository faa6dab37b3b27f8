/**
 * This tab as a worker for the network: the resources it may use (a preset
 * or custom shares, kept in the settings and announced to the app's other
 * contexts) and the "Contribute compute" switch, which starts the browser
 * worker of web/contribution/ (loaded only when switched on). The running
 * worker outlives the Contribute screen: {@link ContributionService.active}.
 */
import type { Signer } from '#core/identity/signer.ts';
import { decodeResourceAllocation, type DeviceTotals, type ResourceAllocation } from '#core/resources/allocation.ts';
import type { AIComputeClient } from '#client/sdk/client.ts';
import {
  activeWorker,
  reportStatus,
  setActiveWorker,
  setKeepRunning,
  watchActiveWorker,
  type ActiveWorker,
} from '../contribution/active-worker.ts';
import type { BrowserWorkerSettings } from '../contribution/browser-worker.ts';
import type { SettingsStore } from './settings-store.ts';

/** The setting the allocation is kept under (the browser worker and the service worker read it too). */
export const RESOURCES_SETTING = 'resources';

export interface ContributionServiceInit {
  /** The relay's base URL. */
  readonly relayUrl: string;
  /** The SDK client signing as the account: it stakes and reads the balance. */
  readonly client: AIComputeClient;
  /** The account key: the worker's libp2p identity; signs adverts and receipts. */
  readonly signer: Signer;
  /** Where the allocation is kept. */
  readonly settings: SettingsStore;
}

export interface ContributionService {
  /** The tab's running worker, if any, with its newest status. */
  active(): ActiveWorker | undefined;
  /** Calls `listener` on every change of the running worker or its status; returns the unsubscribe function. */
  watch(listener: (active: ActiveWorker | undefined) => void): () => void;
  /** The stored allocation; undefined when none is stored or it no longer fits (the default then applies). */
  loadAllocation(): Promise<ResourceAllocation | undefined>;
  /** Stores an allocation (checked by the caller with `decodeResourceAllocation`). */
  saveAllocation(allocation: ResourceAllocation): Promise<void>;
  /**
   * Starts this tab's worker with `settings` on `device`. Resolves once it
   * runs, or at once when a worker runs already or {@link stop} was called
   * while the worker's module loaded.
   */
  start(settings: BrowserWorkerSettings, device: DeviceTotals): Promise<void>;
  /** Stops the running worker (its running tasks get a grace period). */
  stop(): Promise<void>;
  /** Hands new settings to the running worker at once; resolves once the relay answered its new advert. */
  update(settings: BrowserWorkerSettings): Promise<void>;
  /** Remembers the override "keep running when hidden or on battery" with the running worker. */
  setKeepRunning(keepRunning: boolean): void;
}

/** Makes the contribution service. */
export function createContributionService(init: ContributionServiceInit): ContributionService {
  const { settings } = init;
  /** Bumped by every start and stop: a start whose module arrives after a stop does nothing. */
  let generation = 0;

  return {
    active: activeWorker,
    watch: watchActiveWorker,
    setKeepRunning,

    async loadAllocation() {
      const stored = await settings.read(RESOURCES_SETTING);
      if (stored === undefined) return undefined;
      const decoded = decodeResourceAllocation(stored);
      // A setting written by an older version that no longer fits is replaced by the default.
      return decoded.ok ? decoded.value : undefined;
    },

    saveAllocation(allocation) {
      return settings.write(RESOURCES_SETTING, allocation);
    },

    async start(workerSettings, device) {
      if (activeWorker()) return;
      const mine = ++generation;
      const { createBrowserWorker } = await import('../contribution/browser-worker.ts');
      if (mine !== generation) return;
      const worker = createBrowserWorker({
        relayUrl: init.relayUrl,
        client: init.client,
        signer: init.signer,
        device,
        settings: workerSettings,
        onStatus: (status) => {
          reportStatus(worker, status);
        },
      });
      setActiveWorker(worker, workerSettings.keepRunning);
      await worker.start();
    },

    async stop() {
      generation++;
      const worker = activeWorker()?.worker;
      setActiveWorker(undefined);
      await worker?.stop();
    },

    async update(workerSettings) {
      await activeWorker()?.worker.update(workerSettings);
    },
  };
}
