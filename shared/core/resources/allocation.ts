/**
 * How much of a device a contributor gives the network: a preset or custom
 * percentages of CPU, RAM, storage and GPU, and the pause rules. The presets
 * and ranges come from the original specification.
 */
import * as v from 'valibot';
import { decoderFor } from '../messages/fields.ts';
import { err, ok, type Result } from '../result.ts';
import { InvalidAllocationError } from './errors.ts';

export const PRESET_NAMES = ['conservative', 'balanced', 'generous', 'mobile'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export interface Shares {
  /** Percent of the device's CPU time. */
  readonly cpu: number;
  /** Percent of its memory. */
  readonly ram: number;
  /** Percent of its free storage. */
  readonly storage: number;
  /** Percent of its GPU; 0 keeps WebGPU off. */
  readonly gpu: number;
}

export const PRESETS: Readonly<Record<PresetName, Shares>> = {
  conservative: { cpu: 5, ram: 10, storage: 2, gpu: 5 },
  balanced: { cpu: 10, ram: 15, storage: 5, gpu: 10 },
  generous: { cpu: 20, ram: 30, storage: 10, gpu: 25 },
  mobile: { cpu: 5, ram: 5, storage: 1, gpu: 0 },
};

export const DEFAULT_PRESET: PresetName = 'balanced';

/** Inclusive ranges a custom allocation may take, in percent. */
export const CUSTOM_RANGES: Readonly<Record<keyof Shares, readonly [number, number]>> = {
  cpu: [5, 80],
  ram: [5, 70],
  storage: [1, 50],
  gpu: [0, 90],
};

const percent = v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(100));

export const resourceAllocationSchema = v.strictObject({
  preset: v.picklist([...PRESET_NAMES, 'custom']),
  cpu: percent,
  ram: percent,
  storage: percent,
  gpu: percent,
  /** Stop taking tasks while the page is hidden. */
  pauseWhenHidden: v.boolean(),
  /** Stop taking tasks while the device runs on battery. */
  pauseOnBattery: v.boolean(),
});

export type ResourceAllocation = v.InferOutput<typeof resourceAllocationSchema>;

/** Decodes untrusted input into an allocation whose shares fit its preset or the custom ranges. */
export function decodeResourceAllocation(value: unknown): Result<ResourceAllocation, InvalidAllocationError> {
  const shaped = decodeShape(value);
  if (!shaped.ok) return err(new InvalidAllocationError(shaped.error.message));
  return validateAllocation(shaped.value);
}
const decodeShape = decoderFor('resource allocation', resourceAllocationSchema);

/** Checks a preset allocation matches its preset, and a custom one lies within {@link CUSTOM_RANGES}. */
export function validateAllocation(allocation: ResourceAllocation): Result<ResourceAllocation, InvalidAllocationError> {
  if (allocation.preset !== 'custom') {
    const preset = PRESETS[allocation.preset];
    for (const key of SHARE_KEYS) {
      if (allocation[key] !== preset[key]) {
        return err(new InvalidAllocationError(`${key} must be ${preset[key]}% in the ${allocation.preset} preset`));
      }
    }
    return ok(allocation);
  }
  for (const key of SHARE_KEYS) {
    const [min, max] = CUSTOM_RANGES[key];
    if (allocation[key] < min || allocation[key] > max) {
      return err(new InvalidAllocationError(`${key} must be between ${min}% and ${max}%`));
    }
  }
  return ok(allocation);
}

const SHARE_KEYS = ['cpu', 'ram', 'storage', 'gpu'] as const;

/** The allocation of a preset, with the default pause rules (pause when hidden and on battery). */
export function presetAllocation(name: PresetName = DEFAULT_PRESET): ResourceAllocation {
  return { preset: name, ...PRESETS[name], pauseWhenHidden: true, pauseOnBattery: true };
}

/** What a device has in total. */
export interface DeviceTotals {
  /** Logical cores (`navigator.hardwareConcurrency`, `os.availableParallelism()`). */
  readonly cores: number;
  readonly memoryBytes: number;
  /** Storage the app could use (`navigator.storage.estimate().quota`, free disk). */
  readonly storageBytes: number;
  /** GPU memory, when known; 0 when there is no usable GPU. */
  readonly gpuMemoryBytes: number;
}

/** Concrete limits a worker enforces. */
export interface ResourceLimits {
  /** Inference threads per session (WASM threads or intra-op threads). */
  readonly threads: number;
  /** Tasks run at the same time. */
  readonly concurrentTasks: number;
  /**
   * Share of wall time the worker may be busy, 0 to 1. A share below one
   * core's worth is enforced by idling between tasks.
   */
  readonly dutyCycle: number;
  /** Bytes of models kept in memory. */
  readonly memoryBytes: number;
  /** Bytes of models kept on disk. */
  readonly storageBytes: number;
  readonly gpu: { readonly enabled: boolean; readonly maxModelBytes: number };
}

/**
 * Turns shares into limits for a device. CPU: the share of all cores, as whole
 * threads (at least one) plus a duty cycle for the fraction of a core that is
 * left; one task per two threads. Memory, storage and GPU are plain shares.
 */
export function limitsFor(shares: Shares, device: DeviceTotals): ResourceLimits {
  const cores = Math.max(1, Math.floor(device.cores));
  const coreShare = (cores * shares.cpu) / 100;
  const threads = Math.min(cores, Math.max(1, Math.floor(coreShare)));
  const gpuBytes = Math.floor((device.gpuMemoryBytes * shares.gpu) / 100);
  return {
    threads,
    concurrentTasks: Math.max(1, Math.floor(threads / 2)),
    dutyCycle: Math.min(1, coreShare / threads),
    memoryBytes: Math.floor((device.memoryBytes * shares.ram) / 100),
    storageBytes: Math.floor((device.storageBytes * shares.storage) / 100),
    gpu: { enabled: shares.gpu > 0 && gpuBytes > 0, maxModelBytes: gpuBytes },
  };
}
