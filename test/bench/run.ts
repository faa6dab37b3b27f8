/**
 * `npm run bench`: prints the benchmark tables. Figures are compared as ratios
 * measured in the same run (our path against the platform's native baseline),
 * because the machines are shared and absolute times are noisy.
 *
 * Sections: protocol core in Node, protocol core in headless Chromium, and the
 * relay's signature verification path against raw node:crypto; the shipped
 * models; text generation (./textgen.ts); the relay, WebRTC, desktop workers
 * and the light client.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createNobleSigner, signEnvelope, verifyEnvelope } from '#core/index.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '#test/chromium.ts';
import { runCoreBench } from './core.ts';
import type { ModelBenchRow } from './model-bench.ts';
import { ensureModelsBuilt } from '#node/models/build-models.ts';
import { measureSync, type Measurement } from './measure.ts';
import { relaySection } from './relay.ts';
import { appSection } from './app.ts';
import { webrtcSection } from './webrtc.ts';
import { workersSection } from './workers.ts';
import { textgenSection } from './textgen.ts';

const log = (line: string) => process.stderr.write(`  … ${line}\n`);
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function table(title: string, rows: readonly Measurement[]): void {
  console.log(`\n### ${title}\n`);
  console.log('| benchmark | ops/s | ms/op |');
  console.log('|---|---:|---:|');
  for (const r of rows) console.log(`| ${r.name} | ${fmt(r.opsPerSec)} | ${r.msPerOp.toFixed(4)} |`);
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function nodeCore(): Promise<Measurement[]> {
  const secret = new Uint8Array(32).fill(42);
  const signer = createNobleSigner(secret);
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, secret]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = createPublicKey(privateKey);
  return runCoreBench({
    signer,
    log,
    ledgerVerifier: createNodeVerifier(),
    ledgerVerifierName: 'node:crypto',
    native: {
      name: 'node:crypto',
      publicKey: signer.publicKey,
      sign: (message) => sign(null, message, privateKey),
      verify: (signature, message) => verify(null, message, publicKey, signature),
    },
  });
}

/** Opens `path` on a vite dev server (cross-origin isolated, so WASM threads work) in headless Chromium and returns `window[key]`. */
async function inChromium(path: string, key: 'benchResult' | 'modelBench'): Promise<unknown> {
  const server = await createServer({
    configFile: 'vite.config.ts',
    mode: 'bench',
    root: process.cwd(),
    logLevel: 'error',
    server: {
      host: '127.0.0.1',
      port: 0,
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
    await page.goto(`http://127.0.0.1:${port}${path}`);
    await page.waitForFunction((k) => window[k] !== undefined, key);
    return await page.evaluate((k) => window[k], key);
  } finally {
    await browser.close();
    await server.close();
  }
}

async function browserCore(): Promise<Measurement[]> {
  return (await inChromium('/test/bench/browser.html', 'benchResult')) as Measurement[];
}

const run = promisify(execFile);

/** Each shipped model in onnxruntime-node, onnxruntime-web in Node and in Chromium, at 1 and 2 threads. */
async function modelSection(): Promise<void> {
  await ensureModelsBuilt();
  const configs: { name: string; rows: ModelBenchRow[] }[] = [];
  for (const threads of [1, 2]) {
    for (const kind of ['node', 'web'] as const) {
      log(`models: ${kind} runtime, ${threads} thread(s)`);
      const { stdout } = await run(process.execPath, ['test/bench/models-child.ts', kind, String(threads)]);
      configs.push({
        name: `${kind === 'node' ? 'onnxruntime-node' : 'ort-web wasm, Node'} ${threads}t`,
        rows: JSON.parse(stdout) as ModelBenchRow[],
      });
    }
    log(`models: Chromium, ${threads} thread(s)`);
    const result = (await inChromium(`/test/bench/models.html?threads=${threads}`, 'modelBench')) as {
      isolated: boolean;
      rows: ModelBenchRow[];
    };
    configs.push({
      name: `ort-web wasm, Chromium ${threads}t${result.isolated ? '' : ' (not isolated)'}`,
      rows: result.rows,
    });
  }
  console.log('\n### Models: ms per item (items/s), whole pipeline\n');
  console.log(`| model | ${configs.map((c) => c.name).join(' | ')} |`);
  console.log(`|---|${configs.map(() => '---:').join('|')}|`);
  const models = configs[0]?.rows.map((r) => r.model) ?? [];
  for (const model of models) {
    const cells = configs.map((c) => {
      const row = c.rows.find((r) => r.model === model);
      return row ? `${row.msPerItem.toFixed(3)} (${fmt(row.itemsPerSec)})` : '–';
    });
    console.log(`| ${model} | ${cells.join(' | ')} |`);
  }
  console.log('\n### Models: browser path / native at equal threads (target <= 3x)\n');
  console.log('| model | web in Node 1t | web in Node 2t | Chromium 1t | Chromium 2t |');
  console.log('|---|---:|---:|---:|---:|');
  const ms = (name: string, model: string) =>
    configs.find((c) => c.name.startsWith(name))?.rows.find((r) => r.model === model)?.msPerItem;
  for (const model of models) {
    const cells = [1, 2].flatMap((t) => {
      const native = ms(`onnxruntime-node ${t}t`, model);
      const ratio = (web: number | undefined) => (web && native ? `${(web / native).toFixed(2)}x` : '–');
      return [ratio(ms(`ort-web wasm, Node ${t}t`, model)), ratio(ms(`ort-web wasm, Chromium ${t}t`, model))];
    });
    console.log(`| ${model} | ${cells[0]} | ${cells[2]} | ${cells[1]} | ${cells[3]} |`);
  }
}

/** The relay verifies envelopes; the bar is raw node:crypto with a ready KeyObject on the same bytes. */
async function relayVerifyPath(): Promise<{ rows: Measurement[]; ratio: number }> {
  const signer = createNobleSigner(new Uint8Array(32).fill(9));
  const envelope = await signEnvelope(signer, 'task', { hello: 'relay', n: 1 });
  const key = createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, signer.publicKey]),
    format: 'der',
    type: 'spki',
  });
  const message = Buffer.concat([Buffer.from('acn/v1/task\0'), envelope.body]);
  const verifier = createNodeVerifier();
  // Interleave the two a few times and keep each one's best, so drift on a shared machine hits both alike.
  let baseline: Measurement | undefined;
  let ours: Measurement | undefined;
  for (let round = 0; round < 3; round++) {
    const b = measureSync(
      'raw node:crypto verify (cached KeyObject)',
      () => verify(null, message, key, envelope.sig),
      700,
    );
    const o = measureSync('relay path: verifyEnvelope + node verifier', () => verifyEnvelope(envelope, verifier), 700);
    if (!baseline || b.opsPerSec > baseline.opsPerSec) baseline = b;
    if (!ours || o.opsPerSec > ours.opsPerSec) ours = o;
  }
  if (!baseline || !ours) throw new Error('unreachable');
  return { rows: [baseline, ours], ratio: ours.opsPerSec / baseline.opsPerSec };
}

