/**
 * Text generation, for `npm run bench -- textgen`: per runtime (onnxruntime-node
 * in this process, onnxruntime-web WASM in headless Chromium, at equal
 * threads), prefill and decode pieces per second and the time to the first
 * piece, for the shipped model and for a random-weight model with
 * Qwen2.5-0.5B's shapes (./textgen-model.ts); then the two targets of the
 * issue: the browser within 3x of onnxruntime-node, and the forced-pass check
 * costing at most 20% of the generation it verifies; last, the time to the
 * first piece over the network, through the relay and over direct WebRTC
 * (./textgen-network.ts).
 *
 * Both runtimes use float32. It is onnxruntime-web WASM's fastest type (one
 * 896x4864 matrix-vector product measured 1.26 ms in float32, 2.78 ms in int8,
 * 14 ms in int4) and the shipped model's only one. onnxruntime-node would be
 * faster still in int8 (0.09 ms for that product against 0.77 ms in
 * float32); an int8 variant of the bench model is not measured here yet.
 */
import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '#test/chromium.ts';
import { createOrtNodeRuntime } from '#node/inference/ort-node-runtime.ts';
import {
  benchTextModel,
  loadBenchModel,
  QWEN_BENCH_FILE,
  QWEN_BENCH_LAYERS,
  qwenTarget,
  SHIPPED_REPORT,
  shippedTarget,
  TEXTGEN_THREADS,
  type ShippedConfig,
  type TextgenBenchRow,
} from './textgen-bench.ts';
import { ensureRandomDecoder, parameterCount, QWEN25_05B } from './textgen-model.ts';
import {
  measureNetworkPaths,
  NETWORK_MAX_PIECES,
  NETWORK_MODEL,
  NETWORK_PROMPT,
  summarize,
  type NetworkPathSummary,
} from './textgen-network.ts';

type Log = (line: string) => void;

// Targets from the issue.
const TARGET_BROWSER_RATIO = 3;
const TARGET_CHECK_SHARE = 0.2;
const TARGET_NETWORK_FIRST_PIECE_P50_MS = 300;
/** The browser half must finish within this (it loads a 665 MB model and generates 256 pieces of it). */
const BROWSER_TIMEOUT_MS = 240_000;

const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

/**
 * Time to first piece of the shipped model on the network paths, loopback
 * (./textgen-network.ts): from the SDK call to its first streamed piece,
 * through the relay's pool and over the direct WebRTC stream from a staked
 * Node worker.
 */
export async function networkFirstPiece(log: Log): Promise<NetworkPathSummary[]> {
  return (await measureNetworkPaths(log)).map(summarize);
}

async function nodeRows(log: Log, config: ShippedConfig): Promise<TextgenBenchRow[]> {
  const runtime = createOrtNodeRuntime({ threads: TEXTGEN_THREADS });
  const rows: TextgenBenchRow[] = [];
  for (const target of [shippedTarget(config), qwenTarget()]) {
    log(`textgen: onnxruntime-node, ${target.spec.label}`);
    const { model, loadMs } = await loadBenchModel(runtime, new Uint8Array(await readFile(target.file)), target.spec);
    try {
      rows.push(
        await benchTextModel(model, target.spec, { runtime: 'onnxruntime-node', threads: TEXTGEN_THREADS, loadMs }),
      );
    } finally {
      await model.session.release();
    }
  }
  return rows;
}

async function chromiumRows(log: Log): Promise<{ isolated: boolean; rows: TextgenBenchRow[] }> {
  log('textgen: onnxruntime-web WASM in Chromium');
  const server = await createServer({
    configFile: 'vite.config.ts',
    mode: 'bench',
    root: process.cwd(),
    logLevel: 'error',
    server: {
      host: '127.0.0.1',
      port: 0,
      // Cross-origin isolated, so onnxruntime-web may use WASM threads (when TEXTGEN_THREADS > 1).
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
    },
  });
  await server.listen();
  const address = server.httpServer?.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (error) => {
      log(`page error: ${error.message}`);
    });
    await page.goto(`http://127.0.0.1:${port}/test/bench/textgen.html?threads=${TEXTGEN_THREADS}`);
    await page.waitForFunction(() => window.textgenBench !== undefined);
    const result = (await page.evaluate(
      ([timeout]) =>
        Promise.race([
          window.textgenBench,
          new Promise((resolve) => {
            setTimeout(() => {
              resolve({ error: `no result in ${timeout} ms` });
            }, timeout);
          }),
        ]),
      [BROWSER_TIMEOUT_MS],
    )) as { isolated: boolean; rows: TextgenBenchRow[] } | { error: string };
    if ('error' in result) throw new Error(`textgen in Chromium: ${result.error}`);
    return result;
  } finally {
    await browser.close();
    await server.close();
  }
}

