/**
 * What this device has, for turning contribution shares into limits: cores,
 * memory, the storage the browser grants the app, and a GPU estimate. Browsers
 * reveal little on purpose; each figure says where it comes from.
 */
import type { DeviceTotals } from '#core/resources/allocation.ts';

/** Assumed memory when the browser does not say (`navigator.deviceMemory` is Chromium-only). */
const DEFAULT_MEMORY_GB = 4;

interface GpuLike {
  requestAdapter(): Promise<{ readonly limits: { readonly maxBufferSize: number } } | null>;
}

/** Reads the device's totals; never throws (unknown figures are estimates or 0). */
export async function deviceTotals(nav: Navigator = navigator): Promise<DeviceTotals> {
  const cores = nav.hardwareConcurrency > 0 ? nav.hardwareConcurrency : 1;
  const memoryGb = (nav as Navigator & { deviceMemory?: number }).deviceMemory ?? DEFAULT_MEMORY_GB;
  const estimate = await nav.storage.estimate().catch(() => undefined);
  let gpuMemoryBytes = 0;
  if ('gpu' in nav) {
    const gpu = nav.gpu as GpuLike;
    // No API gives GPU memory; the largest buffer the adapter allows is a safe lower estimate.
    const adapter = await gpu.requestAdapter().catch(() => null);
    gpuMemoryBytes = adapter?.limits.maxBufferSize ?? 0;
  }
  return {
    cores,
    memoryBytes: memoryGb * 2 ** 30,
    storageBytes: estimate?.quota ?? 0,
    gpuMemoryBytes,
  };
}
