import { describe, expect, it } from 'vitest';
import {
  AcnError,
  CUSTOM_RANGES,
  decodeResourceAllocation,
  DEFAULT_PRESET,
  InvalidAllocationError,
  limitsFor,
  PRESET_NAMES,
  presetAllocation,
  PRESETS,
  validateAllocation,
  type DeviceTotals,
  type ResourceAllocation,
  type Shares,
} from '#core/index.ts';
import { expectError } from '#test/values.ts';

const GiB = 1024 ** 3;
const SHARES = ['cpu', 'ram', 'storage', 'gpu'] as const;

describe('presets', () => {
  it('match the specification exactly (cpu / ram / storage / gpu percent)', () => {
    expect(PRESETS).toEqual({
      conservative: { cpu: 5, ram: 10, storage: 2, gpu: 5 },
      balanced: { cpu: 10, ram: 15, storage: 5, gpu: 10 },
      generous: { cpu: 20, ram: 30, storage: 10, gpu: 25 },
      mobile: { cpu: 5, ram: 5, storage: 1, gpu: 0 },
    });
    expect(PRESET_NAMES).toEqual(['conservative', 'balanced', 'generous', 'mobile']);
  });

  it('balanced is the default, pausing when hidden and on battery', () => {
    expect(DEFAULT_PRESET).toBe('balanced');
    expect(presetAllocation()).toEqual({
      preset: 'balanced',
      cpu: 10,
      ram: 15,
      storage: 5,
      gpu: 10,
      pauseWhenHidden: true,
      pauseOnBattery: true,
    });
  });

  it('every preset allocation decodes and validates', () => {
    for (const name of PRESET_NAMES) {
      const allocation = presetAllocation(name);
      expect(allocation).toMatchObject({ preset: name, ...PRESETS[name] });
      expect(decodeResourceAllocation(allocation)).toEqual({ ok: true, value: allocation });
      expect(validateAllocation(allocation).ok).toBe(true);
      for (const pauseWhenHidden of [true, false]) {
        for (const pauseOnBattery of [true, false]) {
          expect(decodeResourceAllocation({ ...allocation, pauseWhenHidden, pauseOnBattery }).ok).toBe(true);
        }
      }
    }
  });

  it('a preset allocation whose shares differ from the preset is refused', () => {
    for (const name of PRESET_NAMES) {
      for (const key of SHARES) {
        for (const delta of [-1, 1]) {
          const value = PRESETS[name][key] + delta;
          if (value < 0) continue;
          const allocation = { ...presetAllocation(name), [key]: value };
          expectError(decodeResourceAllocation(allocation), 'InvalidAllocationError', 'invalid-allocation');
          expectError(validateAllocation(allocation), 'InvalidAllocationError', 'invalid-allocation');
        }
      }
    }
  });
});

describe('custom allocations', () => {
  const custom = (shares: Partial<Shares>): ResourceAllocation => ({
    preset: 'custom',
    cpu: 10,
    ram: 10,
    storage: 10,
    gpu: 10,
    pauseWhenHidden: false,
    pauseOnBattery: true,
    ...shares,
  });

  it('have the specified ranges: CPU 5-80, RAM 5-70, storage 1-50, GPU 0-90', () => {
    expect(CUSTOM_RANGES).toEqual({ cpu: [5, 80], ram: [5, 70], storage: [1, 50], gpu: [0, 90] });
  });

  for (const key of SHARES) {
    const [min, max] = CUSTOM_RANGES[key];

    it(`${key}: accepted at ${min} and ${max}, refused at ${min - 1} and ${max + 1}`, () => {
      for (const value of [min, max, Math.floor((min + max) / 2)]) {
        expect(decodeResourceAllocation(custom({ [key]: value })).ok, `${key} ${value}`).toBe(true);
      }
      for (const value of [min - 1, max + 1]) {
        const error = expectError(
          decodeResourceAllocation(custom({ [key]: value })),
          'InvalidAllocationError',
          'invalid-allocation',
        );
        expect(error).toBeInstanceOf(InvalidAllocationError);
        expect(error).toBeInstanceOf(AcnError);
      }
    });
  }

  it('all shares at their maximum, and all at their minimum', () => {
    expect(decodeResourceAllocation(custom({ cpu: 80, ram: 70, storage: 50, gpu: 90 })).ok).toBe(true);
    expect(decodeResourceAllocation(custom({ cpu: 5, ram: 5, storage: 1, gpu: 0 })).ok).toBe(true);
  });

  it('refuses malformed shapes with InvalidAllocationError', () => {
    const base = custom({});
    const bad: unknown[] = [
      null,
      'balanced',
      { ...base, preset: 'max' },
      { ...base, cpu: 10.5 },
      { ...base, cpu: '10' },
      { ...base, cpu: 101 },
      { ...base, gpu: -1 },
      { ...base, pauseWhenHidden: 'yes' },
      { ...base, extra: true },
      Object.fromEntries(Object.entries(base).filter(([key]) => key !== 'pauseOnBattery')),
    ];
    for (const value of bad)
      expectError(decodeResourceAllocation(value), 'InvalidAllocationError', 'invalid-allocation');
  });
});

