/**
 * The relay's own limits, on the real relay process: a client that trickles
 * its headers or its body is cut off with a 408 once the configured deadline
 * passes (instead of holding the socket for node's default 300 s), while a
 * Server-Sent Events stream and the events WebSocket outlive both deadlines;
 * the default body cap admits a task of the documented largest input (16 MiB,
 * about 21.4 MiB as JSON); and the per-account and per-IP rate limits let
 * through exactly their limit in a window, answering the rest 429 with
 * `Retry-After`.
 *
 * The deadlines here are short (0.5 s and 1.5 s) so the test takes seconds.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { sha256Hex, toBase64Url } from '#core/encoding/bytes.ts';
import { encodeEnvelope, signEnvelope } from '#core/envelope/envelope.ts';
import type { AccountId, Hash, ModelId, TaskId } from '#core/identity/ids.ts';
import { generateNobleSigner, type Signer } from '#core/identity/signer.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { MAX_TASK_INPUT_BYTES } from '#core/messages/task.ts';
import { encodeImage } from '#core/pipelines/ocr/image.ts';
import { onboardAccount, type ApiAnswer, type RelayApi } from '#test/relay-api.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';
import { LONG_PROMPT, textStreams } from '#test/text-stream.ts';

const HEADERS_TIMEOUT_MS = 500;
const REQUEST_TIMEOUT_MS = 1500;
const PER_ACCOUNT = 20;
const PER_IP = 60;

let relay: RelayProcess;
let network: AccountId;
let catalogue: Catalogue;
const alice = generateNobleSigner();
const carol = generateNobleSigner();
/** Sends only the rate-limit test's tasks. */
const dave = generateNobleSigner();

/**
 * The relay trusts X-Forwarded-For from loopback (a reverse proxy there), so
 * each of the test's own requests can come from an address of its own and
 * none of them count against the per-IP limit being measured.
 */
let nextIp = 0;
const freshIp = () => `10.${(nextIp >> 16) & 255}.${(nextIp >> 8) & 255}.${nextIp++ & 255}`;

const api: RelayApi = async (path, body) => {
  const response = await fetch(relay.url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': freshIp() },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

function modelOf(kind: string): ModelEntry {
  const entry = catalogue.models.find((m) => m.kind === kind);
  if (entry === undefined) throw new Error(`no ${kind} model: run npm run models`);
  return entry;
}

async function signedTask(signer: Signer, model: ModelId, input: Uint8Array, maxPrice: number): Promise<string> {
  return toBase64Url(
    encodeEnvelope(
      await signEnvelope(signer, 'task', {
        v: 1,
        net: network,
        model,
        input: sha256Hex(input) as Hash,
        inputBytes: input.length,
        maxPrice,
        nonce: crypto.getRandomValues(new Uint8Array(16)),
        ts: Date.now(),
      }),
    ),
  );
}

/** Opens a socket, writes `first`, then `trickle` every `everyMs`; resolves with what came back and when it closed. */
function trickle(first: string, piece: string, everyMs: number): Promise<{ answer: string; ms: number }> {
  const url = new URL(relay.url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(Number(url.port), url.hostname);
    let answer = '';
    let timer: ReturnType<typeof setInterval> | undefined;
    socket.once('connect', () => {
      socket.write(first);
      timer = setInterval(() => {
        if (!socket.destroyed) socket.write(piece);
      }, everyMs);
    });
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
    });
    socket.on('error', () => undefined); // a write after the relay closed it
    socket.once('close', () => {
      clearInterval(timer);
      resolve({ answer, ms: performance.now() - started });
    });
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`the relay kept a trickling socket for 10 s; it answered ${JSON.stringify(answer)}`));
    }, 10_000);
  });
}

beforeAll(async () => {
  relay = await startRelayProcess([
    '--pow-difficulty',
    '4',
    '--grant',
    '100000',
    '--block-interval',
    '200',
    '--headers-timeout',
    String(HEADERS_TIMEOUT_MS),
    '--request-timeout',
    String(REQUEST_TIMEOUT_MS),
    '--rate-account',
    String(PER_ACCOUNT),
    '--rate-ip',
    String(PER_IP),
    // No canaries nor re-checks: tasks of the relay's own that would keep the pool busy.
    '--canary-rate',
    '0',
    '--recheck-rate',
    '0',
  ]);
  network = relay.relayAccount as AccountId;
  await onboardAccount(api, network, alice);
  await onboardAccount(api, network, carol);
  await onboardAccount(api, network, dave);
  catalogue = (await api('/api/models')).body as unknown as Catalogue;
}, 120_000);

