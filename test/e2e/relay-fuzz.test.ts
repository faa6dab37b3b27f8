/**
 * Every endpoint of the real relay process, fuzzed: each route declared in
 * relay/server/http/*.ts (read from the sources, so a new route is fuzzed
 * without anyone adding it here) gets malformed bodies and parameters:
 * strings that are not base64url or do not decode (one character, spare
 * bits set), real signed envelopes truncated, bit-flipped or extended, NaN
 * and huge numbers, wrong types, deep nesting, bad JSON, odd content types
 * and encodings, bad percent-encoding, odd methods. None may get a 5xx, each
 * API refusal is a typed `{ error: { code } }`, the relay logs no error, the
 * events WebSocket refuses bad upgrades and messages alike, and the ledger
 * database (every table, row by row) is byte-for-byte what it was.
 *
 * Seeded (fast-check), a few hundred requests, a few seconds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { fromBase64Url, toBase64Url } from '#core/encoding/bytes.ts';
import { encodeEnvelope, signEnvelope } from '#core/envelope/envelope.ts';
import type { AccountId, Hash, ModelId } from '#core/identity/ids.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import { signTransaction } from '#core/ledger/transaction.ts';
import type { Catalogue } from '#core/models/catalogue.ts';
import { verifyPow } from '#core/pow/pow.ts';
import { onboardAccount, relayApi, runTextTask, type RelayApi } from '#test/relay-api.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

const SEED = 16_016;
/** Random requests per route that takes a body, and per route that does not (on top of the fixed raw bodies). */
const PER_BODY_ROUTE = 40;
const PER_ROUTE = 8;
const CONCURRENCY = 8;
const HTTP_SOURCES = new URL('../../relay/server/http/', import.meta.url);

let relay: RelayProcess;
let api: RelayApi;
let network: AccountId;
/** Error lines (pino level ≥ 50) the relay printed. */
const errorsLogged: string[] = [];
const alice = generateNobleSigner();
const bob = generateNobleSigner();
/** Real signed envelopes, each refused if sent whole (replayed, unfunded, for an unknown model, for a settled task…). */
const envelopes: Uint8Array[] = [];
/** Path parameters: real ids (a settled task, a transaction, an account, a model)… */
const realIds: string[] = [];
/** …and malformed ones (already URL-encoded where they need it). */
const params: string[] = [];
let modelId = '';

interface Route {
  readonly method: string;
  readonly path: string;
  readonly file: string;
}

/** Where each source file's routers are mounted (run.ts and app.ts); `/api` for every other file. */
const MOUNTS: Readonly<Record<string, string>> = { 'app.ts': '', 'metrics.ts': '', 'static.ts': '/models' };

/** Every route the HTTP sources declare with a literal path: `api.post('/tasks', …)` and the like. */
function declaredRoutes(): Route[] {
  const routes: Route[] = [];
  for (const file of readdirSync(HTTP_SOURCES).filter((name) => name.endsWith('.ts'))) {
    const source = readFileSync(new URL(file, HTTP_SOURCES), 'utf8');
    for (const match of source.matchAll(/\b(?:api|app|router)\.(get|post|put|patch|delete)\(\s*'([^']+)'/g)) {
      const [, method = '', path = ''] = match;
      routes.push({ method: method.toUpperCase(), path: (MOUNTS[file] ?? '/api') + path, file });
    }
  }
  return routes;
}

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