const num = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export async function textgenSection(log: Log): Promise<void> {
  const started = performance.now();
  const shape = { ...QWEN25_05B, layers: QWEN_BENCH_LAYERS };
  const made = await ensureRandomDecoder(QWEN_BENCH_FILE, shape);
  log(
    `textgen: ${QWEN_BENCH_FILE} ${made.created ? 'written' : 'already there'} (${num(parameterCount(shape))} parameters)`,
  );
  const report = JSON.parse(await readFile(SHIPPED_REPORT, 'utf8')) as { config: ShippedConfig };

  const node = await nodeRows(log, report.config);
  const web = await chromiumRows(log);
  const rows = [...node, ...web.rows];

  console.log(`\n### Text generation: per runtime, ${TEXTGEN_THREADS} thread(s), float32\n`);
  console.log(
    `Models: the shipped kjv-byte-lm, and a random-weight model with Qwen2.5-0.5B's widths (hidden 896, 14 heads, ` +
      `2 key/value heads, head size 64, MLP 4864, vocabulary 151,936) but ${QWEN_BENCH_LAYERS} of its 24 layers ` +
      `(${num(parameterCount(shape) / 1e6)}M of ${num(parameterCount(QWEN25_05B) / 1e6)}M parameters).` +
      `${web.isolated ? '' : ' Chromium page not cross-origin isolated.'}\n`,
  );
  console.log(
    '| model | runtime | load ms (hash check + session) | prefill pieces/s (64) | first piece ms | decode pieces/s | generated | generate ms | check ms |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.model} | ${r.runtime} ${r.threads}t | ${num(r.loadMs)} | ${num(r.prefillPiecesPerSec)} | ` +
        `${num(r.firstPieceMs, 1)} | ${num(r.decodePiecesPerSec, 1)} | ${r.generatedPieces} | ${num(r.generateMs)} | ${num(r.checkMs)} |`,
    );
  }

  console.log(
    `\n### Text generation: browser WASM against onnxruntime-node at ${TEXTGEN_THREADS} thread(s) (target <= ${TARGET_BROWSER_RATIO}x)\n`,
  );
  console.log('| model | prefill | first piece | decode | |');
  console.log('|---|---:|---:|---:|---|');
  for (const n of node) {
    const b = web.rows.find((r) => r.model === n.model);
    if (!b) continue;
    // How many times slower the browser is: rates divide node by browser, times browser by node.
    const ratios = [
      n.prefillPiecesPerSec / b.prefillPiecesPerSec,
      b.firstPieceMs / n.firstPieceMs,
      n.decodePiecesPerSec / b.decodePiecesPerSec,
    ];
    const ok = ratios.every((x) => x <= TARGET_BROWSER_RATIO);
    console.log(`| ${n.model} | ${ratios.map((x) => `${x.toFixed(2)}x`).join(' | ')} | ${pass(ok)} |`);
  }

  console.log(
    `\n### Forced-pass check against regenerating (target: check <= ${TARGET_CHECK_SHARE * 100}% of the generation)\n`,
  );
  console.log('| model | runtime | pieces | generate ms | check ms | check / generate | accepted | |');
  console.log('|---|---|---:|---:|---:|---:|---|---|');
  for (const r of rows) {
    const share = r.checkMs / r.generateMs;
    console.log(
      `| ${r.model} | ${r.runtime} ${r.threads}t | ${r.generatedPieces} | ${num(r.generateMs)} | ${num(r.checkMs)} | ` +
        `${(share * 100).toFixed(1)}% | ${r.checkOk ? 'yes' : 'NO'} | ${pass(share <= TARGET_CHECK_SHARE && r.checkOk)} |`,
    );
  }
  if (rows.some((r) => r.model.startsWith('kjv') && r.generatedPieces < 256)) {
    console.log('\n(The shipped model reads at most 256 pieces, so it generates 245 after its 11-piece prompt.)');
  }

  const network = await networkFirstPiece(log);
  console.log(
    `\n### Text generation: time to first piece over the network, loopback (target p50 < ${TARGET_NETWORK_FIRST_PIECE_P50_MS} ms)\n`,
  );
  console.log(
    `${NETWORK_MODEL}, greedy, prompt "${NETWORK_PROMPT}", maxPieces ${NETWORK_MAX_PIECES}, warm (after warm-up ` +
      'generations). Times from the `client.generate` call: to the first piece, to the whole answer (the last ' +
      'piece), and to the answer verified (settled, in a block, its proof checked; blocks every 200 ms here, and the ' +
      'SDK asks for the proof every 500 ms, which is most of that wait). The relay ' +
      'runs no canaries and no re-runs.\n',
  );
  const ms = (n: number | undefined) => (n === undefined ? '–' : `${num(n, 1)} ms`);
  console.log(
    '| path | first piece p50 | first piece p95 | whole answer p50 | whole answer p95 | verified p50 | pieces | samples | |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of network) {
    const verdict =
      r.firstPieceP50Ms === undefined
        ? 'FAIL (no samples)'
        : pass(r.firstPieceP50Ms < TARGET_NETWORK_FIRST_PIECE_P50_MS);
    console.log(
      `| ${r.path} | ${ms(r.firstPieceP50Ms)} | ${ms(r.firstPieceP95Ms)} | ${ms(r.answerP50Ms)} | ${ms(r.answerP95Ms)} | ` +
        `${ms(r.verifiedP50Ms)} | ${r.pieces} | ${r.samples} | ${verdict} |`,
    );
  }
  for (const r of network) {
    if (r.failures.length > 0)
      console.log(`\n${r.path}: ${r.failures.length} sample(s) left out: ${r.failures.join('; ')}`);
  }
  log(`textgen: ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
