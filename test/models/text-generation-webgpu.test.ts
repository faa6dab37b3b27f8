/**
 * The shipped text-generation model on onnxruntime-web's WebGPU backend, in
 * headless Chromium with its software adapter (SwiftShader: no GPU here, but a
 * real WebGPU device and the real WebGPU kernels). The unit-chromium project
 * starts Chromium with --disable-gpu, where `navigator.gpu` gives no adapter,
 * so this test starts its own Chromium from Node, as test/e2e/webgpu.test.ts
 * does, with --enable-unsafe-webgpu (Chromium on Linux offers WebGPU only
 * behind that flag) and without --disable-gpu.
 *
 * On WebGPU the core's generation loop must give the greedy pieces torch gave
 * (the report's samples), the same sampled answer for a seed as
 * onnxruntime-node, and its forced-pass check must accept onnxruntime-node's
 * answer.
 *
 * onnxruntime-web 1.30's WebGPU backend computes a graph that unsqueezes the
 * int64 position_ids before casting them to float wrongly (onnxruntime issue
 * 32134): the rotary angles come out garbled and so does the text. A model
 * file must cast first (relay/model-tools/text-model/webgpu-safe-onnx.ts);
 * this test is what catches a file that does not.
 *
 * The unit-chromium project also collects this file; there it is skipped, and
 * the Node-only modules are imported inside the test so that it still loads.
 */
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '#core/encoding/bytes.ts';
import { generate, type LanguageModel } from '#core/generation/generate.ts';
import type { SamplingParams } from '#core/generation/sampler.ts';
import type { Hash } from '#core/identity/ids.ts';
import { inBrowser } from '#test/models.ts';
import report from '#node/models/artifacts/kjv-byte-lm.json';

/**
 * Imports a Node-only module by a path vite does not read: the unit-chromium
 * project also collects this file (and skips it), and vite would otherwise try
 * to bundle these modules for the browser.
 */
const nodeOnly = <T>(specifier: string): Promise<T> => import(/* @vite-ignore */ specifier) as Promise<T>;

const ARTIFACT = 'relay/node/models/artifacts/kjv-byte-lm.onnx';
const SAMPLING: SamplingParams = { temperature: 0.8, topK: 40, topP: 0.95 };
const SEED = 2026;
const SAMPLED_PROMPT = 'Proverbs 3:5 ';
const SAMPLED_PIECES = 24;
/**
 * Pieces compared per greedy sample: a decode step costs about 0.3 s on the
 * software adapter whatever the model's size (it is per-kernel overhead), so
 * the first 24 of each of the five samples, not all 120.
 */
const GREEDY_PIECES = 24;

/**
 * The page's code, served by the test itself on the vite server's origin so
 * its imports are the repository's modules, compiled by vite. It is a string:
 * this file's own code is compiled for Node by vitest, so a function passed to
 * the page could not keep its `import()`s.
 */
const PAGE = `<!doctype html>
<meta charset="utf-8" />
<title>text generation on WebGPU</title>
<script type="module">
  import { sha256Hex } from '/shared/core/encoding/bytes.ts';
  import { checkGeneration } from '/shared/core/generation/check-generation.ts';
  import { generate } from '/shared/core/generation/generate.ts';
  import { GREEDY } from '/shared/core/generation/sampler.ts';
  import { createOrtWebRuntime } from '/web/inference/ort-web-runtime.ts';

  async function complete(model, request) {
    const run = generate(model, request);
    for (;;) {
      const next = await run.next();
      if (next.done) return next.value;
    }
  }

  window.runTextGeneration = async (job) => {
    const adapter = await navigator.gpu?.requestAdapter();
    const runtime = await createOrtWebRuntime({ wasmPaths: '/node_modules/onnxruntime-web/dist/', webgpu: true });
    const bytes = new Uint8Array(await (await fetch('/${ARTIFACT}')).arrayBuffer());
    const { config } = job;
    const model = {
      session: await runtime.load(bytes, sha256Hex(bytes)),
      cache: { layers: config.layers, kvHeads: config.kvHeads, headDim: config.headDim },
      contextLength: config.context,
      eosTokens: [config.eos],
      tokenBytes: (token) => (token < 256 ? Uint8Array.of(token) : new Uint8Array(0)),
    };
    const greedy = [];
    for (const prompt of job.greedyPrompts) {
      greedy.push((await complete(model, { prompt, maxTokens: job.greedyPieces, sampling: GREEDY, seed: 1 })).tokens);
    }
    const request = { prompt: job.sampledPrompt, maxTokens: job.sampledPieces, sampling: job.sampling, seed: job.seed };
    const sampled = (await complete(model, request)).tokens;
    const verdict = await checkGeneration(model, request, job.claim);
    await model.session.release();
    return { backend: runtime.backend, adapter: adapter?.info?.architecture ?? null, greedy, sampled, verdict };
  };
</script>`;

