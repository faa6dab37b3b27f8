/**
 * One model-benchmark configuration in its own process (onnxruntime-web fixes
 * its thread count at first use): `node test/bench/models-child.ts node|web THREADS`.
 * Prints the rows as JSON on stdout.
 */
import { readFile } from 'node:fs/promises';
import { decodeCatalogue } from '#core/models/catalogue.ts';
import type { InferenceRuntime } from '#core/models/runtime.ts';
import { benchModels } from './model-bench.ts';

const [kind = 'node', threadsText = '1', dir = 'dist/models'] = process.argv.slice(2);
const threads = Number(threadsText);
let runtime: InferenceRuntime;
if (kind === 'node') {
  const { createOrtNodeRuntime } = await import('#node/inference/ort-node-runtime.ts');
  runtime = createOrtNodeRuntime({ threads });
} else {
  const { createOrtWebRuntime } = await import('#web/inference/ort-web-runtime.ts');
  runtime = await createOrtWebRuntime({ numThreads: threads });
}
const catalogue = decodeCatalogue(JSON.parse(await readFile(`${dir}/catalogue.json`, 'utf8')));
if (!catalogue.ok) throw catalogue.error;
const rows = await benchModels(
  runtime,
  catalogue.value,
  async (hash) => new Uint8Array(await readFile(`${dir}/${hash}`)),
);
process.stdout.write(JSON.stringify(rows) + '\n');
process.exit(0);
