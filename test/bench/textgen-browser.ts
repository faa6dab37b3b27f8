/**
 * The browser half of the text-generation benchmark: onnxruntime-web (WASM)
 * with `?threads=N`, on the same models and prompts as the Node half
 * (./textgen-bench.ts), fetched from the dev server's root.
 */
import { createOrtWebRuntime } from '#web/inference/ort-web-runtime.ts';
import {
  benchTextModel,
  loadBenchModel,
  qwenTarget,
  SHIPPED_REPORT,
  shippedTarget,
  type ShippedConfig,
  type TextgenBenchRow,
} from './textgen-bench.ts';

declare global {
  interface Window {
    textgenBench?: Promise<unknown>;
  }
}

async function main(): Promise<{ isolated: boolean; rows: TextgenBenchRow[] }> {
  const threads = Number(new URLSearchParams(location.search).get('threads') ?? '1');
  const runtime = await createOrtWebRuntime({ wasmPaths: '/node_modules/onnxruntime-web/dist/', numThreads: threads });
  const report = (await (await fetch(`/${SHIPPED_REPORT}`)).json()) as { config: ShippedConfig };
  const rows: TextgenBenchRow[] = [];
  for (const target of [shippedTarget(report.config), qwenTarget()]) {
    const response = await fetch(`/${target.file}`);
    if (!response.ok) throw new Error(`GET /${target.file}: ${response.status}`);
    const { model, loadMs } = await loadBenchModel(runtime, new Uint8Array(await response.arrayBuffer()), target.spec);
    try {
      rows.push(
        await benchTextModel(model, target.spec, {
          runtime: 'ort-web wasm, Chromium',
          threads: runtime.threads,
          loadMs,
        }),
      );
    } finally {
      await model.session.release();
    }
  }
  return { isolated: crossOriginIsolated, rows };
}

window.textgenBench = main().catch((error: unknown) => ({ error: String(error) }));