interface PageResult {
  readonly backend: string;
  readonly adapter: string | null;
  readonly greedy: number[][];
  readonly sampled: number[];
  readonly verdict: unknown;
}

declare global {
  interface Window {
    runTextGeneration?: (job: unknown) => Promise<PageResult>;
  }
}

const promptOf = (text: string): number[] => [report.config.bos, ...new TextEncoder().encode(text)];

/** onnxruntime-node's sampled answer, the claim the WebGPU checker must accept. */
async function nodeAnswer() {
  const { readFile } = await import('node:fs/promises');
  const { createOrtNodeRuntime } = await nodeOnly<typeof import('#node/inference/ort-node-runtime.ts')>(
    '../../relay/node/inference/ort-node-runtime.ts',
  );
  const bytes = new Uint8Array(await readFile(ARTIFACT));
  const { config } = report;
  const model: LanguageModel = {
    session: await createOrtNodeRuntime().load(bytes, sha256Hex(bytes) as Hash),
    cache: { layers: config.layers, kvHeads: config.kvHeads, headDim: config.headDim },
    contextLength: config.context,
    eosTokens: [config.eos],
    tokenBytes: (token) => (token < 256 ? Uint8Array.of(token) : new Uint8Array(0)),
  };
  const run = generate(model, {
    prompt: promptOf(SAMPLED_PROMPT),
    maxTokens: SAMPLED_PIECES,
    sampling: SAMPLING,
    seed: SEED,
  });
  for (;;) {
    const next = await run.next();
    if (next.done) {
      await model.session.release();
      return next.value;
    }
  }
}

describe.skipIf(inBrowser)('the shipped text-generation model on WebGPU (Chromium, software adapter)', () => {
  it('gives torch’s greedy pieces and onnxruntime-node’s sampled answer, and accepts that answer in a forced pass', async () => {
    const { chromium } = await nodeOnly<typeof import('playwright-core')>('playwright-core');
    const { createServer } = await nodeOnly<typeof import('vite')>('vite');
    const { CHROMIUM_ARGS, CHROMIUM_PATH } =
      await nodeOnly<typeof import('#test/chromium.ts')>('../support/chromium.ts');
    const claim = await nodeAnswer();
    const server = await createServer({
      configFile: 'vite.config.ts',
      mode: 'test',
      logLevel: 'error',
      server: { host: '127.0.0.1', port: 0 },
    });
    await server.listen();
    const address = server.httpServer?.address();
    const origin = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
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
      await page.route(`${origin}/text-generation-webgpu.html`, (route) =>
        route.fulfill({ contentType: 'text/html', body: PAGE }),
      );
      await page.goto(`${origin}/text-generation-webgpu.html`);
      await page.waitForFunction(() => window.runTextGeneration !== undefined);
      const result = await page.evaluate((job) => window.runTextGeneration?.(job), {
        config: report.config,
        greedyPrompts: report.samples.map((s) => promptOf(s.prompt)),
        greedyPieces: GREEDY_PIECES,
        sampledPrompt: promptOf(SAMPLED_PROMPT),
        sampledPieces: SAMPLED_PIECES,
        sampling: SAMPLING,
        seed: SEED,
        claim: { tokens: claim.tokens, finishReason: claim.finishReason },
      });
      if (!result) throw new Error('the page gave no result');
      // Not a silent fallback to WASM: onnxruntime-web ran on a WebGPU device, Chromium's software one.
      expect(result.backend).toBe('webgpu');
      expect(result.adapter).toBe('swiftshader');
      for (const [i, sample] of report.samples.entries()) {
        expect(result.greedy[i], sample.prompt).toEqual(sample.greedyTokens.slice(0, GREEDY_PIECES));
      }
      expect(result.sampled).toEqual(claim.tokens);
      expect(result.verdict).toEqual({ ok: true });
    } finally {
      await browser.close();
      await server.close();
    }
  }, 180_000);
});