interface Answer {
  readonly status: number;
  readonly type: string;
  readonly text: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/** Sends exactly `sent` (any method with any body), without fetch's checks. */
function send(sent: Sent): Promise<Answer> {
  const url = new URL(relay.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: sent.method,
        path: sent.path,
        headers: {
          ...sent.headers,
          ...(sent.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(sent.body)) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'] ?? '',
            text: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', reject);
    req.end(sent.body);
  });
}

/** Every row of every table of the ledger database, through a second, read-only connection. */
function dumpLedger(): string {
  const db = new Database(join(relay.dataDir, 'ledger.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
      name: string;
    }[];
    return JSON.stringify(
      tables.map(({ name }) => [name, db.prepare(`SELECT * FROM "${name}"`).raw().all()]),
      (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v),
    );
  } finally {
    db.close();
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 600));

beforeAll(async () => {
  relay = await startRelayProcess([
    '--pow-difficulty',
    '8',
    '--block-interval',
    '200',
    '--grant',
    '5000',
    '--rate-ip',
    '1000000',
  ]);
  relay.child.stdout.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      const level = /"level":(\d+)/.exec(line)?.[1];
      if (level !== undefined && Number(level) >= 50) errorsLogged.push(line);
    }
  });
  api = relayApi(() => relay.url);
  network = relay.relayAccount as AccountId;
  await onboardAccount(api, network, alice, 8);
  await onboardAccount(api, network, bob, 8);
  const catalogue = (await api('/api/models')).body as unknown as Catalogue;
  const languageId = catalogue.models.find((m) => m.kind === 'language-id');
  if (languageId === undefined) throw new Error('no language-id model: run npm run models');
  modelId = languageId.id;
  const task = await runTextTask(api, alice, network, languageId.id, 'the relay must never answer 500');
  const transfer = await signTransaction(alice, 'tx/transfer', {
    v: 1,
    net: network,
    to: bob.accountId,
    amount: 7,
    seq: 1,
  });
  const sent = await api('/api/ledger/tx', { tx: toBase64Url(transfer) });
  expect(sent.status).toBe(201);
  const ts = Date.now();
  envelopes.push(
    transfer, // a replay now: bad sequence
    await signTransaction(alice, 'tx/transfer', { v: 1, net: network, to: bob.accountId, amount: 10 ** 9, seq: 2 }),
    encodeEnvelope(
      await signEnvelope(alice, 'task', {
        v: 1,
        net: network,
        model: '0'.repeat(64) as ModelId,
        input: '1'.repeat(64) as Hash,
        inputBytes: 3,
        maxPrice: 10,
        nonce: new Uint8Array(16),
        ts,
      }),
    ),
    encodeEnvelope(await signEnvelope(alice, 'task/cancel', { v: 1, net: network, task: task.id, ts })),
    encodeEnvelope(await signEnvelope(alice, 'task/stop', { v: 1, net: network, task: task.id, ts })),
    encodeEnvelope(await signEnvelope(bob, 'receipt', { v: 1, junk: [1, 2, 3] })),
  );
  realIds.push(task.id, sent.body.id as string, alice.accountId, modelId);
  params.push(
    `${alice.accountId}x`,
    '0'.repeat(64),
    'F'.repeat(64),
    '0'.repeat(63),
    'NaN',
    'A',
    '-1',
    '0',
    '1e309',
    '9'.repeat(400),
    '%ZZ',
    '%',
    '%00',
    '%2e%2e%2f%2e%2e%2fpackage.json',
    '..%2F..%2Fpackage.json',
    '__proto__',
    'constructor',
    encodeURIComponent('😀'),
    'x'.repeat(3000),
  );
  await settle();
}, 120_000);

afterAll(async () => {
  agent.destroy();
  expect(await relay.stop()).toBe(0);
  await relay.cleanup();
});

/** base64url strings that are not, or not quite, what a field wants. */
function badBytes(): fc.Arbitrary<string> {
  const envelope = fc.constantFrom(...envelopes);
  return fc.oneof(
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'A',
        'AB',
        'AAB',
        'AAAAA',
        '_',
        '',
        '=',
        'AA==',
        '!!',
        '+/+/',
        'A A',
        'é',
        'A'.repeat(100_001),
      ),
    },
    // Real envelopes cut short, with a bit flipped, with bytes after them, or whole (each refused whole).
    {
      weight: 2,
      arbitrary: fc.tuple(envelope, fc.nat()).map(([bytes, cut]) => toBase64Url(bytes.slice(0, cut % bytes.length))),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(envelope, fc.nat(), fc.integer({ min: 0, max: 7 })).map(([bytes, at, bit]) => {
        const flipped = bytes.slice();
        flipped[at % bytes.length] = (flipped[at % bytes.length] as number) ^ (1 << bit);
        return toBase64Url(flipped);
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(envelope, fc.uint8Array({ minLength: 1, maxLength: 8 }))
        .map(([bytes, extra]) => toBase64Url(Uint8Array.from([...bytes, ...extra]))),
    },
    { weight: 3, arbitrary: envelope.map((bytes) => toBase64Url(bytes)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => toBase64Url(bytes)) },
    // A valid key, for the fields that take one.
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        toBase64Url(alice.publicKey),
        toBase64Url(new Uint8Array(32)),
        toBase64Url(bob.publicKey),
      ),
    },
  );
}