describe('limitsFor', () => {
  const desktop: DeviceTotals = { cores: 8, memoryBytes: 16 * GiB, storageBytes: 100e9, gpuMemoryBytes: 8 * GiB };

  it('balanced on 8 cores / 16 GiB: one thread at an 80% duty cycle', () => {
    // 10% of 8 cores = 0.8 of a core.
    expect(limitsFor(PRESETS.balanced, desktop)).toEqual({
      threads: 1,
      concurrentTasks: 1,
      dutyCycle: 0.8,
      memoryBytes: Math.floor((16 * GiB * 15) / 100), // 2576980377 (2.4 GiB)
      storageBytes: 5e9,
      gpu: { enabled: true, maxModelBytes: Math.floor((8 * GiB * 10) / 100) },
    });
    expect(limitsFor(PRESETS.balanced, desktop).memoryBytes).toBe(2_576_980_377);
  });

  it('custom 80% CPU on 8 cores: six whole threads, three tasks', () => {
    // 80% of 8 = 6.4 cores: floor to 6 threads; the duty cycle caps at 1.
    const limits = limitsFor({ cpu: 80, ram: 70, storage: 50, gpu: 90 }, desktop);
    expect(limits.threads).toBe(6);
    expect(limits.concurrentTasks).toBe(3);
    expect(limits.dutyCycle).toBe(1);
    expect(limits.memoryBytes).toBe(Math.floor(16 * GiB * 0.7));
    expect(limits.storageBytes).toBe(50e9);
    expect(limits.gpu).toEqual({ enabled: true, maxModelBytes: Math.floor((8 * GiB * 90) / 100) });
  });

  it('generous on 16 cores / 32 GiB: 3 threads, 1 task', () => {
    const limits = limitsFor(PRESETS.generous, {
      cores: 16,
      memoryBytes: 32 * GiB,
      storageBytes: 1e12,
      gpuMemoryBytes: 0,
    });
    // 20% of 16 = 3.2 cores.
    expect(limits.threads).toBe(3);
    expect(limits.concurrentTasks).toBe(1);
    expect(limits.dutyCycle).toBe(1);
    expect(limits.memoryBytes).toBe(Math.floor((32 * GiB * 30) / 100));
    expect(limits.storageBytes).toBe(1e11);
    // No GPU memory: GPU off whatever the share.
    expect(limits.gpu).toEqual({ enabled: false, maxModelBytes: 0 });
  });

  it('mobile on a 4-core phone: one thread at a 20% duty cycle, no GPU', () => {
    const limits = limitsFor(PRESETS.mobile, {
      cores: 4,
      memoryBytes: 4 * GiB,
      storageBytes: 2e9,
      gpuMemoryBytes: 2 * GiB,
    });
    expect(limits).toEqual({
      threads: 1,
      concurrentTasks: 1,
      dutyCycle: 0.2,
      memoryBytes: Math.floor((4 * GiB * 5) / 100),
      storageBytes: 2e7,
      gpu: { enabled: false, maxModelBytes: 0 },
    });
  });

  it('a single core: one thread, the share as the duty cycle', () => {
    const limits = limitsFor(PRESETS.conservative, { cores: 1, memoryBytes: GiB, storageBytes: 0, gpuMemoryBytes: 0 });
    expect(limits.threads).toBe(1);
    expect(limits.dutyCycle).toBeCloseTo(0.05, 12);
    expect(limits.storageBytes).toBe(0);
  });

  it('treats a missing or fractional core count as at least one whole core', () => {
    for (const cores of [0, 0.5, 1.9]) {
      const limits = limitsFor(PRESETS.balanced, { cores, memoryBytes: GiB, storageBytes: GiB, gpuMemoryBytes: 0 });
      expect(limits.threads).toBe(1);
      expect(limits.dutyCycle).toBeCloseTo(0.1, 12);
    }
  });

  it('never grants more threads than cores, nor a duty cycle outside (0, 1]', () => {
    for (const cores of [1, 2, 3, 4, 6, 8, 12, 16, 32, 64, 128]) {
      for (const cpu of [5, 10, 20, 33, 50, 80, 100]) {
        const limits = limitsFor(
          { cpu, ram: 10, storage: 10, gpu: 0 },
          {
            cores,
            memoryBytes: GiB,
            storageBytes: GiB,
            gpuMemoryBytes: GiB,
          },
        );
        expect(limits.threads).toBeGreaterThanOrEqual(1);
        expect(limits.threads).toBeLessThanOrEqual(cores);
        expect(limits.concurrentTasks).toBeGreaterThanOrEqual(1);
        expect(limits.concurrentTasks).toBeLessThanOrEqual(limits.threads);
        expect(limits.dutyCycle).toBeGreaterThan(0);
        expect(limits.dutyCycle).toBeLessThanOrEqual(1);
        // The CPU time used never exceeds the share.
        expect(limits.threads * limits.dutyCycle).toBeLessThanOrEqual((cores * cpu) / 100 + 1e-9);
        expect(limits.gpu.enabled).toBe(false);
      }
    }
  });
});