afterAll(async () => {
  expect(await relay.stop()).toBe(0);
  await relay.cleanup();
});

describe('request deadlines (slowloris)', () => {
  it('cuts off a client that trickles its headers, at the headers deadline', async () => {
    const { answer, ms } = await trickle('GET /api/status HTTP/1.1\r\nHost: relay\r\n', 'X-Slow: 1\r\n', 100);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(HEADERS_TIMEOUT_MS + 1000);
  });

  it('cuts off a client that trickles its body, at the request deadline', async () => {
    for (const path of ['/api/ledger/tx', '/api/tasks']) {
      const head = `POST ${path} HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"tx":"`;
      const { answer, ms } = await trickle(head, 'A', 100);
      expect(answer, path).toMatch(/^HTTP\/1\.1 408 /);
      expect(ms, path).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
      expect(ms, path).toBeLessThan(REQUEST_TIMEOUT_MS + 1000);
    }
    // The relay still serves everyone else.
    expect((await api('/api/status')).status).toBe(200);
  });

  it('keeps the events WebSocket open past both deadlines', async () => {
    const socket = new WebSocket(`${relay.url.replace(/^http/, 'ws')}/api/events`);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    let closed = false;
    socket.once('close', () => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 2 * REQUEST_TIMEOUT_MS + 500));
    expect(closed).toBe(false);
    const reply = new Promise<{ type: string }>((resolve) => {
      socket.once('message', (data: Buffer) => {
        resolve(JSON.parse(data.toString()) as { type: string });
      });
    });
    socket.send(JSON.stringify({ subscribe: { account: null } }));
    expect((await reply).type).toBe('subscribed');
    socket.close();
  });

  it('keeps Server-Sent Events streams open past both deadlines, to their ends', async () => {
    const model = modelOf('text-generation');
    // A stream lasts as long as its generation and the ones queued before it
    // in the relay's pool: batches grow until one stream outlives the request
    // deadline by half a second (node checks its deadlines every 125 ms here).
    let longest = 0;
    for (const count of [4, 8, 16, 32]) {
      const followed: Promise<number>[] = [];
      // Fresh requesters, ten tasks each (the per-account limit here is 20 a minute).
      for (let first = 0; first < count; first += 10) {
        const requester = generateNobleSigner();
        await onboardAccount(api, network, requester);
        const streams = textStreams({
          url: () => relay.url,
          api,
          network: () => network,
          model: () => model,
          requester,
        });
        const { input, most } = streams.generation(LONG_PROMPT, 4096);
        const views = [];
        for (let i = first; i < Math.min(count, first + 10); i++) views.push(await streams.submit(model, input, most));
        for (const view of views) {
          const started = performance.now();
          followed.push(
            streams.follow(view.id).then(({ end, frames }) => {
              expect(end.state).toBe('settled');
              expect(frames.length).toBeGreaterThan(0);
              return performance.now() - started;
            }),
          );
        }
      }
      longest = Math.max(longest, ...(await Promise.all(followed)));
      if (longest > REQUEST_TIMEOUT_MS + 500) break;
    }
    console.log(`the longest stream was open ${Math.round(longest)} ms; request deadline ${REQUEST_TIMEOUT_MS} ms`);
    expect(longest).toBeGreaterThan(REQUEST_TIMEOUT_MS + 500);
  });
});