/** Values of the wrong type, huge numbers and deep nesting. */
function wrongValue(): fc.Arbitrary<unknown> {
  const deep = fc.integer({ min: 50, max: 2000 }).map((depth) => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value };
    return value;
  });
  return fc.oneof(
    fc.constantFrom(null, true, false, 0, -1, 1.5, -0, 2 ** 53 + 2, 1e308, -1e308, 10 ** 21, '', 'NaN', 'Infinity'),
    fc.integer(),
    fc.double(), // NaN and ±Infinity go out as null
    fc.string({ maxLength: 20 }),
    fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
    deep,
  );
}

/** The fields each body takes, from the routes' schemas; other routes get all of them. */
const FIELDS: Readonly<Record<string, readonly string[]>> = {
  'POST /api/tasks': ['task', 'input', 'route'],
  'POST /api/tasks/:id/receipt': ['receipt', 'output'],
  'POST /api/tasks/:id/fallback': ['request'],
  'POST /api/tasks/:id/stop': ['stop'],
  'DELETE /api/tasks/:id': ['cancel'],
  'POST /api/ledger/tx': ['tx'],
  'POST /api/onboard': ['publicKey', 'pow'],
  'POST /api/resources': ['preset', 'cpu', 'ram', 'storage', 'gpu', 'pauseWhenHidden', 'pauseOnBattery'],
};
const ALL_FIELDS = [...new Set(Object.values(FIELDS).flat())];

/** Bodies whose JSON is broken, odd, or nested past any parser's taste. */
const RAW_BODIES: readonly string[] = [
  '',
  'A',
  'NaN',
  'null',
  '123',
  '"text"',
  '[]',
  '{',
  '{"tx": ',
  '{"tx": NaN}',
  '{"pow": {"nonce": 1e400, "difficulty": -1e400}}',
  '\u0000',
  '\ufeff{}',
  '{"__proto__": {"polluted": 1}}',
  '{"constructor": {"prototype": {"polluted": 1}}}',
  '['.repeat(20_000) + ']'.repeat(20_000),
  '{"a":'.repeat(5000) + '1' + '}'.repeat(5000),
  '{"a":'.repeat(5000),
];

function bodyFor(route: Route): fc.Arbitrary<unknown> {
  const fields = FIELDS[`${route.method} ${route.path}`] ?? ALL_FIELDS;
  const value = fc.oneof({ weight: 3, arbitrary: badBytes() }, { weight: 2, arbitrary: wrongValue() });
  const pow = fc.oneof(
    fc.record({
      nonce: fc.oneof(fc.nat(), wrongValue()),
      difficulty: fc.oneof(fc.integer({ min: 0, max: 70 }), wrongValue()),
    }),
    wrongValue(),
  );
  // Every field there, each bytes of some sort: what gets past the schema to the envelope decoders and the rules.
  const complete = fc
    .tuple(fc.array(badBytes(), { minLength: fields.length, maxLength: fields.length }), pow)
    .map(([values, powValue]) =>
      Object.fromEntries(
        fields.flatMap((field, i) => (field === 'route' ? [] : [[field, field === 'pow' ? powValue : values[i]]])),
      ),
    );
  // Some fields, of any type, maybe with one more.
  const partial = fc
    .tuple(
      fc.subarray([...fields]),
      fc.array(value, { minLength: fields.length, maxLength: fields.length }),
      pow,
      fc.option(fc.tuple(fc.string({ maxLength: 8 }), value), { nil: undefined }),
    )
    .map(([present, values, powValue, extra]) => {
      const body: Record<string, unknown> = {};
      present.forEach((field) => {
        body[field] = field === 'pow' ? powValue : values[fields.indexOf(field)];
      });
      if (extra !== undefined) body[extra[0]] = extra[1];
      return body;
    });
  return fc.oneof(
    { weight: 4, arbitrary: complete },
    { weight: 2, arbitrary: partial },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  );
}

/**
 * A proof-of-work the fuzzer happened to solve would be a real grant; a
 * solution that checks out at its own difficulty gets its nonce moved on until
 * it does not. (Difficulty 0 stays: that one the relay must refuse itself.)
 */
function neverSolved(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || !('publicKey' in body) || !('pow' in body)) return body;
  const { publicKey, pow } = body;
  if (typeof publicKey !== 'string' || typeof pow !== 'object' || pow === null) return body;
  const { nonce, difficulty } = pow as { nonce: unknown; difficulty: unknown };
  if (typeof nonce !== 'number' || typeof difficulty !== 'number' || difficulty === 0) return body;
  let key: Uint8Array;
  try {
    key = fromBase64Url(publicKey);
  } catch {
    return body;
  }
  let n = nonce;
  while (verifyPow({ network, publicKey: key, difficulty }, { nonce: n, difficulty })) n += 1;
  return { ...body, pow: { nonce: n, difficulty } };
}

