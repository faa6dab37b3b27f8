/**
 * Model access for tests in Node and in Chromium: the built catalogue, model
 * files by hash (from dist/models, built by the global setup), and the
 * runtimes of the platform the test runs on.
 */
import { decodeCatalogue, type Catalogue, type ModelEntry } from '#core/models/catalogue.ts';
import type { InferenceRuntime } from '#core/models/runtime.ts';
import type { ModelKind } from '#core/models/catalogue.ts';

export const inBrowser = typeof window !== 'undefined';

async function readModelFile(name: string): Promise<Uint8Array> {
  if (inBrowser) {
    const response = await fetch(`/dist/models/${name}`);
    if (!response.ok) throw new Error(`GET /dist/models/${name}: ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
  const { readFile } = await import('node:fs/promises');
  return new Uint8Array(await readFile(`dist/models/${name}`));
}

let catalogue: Promise<Catalogue> | undefined;

export function loadCatalogue(): Promise<Catalogue> {
  catalogue ??= readModelFile('catalogue.json').then((bytes) => {
    const decoded = decodeCatalogue(JSON.parse(new TextDecoder().decode(bytes)));
    if (!decoded.ok) throw decoded.error;
    return decoded.value;
  });
  return catalogue;
}

export async function modelOfKind(kind: ModelKind): Promise<ModelEntry> {
  const entry = (await loadCatalogue()).models.find((m) => m.kind === kind);
  if (!entry) throw new Error(`no ${kind} model in the catalogue`);
  return entry;
}

/** The bytes of a content-addressed model file. */
export function modelFile(hash: string): Promise<Uint8Array> {
  return readModelFile(hash);
}

/**
 * The runtimes to test on this platform: in Node, onnxruntime-node and
 * onnxruntime-web (WASM); in Chromium, onnxruntime-web (WASM).
 */
export async function platformRuntimes(): Promise<InferenceRuntime[]> {
  const { createOrtWebRuntime } = await import('#web/inference/ort-web-runtime.ts');
  if (inBrowser) return [await createOrtWebRuntime({ wasmPaths: '/node_modules/onnxruntime-web/dist/' })];
  const nodeRuntime = '../../relay/node/inference/ort-node-runtime.ts';
  const { createOrtNodeRuntime } = (await import(
    /* @vite-ignore */ nodeRuntime
  )) as typeof import('#node/inference/ort-node-runtime.ts');
  return [createOrtNodeRuntime(), await createOrtWebRuntime()];
}