describe('the body cap', () => {
  it('admits a task of the documented largest input, 16 MiB, about 21.4 MiB as JSON', async () => {
    const ocr = modelOf('ocr');
    // Exactly 16 MiB: the body is read and the task checked (these bytes are no image: a typed 400, not a 413).
    const exact = new Uint8Array(MAX_TASK_INPUT_BYTES).fill(7);
    const refused = await api('/api/tasks', {
      task: await signedTask(alice, ocr.id, exact, 1000),
      input: toBase64Url(exact),
    });
    expect(refused.body.error).toMatchObject({ code: 'invalid-model-input' });
    expect(refused.status).toBe(400);

    // A real image of nearly 16 MiB (4096 x 1365 RGB) is taken: 201.
    const width = 4096;
    const height = 1365;
    const image = encodeImage({ width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(255) });
    expect(image.length).toBeLessThanOrEqual(MAX_TASK_INPUT_BYTES);
    expect(image.length).toBeGreaterThan(MAX_TASK_INPUT_BYTES - 8192);
    const body = { task: await signedTask(alice, ocr.id, image, 1000), input: toBase64Url(image) };
    expect(JSON.stringify(body).length).toBeGreaterThan(21 * 1024 * 1024);
    const taken = await api('/api/tasks', body);
    expect(taken.status).toBe(201);
    expect((taken.body.task as { id: TaskId }).id).toMatch(/^[0-9a-f]{64}$/);

    // The cap still holds just above the largest body: 413.
    const over = await fetch(`${relay.url}/api/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': freshIp() },
      body: JSON.stringify({ input: 'A'.repeat(22 * 1024 * 1024) }),
    });
    expect(over.status).toBe(413);
    expect(((await over.json()) as { error: { code: string } }).error.code).toBe('payload-too-large');
  });
});

describe('rate limits', () => {
  it('lets exactly the per-account limit through in a minute, then 429 with Retry-After', async () => {
    const model = modelOf('language-id');
    const input = new TextEncoder().encode('a rate limit that holds exactly');
    const submit = async (): Promise<{ answer: ApiAnswer; retryAfter: string | null }> => {
      const response = await fetch(`${relay.url}/api/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': freshIp() },
        body: JSON.stringify({ task: await signedTask(dave, model.id, input, 10), input: toBase64Url(input) }),
      });
      return {
        answer: { status: response.status, body: (await response.json()) as Record<string, unknown> },
        retryAfter: response.headers.get('retry-after'),
      };
    };
    const burst: number[] = [];
    for (let i = 0; i < PER_ACCOUNT; i++) burst.push((await submit()).answer.status);
    // Then one every 250 ms for 4 s: a token bucket refilling over the minute would let one in every 3 s.
    const after: { status: number; retryAfter: string | null }[] = [];
    for (let i = 0; i < 16; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const { answer, retryAfter } = await submit();
      after.push({ status: answer.status, retryAfter });
      if (answer.status === 429) expect(answer.body.error).toMatchObject({ code: 'rate-limited' });
    }
    const accepted = [...burst, ...after.map((a) => a.status)].filter((s) => s === 201).length;
    expect(accepted).toBe(PER_ACCOUNT);
    expect(burst.every((s) => s === 201)).toBe(true);
    expect(after.every((a) => a.status === 429)).toBe(true);
    for (const { retryAfter } of after) {
      // The first tasks were counted seconds ago: they leave the count within a minute and a slot (2 s).
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(50);
      expect(Number(retryAfter)).toBeLessThanOrEqual(62);
    }
    // Another account has a count of its own.
    const other = await fetch(`${relay.url}/api/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': freshIp() },
      body: JSON.stringify({ task: await signedTask(carol, model.id, input, 10), input: toBase64Url(input) }),
    });
    expect(other.status).toBe(201);
  });

  it('lets exactly the per-IP limit through in a minute, then 429 with Retry-After', async () => {
    const from = '203.0.113.77';
    const statuses: number[] = [];
    const retries: (string | null)[] = [];
    // The limit at once, then one every 100 ms for 3 s (a token bucket would let one in every second).
    for (let i = 0; i < PER_IP + 30; i++) {
      if (i >= PER_IP) await new Promise((resolve) => setTimeout(resolve, 100));
      // /api/status too: every API route counts.
      const response = await fetch(`${relay.url}/api/status`, { headers: { 'x-forwarded-for': from } });
      statuses.push(response.status);
      retries.push(response.headers.get('retry-after'));
      await response.arrayBuffer();
    }
    expect(statuses.filter((s) => s === 200).length).toBe(PER_IP);
    expect(statuses.slice(PER_IP).every((s) => s === 429)).toBe(true);
    for (const retry of retries.slice(PER_IP)) {
      expect(Number(retry)).toBeGreaterThanOrEqual(50);
      expect(Number(retry)).toBeLessThanOrEqual(62);
    }
    // The signed-submission lane draws on the same count.
    const lane = await fetch(`${relay.url}/api/ledger/tx`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
      body: JSON.stringify({ tx: 'AAAA' }),
    });
    expect(lane.status).toBe(429);
    expect(Number(lane.headers.get('retry-after'))).toBeGreaterThanOrEqual(50);
    // Another address is not affected.
    expect((await api('/api/status')).status).toBe(200);
  });
});