const QUERIES = [
  '',
  '',
  '?limit=NaN',
  '?limit=1e309',
  '?limit=-1',
  '?limit=0',
  '?limit=1.5',
  '?limit=99999999999999999999',
  '?from=NaN',
  '?from=9007199254740993',
  '?account=A',
  '?account=%ZZ',
  '?account[]=a&account[]=b',
  '?limit=1&limit=2',
  '?__proto__[polluted]=1',
];

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  '',
];

function requestFor(route: Route): fc.Arbitrary<Sent> {
  const path = fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...realIds) },
        { weight: 3, arbitrary: fc.constantFrom(...params) },
        { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map(encodeURIComponent) },
      ),
      {
        minLength: 4,
        maxLength: 4,
      },
    )
    .chain((values) =>
      fc.constantFrom(...QUERIES).map((query) => {
        let i = 0;
        return route.path.replaceAll(/:\w+/g, () => values[i++ % values.length] ?? 'x') + query;
      }),
    );
  const method = fc.oneof(
    { weight: 6, arbitrary: fc.constant(route.method) },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS') },
  );
  const body = fc.oneof(
    { weight: 4, arbitrary: bodyFor(route).map((value) => JSON.stringify(neverSolved(value))) },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_BODIES) },
  );
  // Mostly plain JSON, so that the bodies reach the decoders behind the parser.
  const plain = { type: 'application/json', encoding: undefined, range: undefined };
  const odd = fc.record({
    type: fc.constantFrom(...CONTENT_TYPES),
    encoding: fc.constantFrom(undefined, 'gzip', 'deflate', 'br', 'x-unknown'),
    range: fc.constantFrom(undefined, 'bytes=99999999999-', 'bytes=-0', 'bytes=a-b', 'bytes=0-0,1-1,2-2'),
  });
  const headers = fc.oneof({ weight: 4, arbitrary: fc.constant(plain) }, { weight: 1, arbitrary: odd });
  return fc.record({ method, path, body, headers }).map(({ method: m, path: p, body: b, headers: h }) => ({
    method: m,
    path: p,
    headers: {
      ...(h.type === '' ? {} : { 'content-type': h.type }),
      ...(h.encoding === undefined ? {} : { 'content-encoding': h.encoding }),
      ...(h.range === undefined ? {} : { range: h.range }),
    },
    // GET and HEAD carry no body (as browsers send them); every other method gets one.
    ...(m === 'GET' || m === 'HEAD' ? {} : { body: b }),
  }));
}

/** Runs `tasks` with at most `limit` in flight, in order of start. */
async function inPool<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await run(items[i] as T);
      }
    }),
  );
  return results;
}

/** What is wrong with an answer to a malformed request, or undefined when nothing is. */
function wrongWith(sent: Sent, answer: Answer): string | undefined {
  if (answer.status >= 500 || answer.status < 100) return `status ${answer.status}: ${answer.text.slice(0, 200)}`;
  // Every API refusal is typed: JSON with a code (a HEAD answer has no body).
  if (sent.path.startsWith('/api/') && answer.status >= 400 && sent.method !== 'HEAD') {
    let code: unknown;
    try {
      code = (JSON.parse(answer.text) as { error?: { code?: unknown } }).error?.code;
    } catch {
      code = undefined;
    }
    if (typeof code !== 'string' || code === 'internal')
      return `untyped ${answer.status}: ${answer.text.slice(0, 200)}`;
  }
  return undefined;
}

