/**
 * Runs the clothing classifier through onnxruntime-web with WebGPU requested,
 * for test/e2e/webgpu.test.ts (Chromium with a software WebGPU adapter).
 */
import { decodeCatalogue } from '#core/models/catalogue.ts';
import { loadPipelineModels } from '#core/models/load-models.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { createOrtWebRuntime } from '#web/inference/ort-web-runtime.ts';

declare global {
  interface Window {
    runWebGpu?: (inputs: string[]) => Promise<unknown>;
  }
}

async function main(inputs: string[]): Promise<unknown> {
  const read = async (name: string) => new Uint8Array(await (await fetch(`/dist/models/${name}`)).arrayBuffer());
  const catalogue = decodeCatalogue(JSON.parse(new TextDecoder().decode(await read('catalogue.json'))));
  if (!catalogue.ok) throw catalogue.error;
  const entry = catalogue.value.models.find((m) => m.kind === 'image-classification');
  const pipeline = entry && pipelineFor(entry.pre);
  if (!entry || !pipeline) throw new Error('no clothing model');
  const runtime = await createOrtWebRuntime({ wasmPaths: '/node_modules/onnxruntime-web/dist/', webgpu: true });
  const models = await loadPipelineModels(runtime, entry, pipeline, read);
  const outputs: string[] = [];
  for (const b64 of inputs) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const input = pipeline.decodeInput(bytes);
    if (!input.ok) throw input.error;
    const output = pipeline.encodeOutput(await pipeline.run(models, input.value));
    outputs.push(btoa(String.fromCharCode(...output)));
  }
  return { backend: runtime.backend, outputs };
}

window.runWebGpu = (inputs) => main(inputs).catch((error: unknown) => ({ error: String(error) }));
