/**
 * The WebGPU path of onnxruntime-web, for correctness: headless Chromium has
 * no GPU here, so `--enable-unsafe-webgpu` gives it a software adapter (slow,
 * but a real WebGPU device). The clothing classifier must agree with
 * onnxruntime-node by the catalogue's tolerance.
 */
import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import { describe, expect, it } from 'vitest';
import { createOrtNodeRuntime } from '#node/inference/ort-node-runtime.ts';
import { decodeCatalogue } from '#core/models/catalogue.ts';
import { loadPipelineModels } from '#core/models/load-models.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '#test/chromium.ts';

/** A few 28x28 grey garments: bars, blocks and a boot-like shape. */
function images(): Uint8Array[] {
  const shapes: ((x: number, y: number) => boolean)[] = [
    (x, y) => y > 3 && y < 25 && ((x > 8 && x < 13) || (x > 15 && x < 20)),
    (x, y) => y > 5 && y < 23 && x > 5 && x < 23,
    (x, y) => y > 12 && y < 24 && x > 3 && x < 25 && (x > 14 || y > 18),
    (x, y) => y > 2 && y < 26 && x > 9 && x < 19,
  ];
  return shapes.map((inside) => {
    const data = new Uint8Array(28 * 28);
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) if (inside(x, y)) data[y * 28 + x] = 210;
    return data;
  });
}

describe('onnxruntime-web on WebGPU', () => {
  it('gives the same labels as onnxruntime-node', async () => {
    const catalogue = decodeCatalogue(JSON.parse(await readFile('dist/models/catalogue.json', 'utf8')));
    if (!catalogue.ok) throw catalogue.error;
    const entry = catalogue.value.models.find((m) => m.kind === 'image-classification');
    const pipeline = entry && pipelineFor(entry.pre);
    if (!entry || !pipeline) throw new Error('no clothing model');
    const inputs = images().map((data) => pipeline.encodeInput({ width: 28, height: 28, channels: 1, data }));

    const server = await createServer({
      configFile: 'vite.config.ts',
      // Not the app's mode: the test pages, served from the repository's root.
      mode: 'test',
      logLevel: 'error',
      server: { host: '127.0.0.1', port: 0 },
    });
    await server.listen();
    const address = server.httpServer?.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [
        ...CHROMIUM_ARGS.filter((a) => a !== '--disable-gpu'),
        '--enable-unsafe-webgpu',
        '--use-angle=swiftshader',
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/test/e2e/webgpu.html`);
      await page.waitForFunction(() => window.runWebGpu !== undefined);
      const result = (await page.evaluate(
        (b64) => window.runWebGpu?.(b64),
        inputs.map((bytes) => Buffer.from(bytes).toString('base64')),
      )) as { backend?: string; outputs?: string[]; error?: string };
      expect(result.error).toBeUndefined();
      expect(result.backend).toBe('webgpu');

      const models = await loadPipelineModels(
        createOrtNodeRuntime(),
        entry,
        pipeline,
        async (hash) => new Uint8Array(await readFile(`dist/models/${hash}`)),
      );
      for (const [i, bytes] of inputs.entries()) {
        const input = pipeline.decodeInput(bytes);
        if (!input.ok) throw input.error;
        const native = await pipeline.run(models, input.value);
        const web = pipeline.decodeOutput(new Uint8Array(Buffer.from(result.outputs?.[i] ?? '', 'base64')));
        if (!web.ok) throw web.error;
        expect(pipeline.agree(web.value, native, entry.tolerance)).toBe(true);
      }
    } finally {
      await browser.close();
      await server.close();
    }
  }, 120_000);
});