describe('fuzzing every endpoint of the relay', () => {
  it('never answers a malformed request with a 5xx, and changes nothing', async () => {
    const routes = declaredRoutes();
    // The sources were read: the routes this test knows to exist are among them.
    for (const known of [
      'POST /api/ledger/tx',
      'POST /api/tasks',
      'DELETE /api/tasks/:id',
      'POST /api/tasks/:id/stop',
    ]) {
      expect(routes.map((r) => `${r.method} ${r.path}`)).toContain(known);
    }
    expect(routes.length).toBeGreaterThanOrEqual(25);

    const before = dumpLedger();
    const height = (await api('/api/ledger/blocks')).body.height;
    const requests = routes.flatMap((route, i) => [
      ...fc.sample(requestFor(route), { seed: SEED + i, numRuns: route.method === 'GET' ? PER_ROUTE : PER_BODY_ROUTE }),
      // Every route that takes a body gets every broken one, as JSON, and
      // every real envelope, whole, in each of its fields: these get past
      // every decoder to the rules, which must refuse them too.
      ...(route.method === 'GET'
        ? []
        : [
            ...RAW_BODIES,
            ...envelopes.map((bytes) =>
              JSON.stringify(
                Object.fromEntries(
                  (FIELDS[`${route.method} ${route.path}`] ?? ALL_FIELDS).map((field) => [field, toBase64Url(bytes)]),
                ),
              ),
            ),
          ].map((body) => ({
            method: route.method,
            path: route.path.replaceAll(/:\w+/g, realIds[0] ?? 'x'),
            headers: { 'content-type': 'application/json' },
            body,
          }))),
    ]);
    // A few hundred requests in all.
    expect(requests.length).toBeGreaterThan(300);
    const started = performance.now();
    const answers = await inPool(requests, CONCURRENCY, (sent) => send(sent));
    const seconds = (performance.now() - started) / 1000;

    const wrong = requests.flatMap((sent, i) => {
      const problem = wrongWith(sent, answers[i] as Answer);
      return problem === undefined
        ? []
        : [
            {
              method: sent.method,
              path: sent.path.slice(0, 120),
              body: String(sent.body ?? '').slice(0, 120),
              problem,
            },
          ];
    });
    expect(wrong).toEqual([]);
    expect(errorsLogged).toEqual([]);
    // The inputs reached past the JSON parser into every decoder: the codes of their refusals.
    const codes = new Set(answers.map((a) => /"code":"([^"]+)"/.exec(a.text)?.[1]));
    console.log(`fuzz: ${requests.length} requests in ${seconds.toFixed(1)} s; codes ${[...codes].sort().join(' ')}`);
    for (const deep of [
      'malformed-encoding',
      'invalid-message',
      'bad-signature',
      'wrong-message-type',
      'bad-sequence',
    ]) {
      expect(codes).toContain(deep);
    }
    expect(seconds).toBeLessThan(60);

    await settle();
    expect((await api('/api/ledger/blocks')).body.height).toBe(height);
    expect(dumpLedger()).toBe(before);
    expect((await api('/healthz')).status).toBe(200);
    expect((await api('/api/network/health')).status).toBe(200);
  });

  it('refuses bad event-stream upgrades and messages without a 5xx, and keeps serving', async () => {
    const ws = relay.url.replace(/^http/, 'ws');
    const upgrade = (query: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(`${ws}/api/events${query}`);
        socket.once('open', () => {
          socket.close();
          resolve(101);
        });
        socket.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
        });
        socket.once('error', reject);
      });
    for (const query of [
      '?account=A',
      '?account=%ZZ',
      '?account=' + 'x'.repeat(5000),
      '?account[]=a',
      '?account=' + alice.accountId + 'x',
    ]) {
      const status = await upgrade(query);
      expect(status, query).toBeGreaterThanOrEqual(101);
      expect(status, query).toBeLessThan(500);
    }

    const socket = new WebSocket(`${ws}/api/events`);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const replies: { type: string }[] = [];
    socket.on('message', (data: Buffer) => {
      replies.push(JSON.parse(data.toString()) as { type: string });
    });
    const messages = fc.sample(
      fc.oneof(
        fc.constantFrom(
          '',
          '{',
          'NaN',
          '[]',
          '{"subscribe":{"account":"A"}}',
          '{"subscribe":{"account":1e400}}',
          '{"subscribe":null}',
        ),
        fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
        fc.constant('['.repeat(1000) + ']'.repeat(1000)),
      ),
      { seed: SEED, numRuns: 30 },
    );
    for (const message of messages) socket.send(message);
    socket.send(Buffer.from([0xff, 0xfe, 0x00]), { binary: true });
    socket.send(JSON.stringify({ subscribe: { account: null } }));
    for (let i = 0; i < 100 && !replies.some((r) => r.type === 'subscribed'); i++)
      await new Promise((r) => setTimeout(r, 20));
    // Each bad message got an error reply, and the socket still takes a good one.
    expect(replies.filter((r) => r.type === 'error').length).toBeGreaterThan(20);
    expect(replies.some((r) => r.type === 'subscribed')).toBe(true);
    // A message over the hub's limit closes that socket only.
    const closed = new Promise<number>((resolve) => socket.once('close', resolve));
    socket.send('x'.repeat(10_000));
    expect(await closed).toBe(1009);
    expect((await api('/healthz')).status).toBe(200);
    expect(errorsLogged).toEqual([]);
  });
});
