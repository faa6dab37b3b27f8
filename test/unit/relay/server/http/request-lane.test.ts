/**
 * The signed-submission lane answers `POST /api/ledger/tx` exactly as the
 * express route does: two relays' HTTP stacks, built as run.ts builds them,
 * one with the lane and one without, get the same requests (good, forged,
 * malformed, too large, chunked, other content types, rate-limited, behind a
 * proxy) and must give the same status, body and headers, count the same
 * metrics and end with the same ledger.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createApi } from '#server/http/api.ts';
import { createHttpApp } from '#server/http/app.ts';
import { createLedgerApi, createTxSubmitLane } from '#server/http/ledger-api.ts';
import { createMetrics, type RelayMetrics } from '#server/http/metrics.ts';
import { createRateLimiter, rateLimitByIp } from '#server/http/rate-limit.ts';
import type { RequestLane } from '#server/http/request-lane.ts';
import { createLedgerService, type LedgerService } from '#server/ledger/ledger-service.ts';
import { createMemoryLedgerStore } from '#server/ledger/memory-store.ts';
import { toBase64Url } from '#core/encoding/bytes.ts';
import type { Signer } from '#core/index.ts';
import { fastSigner } from '#test/ledger-fast-signer.ts';
import { expectOk, onboard, transferBytes } from '#test/ledger-fixtures.ts';
import { createTestNetwork, forgeSignature, signerFor, T0, TEST_PARAMS, type TestNetwork } from '#test/network.ts';

const MAX_BODY_BYTES = 4096;
const IP_LIMIT = 24;

interface Relay {
  readonly server: Server;
  readonly port: number;
  readonly ledger: LedgerService;
  readonly metrics: RelayMetrics;
  /** Requests the lane answered. */
  taken: number;
}

let net: TestNetwork;
let alice: Signer;
let bob: Signer;
let dir: string;
let plain: Relay;
let laned: Relay;

async function startRelay(withLane: boolean): Promise<Relay> {
  let clock = T0 + 60_000;
  const ledger = createLedgerService({
    store: createMemoryLedgerStore(),
    producer: net.relay,
    verifier: createNodeVerifier(),
    params: TEST_PARAMS,
    blockIntervalMs: 60_000,
    now: () => (clock += 1000),
  });
  await ledger.start();
  for (const who of [alice, bob]) expectOk(await onboard(ledger, net, who));
  const metrics = createMetrics({ defaultMetrics: false });
  // As run.ts wires them.
  const api = createApi({
    version: 'test',
    catalogue: () => Promise.reject(new Error('not used')),
    startedAt: 0,
    relay: { accountId: net.relay.accountId, publicKey: net.relay.publicKey },
    maxBodyBytes: MAX_BODY_BYTES,
  });
  const ipLimiter = createRateLimiter({ limit: IP_LIMIT });
  api.use(rateLimitByIp(ipLimiter));
  api.use(createLedgerApi(ledger));
  const lane = createTxSubmitLane({ ledger, maxBodyBytes: MAX_BODY_BYTES, ipLimiter, metrics });
  const relay = { ledger, metrics, taken: 0 } as Relay;
  const counted: RequestLane = (req, res, context) => {
    const took = lane(req, res, context);
    if (took) relay.taken++;
    return took;
  };
  const listener = createHttpApp({
    log: pino({ level: 'silent' }),
    modelsDir: dir,
    api,
    isReady: () => true,
    before: [metrics.middleware, metrics.router],
    lanes: withLane ? [counted] : [],
  });
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(relay, { server, port: (server.address() as AddressInfo).port });
}

interface Sent {
  readonly headers?: Record<string, string>;
  /** Sent in these chunks, chunked (no Content-Length) when there are several. */
  readonly body: string | readonly string[];
  readonly method?: string;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: IncomingHttpHeaders;
}

function send(relay: Relay, sent: Sent): Promise<Answer> {
  const chunks = typeof sent.body === 'string' ? [sent.body] : sent.body;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...sent.headers };
  if (chunks.length === 1) headers['content-length'] = String(Buffer.byteLength(chunks[0] as string));
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: relay.port, method: sent.method ?? 'POST', path: '/api/ledger/tx', headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            body: text === '' ? '' : (JSON.parse(text) as unknown),
            headers: res.headers,
          });
        });
      },
    );
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

/** Headers that differ between any two answers (per connection, the time) or that the lane leaves out (ETag). */
const UNCOMPARED = new Set(['date', 'etag', 'connection', 'keep-alive']);