// `npm run bench -- relay app` runs only those sections; no argument runs them all.
const SECTIONS = ['core', 'models', 'textgen', 'relay', 'app', 'webrtc', 'workers'] as const;
const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(SECTIONS as readonly string[]).includes(name));
if (unknown.length > 0) {
  console.error(`unknown bench section ${unknown.join(', ')}; the sections are ${SECTIONS.join(', ')}`);
  process.exit(2);
}
const runs = (section: (typeof SECTIONS)[number]) => wanted.length === 0 || wanted.includes(section);

if (runs('core')) {
  log('core benchmarks in Node');
  const node = await nodeCore();
  table('Protocol core — Node ' + process.version, node);

  log('core benchmarks in headless Chromium');
  const browser = await browserCore();
  table('Protocol core — headless Chromium (WebCrypto)', browser);
}

if (runs('models')) {
  log('models');
  await modelSection();
}

if (runs('textgen')) {
  log('text generation');
  await textgenSection(log);
}

if (runs('relay')) {
  // First, while no relay or client process is still winding down on the other core.
  log('relay verification path');
  const relay = await relayVerifyPath();
  table('Relay verification path (one core)', relay.rows);
  const pct = (relay.ratio * 100).toFixed(1);
  console.log(`\nrelay verify path / node:crypto = ${pct}% (target >= 90%): ${relay.ratio >= 0.9 ? 'PASS' : 'FAIL'}`);

  log('relay');
  await relaySection(log);
}

if (runs('webrtc')) {
  log('WebRTC between browsers');
  await webrtcSection(log);
}

if (runs('workers')) {
  log('desktop workers');
  await workersSection(log);
}

if (runs('app')) {
  log('light client');
  await appSection(log);
}
