/** The browser half of the model benchmarks: onnxruntime-web (WASM) with `?threads=N`. */
import { decodeCatalogue } from '#core/models/catalogue.ts';
import { createOrtWebRuntime } from '#web/inference/ort-web-runtime.ts';
import { benchModels } from './model-bench.ts';

declare global {
  interface Window {
    modelBench?: Promise<unknown>;
  }
}

async function main() {
  const threads = Number(new URLSearchParams(location.search).get('threads') ?? '1');
  const runtime = await createOrtWebRuntime({ wasmPaths: '/node_modules/onnxruntime-web/dist/', numThreads: threads });
  const read = async (name: string) => new Uint8Array(await (await fetch(`/dist/models/${name}`)).arrayBuffer());
  const catalogue = decodeCatalogue(JSON.parse(new TextDecoder().decode(await read('catalogue.json'))));
  if (!catalogue.ok) throw catalogue.error;
  return { isolated: crossOriginIsolated, rows: await benchModels(runtime, catalogue.value, read) };
}

window.modelBench = main();