/** The headers both paths must agree on. */
function comparable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !UNCOMPARED.has(name)));
}

async function both(sent: Sent): Promise<Answer> {
  const expected = await send(plain, sent);
  const actual = await send(laned, sent);
  expect({ ...actual, headers: comparable(actual.headers) }).toEqual({
    ...expected,
    headers: comparable(expected.headers),
  });
  return actual;
}

const txBody = (bytes: Uint8Array) => JSON.stringify({ tx: toBase64Url(bytes) });

beforeAll(async () => {
  net = await createTestNetwork();
  alice = fastSigner(signerFor('lane alice'));
  bob = fastSigner(signerFor('lane bob'));
  dir = await mkdtemp(join(tmpdir(), 'acn-tx-lane-'));
  plain = await startRelay(false);
  laned = await startRelay(true);
});
afterAll(async () => {
  for (const relay of [plain, laned]) {
    relay.server.close();
    await relay.ledger.stop();
  }
  await rm(dir, { recursive: true, force: true });
});

describe('POST /api/ledger/tx through the lane', () => {
  it('answers every kind of request as the express route does', async () => {
    let seq = 0;
    const transfer = async () => txBody(await transferBytes(net, alice, bob.accountId, 1, ++seq));
    const statuses: number[] = [];
    const check = async (sent: Sent) => statuses.push((await both(sent)).status);

    const first = await transfer();
    await check({ body: first });
    await check({ body: first }); // replayed seq
    await check({ body: txBody(forgeSignature(await transferBytes(net, alice, bob.accountId, 1, seq + 1))) });
    await check({ body: '{"tx":"!!"}' });
    await check({ body: '{"tx":5}' });
    await check({ body: `{"tx":"${toBase64Url(new Uint8Array([1, 2, 3]))}"}` });
    await check({ body: (await transfer()).replace('}', ',"more":1}') });
    seq--;
    await check({ body: '{}' });
    await check({ body: '' });
    await check({ body: '  [1]' });
    await check({ body: '"just a string"' });
    await check({ body: '{"tx": ' });
    await check({ body: 'x'.repeat(MAX_BODY_BYTES + 1) });
    await check({ body: ['{"tx":"', 'A'.repeat(MAX_BODY_BYTES), '"}'] });
    await check({ body: `\ufeff${await transfer()}` });
    await check({ body: (await transfer()).split(',') });
    await check({ body: await transfer(), headers: { 'content-type': 'Application/JSON; charset=UTF-8' } });
    // Left to express: another content type, charset or encoding, and another method.
    await check({ body: await transfer(), headers: { 'content-type': 'text/plain' } });
    seq--;
    await check({ body: await transfer(), headers: { 'content-type': 'application/json; charset=latin1' } });
    seq--;
    await check({ body: await transfer(), headers: { 'content-encoding': 'identity' } });
    await check({ body: '', method: 'PUT' });

    expect(statuses).toEqual([
      201, 409, 401, 400, 400, 400, 400, 400, 400, 400, 400, 400, 413, 413, 201, 201, 201, 400, 415, 201, 404,
    ]);
    expect(laned.taken).toBe(18);
    expect(laned.ledger.state.accounts).toEqual(plain.ledger.state.accounts);
    expect(laned.ledger.account(alice.accountId).seq).toBe(5);
  });

  it('shares the per-IP limit with the express routes, and honours X-Forwarded-For from a loopback proxy', async () => {
    const answers: Answer[] = [];
    while (answers.at(-1)?.status !== 429 && answers.length <= IP_LIMIT) answers.push(await both({ body: '{}' }));
    const limited = answers.at(-1) as Answer;
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: { code: 'rate-limited' } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // A client behind a proxy on loopback has its own bucket.
    const proxied = await both({ body: '{}', headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(proxied.status).toBe(400);
  });

  it('counts its requests in the same metrics as the express route', async () => {
    const counts = async (metrics: RelayMetrics) =>
      (await metrics.registry.getSingleMetricAsString('acn_relay_http_request_duration_seconds'))
        .split('\n')
        .filter((line) => line.includes('_count'));
    const lines = await counts(laned.metrics);
    expect(lines).toEqual(await counts(plain.metrics));
    expect(lines.some((line) => line.includes('route="/api/ledger/tx"') && line.includes('status="201"'))).toBe(true);
  });
});
