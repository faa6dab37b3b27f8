/**
 * The light client's screen logic in real Chromium: routes and the join
 * fragment, what the Run screen sends (input bytes, units and the price the
 * relay will ask), results decoded for people, error wording, photos scaled
 * into the image tasks' raster format, and the merged task history.
 */
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '#core/encoding/bytes.ts';
import type { ModelId, TaskId } from '#core/identity/ids.ts';
import { decodeCatalogue, priceOf, type ModelEntry } from '#core/models/catalogue.ts';
import { encodeTable } from '#core/pipelines/data/table.ts';
import { clothingPipeline } from '#core/pipelines/image-classification/pipeline.ts';
import { RelayApiError, RelayUnreachableError } from '#client/sdk/errors.ts';
import type { TaskView } from '#core/api/responses.ts';
import type { OutboxEntry } from '#browser-storage/outbox/outbox-store.ts';
import { APP_DB_NAME, ONBOARDED_PREFIX, probeDevice } from '#web/services/device-probe.ts';
import { formatCount } from '#web/services/format-count.ts';
import { errorText, UNREACHABLE_TEXT } from '#web/services/error-text.ts';
import { imageToRaster, UnreadableImageError } from '#web/services/image-raster.ts';
import { InvalidTaskInputError, parseTable, prepareInput } from '#web/services/model-input.ts';
import { outputViewOf } from '#web/services/output-view.ts';
import { joinRelayOf, parseRoute, routePath } from '#web/services/routes.ts';
import { historyRows } from '#web/services/task-history.ts';
import { ACN_DB_NAME, openAcnDb } from '#browser-storage/db.ts';

const TASK = 'a'.repeat(64);

/** The catalogue the relay builds (dist/models/catalogue.json), read as the app reads GET /api/models. */
async function catalogue(): Promise<ModelEntry[]> {
  const response = await fetch('/dist/models/catalogue.json');
  const decoded = decodeCatalogue(await response.json());
  if (!decoded.ok) throw decoded.error;
  return decoded.value.models;
}

async function entry(pre: string): Promise<ModelEntry> {
  const found = (await catalogue()).find((m) => m.pre === pre);
  if (!found) throw new Error(`no ${pre} model in the catalogue`);
  return found;
}

describe('routes', () => {
  it('parses every screen and round-trips its path', () => {
    for (const path of ['/', '/chat', '/run', '/tasks', `/tasks/${TASK}`, '/wallet', '/contribute', '/network']) {
      expect(routePath(parseRoute(path))).toBe(path);
    }
    expect(parseRoute('/wallet/')).toEqual({ name: 'wallet' });
    expect(parseRoute(`/tasks/${TASK}`)).toEqual({ name: 'task', id: TASK });
  });

  it('sends unknown paths and malformed task ids to not-found', () => {
    expect(parseRoute('/tasks/not-a-task').name).toBe('not-found');
    expect(parseRoute(`/tasks/${TASK.toUpperCase()}`).name).toBe('not-found');
    expect(parseRoute('/api/status').name).toBe('not-found');
  });

  it('reads the relay account from a join fragment only', () => {
    expect(joinRelayOf('#relay=12D3KooWabc')).toBe('12D3KooWabc');
    expect(joinRelayOf('#other=1')).toBeUndefined();
    expect(joinRelayOf('')).toBeUndefined();
  });

  it('probes the database the storage layer opens', () => {
    expect(APP_DB_NAME).toBe(ACN_DB_NAME);
  });
});

describe('device probe', () => {
  const name = `acn-probe-test-${crypto.randomUUID()}`;

  it('finds a first open without creating the database', async () => {
    expect(await probeDevice(name)).toBe('new');
    const names = (await indexedDB.databases()).map((d) => d.name);
    expect(names).not.toContain(name);
  });

  it('tells an onboarded device from one that only has a key', async () => {
    const db = await openAcnDb({ name });
    try {
      await db.put('settings', 'balanced', 'resources');
      expect(await probeDevice(name)).toBe('new');
      await db.put('settings', true, `${ONBOARDED_PREFIX}12D3KooWexample`);
      expect(await probeDevice(name)).toBe('known');
    } finally {
      db.close();
      indexedDB.deleteDatabase(name);
    }
  });
});

describe('task input and price', () => {
  it('reads tables with or without a header, and names a bad value', () => {
    expect(parseTable('a, b\n1, 2\n3;4')).toEqual({
      columns: ['a', 'b'],
      rows: [
        [1, 2],
        [3, 4],
      ],
    });
    expect(parseTable('1 2\n3\t4')).toEqual({
      columns: undefined,
      rows: [
        [1, 2],
        [3, 4],
      ],
    });
    expect(() => parseTable('a, b\n1, 2\n3, x')).toThrow(/Row 2: "x"/);
    expect(() => parseTable('x, y\n')).toThrow(InvalidTaskInputError);
  });

  it('prices text as the relay does: one unit', async () => {
    const languageId = await entry('language-id');
    const prepared = prepareInput(languageId, { kind: 'text', text: 'Bonjour tout le monde' });
    expect(prepared.units).toBe(1);
    expect(prepared.maxPrice).toBe(priceOf(languageId, 1));
    expect(new TextDecoder().decode(prepared.bytes)).toBe('Bonjour tout le monde');
  });

  it('prices tables by 100 rows and sends the canonical table', async () => {
    const regression = await entry('linear-regression');
    const rows = Array.from({ length: 250 }, (_, i) => [i, 2 * i + 1]);
    const prepared = prepareInput(regression, { kind: 'table', table: { rows, target: 1 } });
    expect(prepared.units).toBe(3);
    expect(prepared.maxPrice).toBe(priceOf(regression, 3));
    expect(sha256Hex(prepared.bytes)).toBe(sha256Hex(encodeTable({ rows, target: 1 })));
  });

  it('refuses input its pipeline refuses, with the reason', async () => {
    const languageId = await entry('language-id');
    expect(() => prepareInput(languageId, { kind: 'text', text: 'x'.repeat(5000) })).toThrow(InvalidTaskInputError);
    const kmeans = await entry('kmeans');
    expect(() => prepareInput(kmeans, { kind: 'table', table: { rows: [[1, 2]], k: 3 } })).toThrow(/k/);
  });
});

describe('results for people', () => {
  it('shows a classification with its label and probability', async () => {
    const clothing = await entry('clothing');
    const bytes = clothingPipeline.encodeOutput({
      label: 'Sneaker',
      confidence: 0.9,
      top: [
        { label: 'Sneaker', p: 0.9 },
        { label: 'Sandal', p: 0.08 },
      ],
    });
    const view = outputViewOf(clothing, bytes);
    expect(view).toEqual({
      kind: 'classification',
      heading: 'This looks like',
      top: [
        { label: 'Sneaker', probability: 0.9 },
        { label: 'Sandal', probability: 0.08 },
      ],
    });
  });

  it('names the detected language', async () => {
    const languageId = await entry('language-id');
    const bytes = (await import('#core/pipelines/language-id/pipeline.ts')).languageIdPipeline.encodeOutput({
      label: 'fra',
      confidence: 0.97,
      top: [{ label: 'fra', p: 0.97 }],
    });
    const view = outputViewOf(languageId, bytes);
    expect(view.kind === 'classification' && view.top[0]?.label).toBe('French (fra)');
  });

  it('flags bytes that are not a result of the model instead of showing them', async () => {
    const clothing = await entry('clothing');
    expect(outputViewOf(clothing, Uint8Array.of(1, 2, 3)).kind).toBe('invalid');
  });
});

describe('error wording', () => {
  it('tells what to do when the relay is unreachable', () => {
    expect(errorText(new RelayUnreachableError('fetch failed'))).toMatchObject({
      message: UNREACHABLE_TEXT,
      code: 'relay-unreachable',
      retry: true,
    });
  });

  it('words a relay refusal by its code, and keeps the detail of an unknown failure', () => {
    expect(errorText(new RelayApiError(402, 'insufficient-funds', 'balance 0 < 5'))).toMatchObject({
      code: 'insufficient-funds',
      retry: false,
    });
    expect(errorText(new Error('disk on fire')).message).toContain('disk on fire');
  });
});

describe('photos', () => {
  it('scales a large picture down to the task limit, as RGB on white', async () => {
    const canvas = new OffscreenCanvas(2000, 1000);
    const context = canvas.getContext('2d');
    if (!context) throw new Error('no 2d context');
    context.fillStyle = 'rgb(255, 0, 0)';
    context.fillRect(0, 0, 1000, 1000); // the right half stays transparent
    const raster = await imageToRaster(await canvas.convertToBlob({ type: 'image/png' }), 256);
    expect([raster.width, raster.height, raster.channels]).toEqual([256, 128, 3]);
    expect(raster.data.length).toBe(256 * 128 * 3);
    expect(Array.from(raster.data.subarray(0, 3))).toEqual([255, 0, 0]);
    const lastPixel = raster.data.length - 3;
    expect(Array.from(raster.data.subarray(lastPixel))).toEqual([255, 255, 255]);
  });

  it('refuses a file that is not a picture', async () => {
    await expect(imageToRaster(new Blob(['not an image'], { type: 'image/png' }), 256)).rejects.toBeInstanceOf(
      UnreadableImageError,
    );
  });
});

describe('task history', () => {
  const view = (id: string, state: TaskView['state'], submittedAt: number): TaskView =>
    ({
      id,
      requester: 'r',
      model: 'm'.repeat(64),
      state,
      price: 1,
      maxPrice: 1,
      units: 1,
      submittedAt,
    }) as unknown as TaskView;
  const queued = (id: string, createdAt: number): OutboxEntry => ({
    taskId: id as TaskId,
    envelope: new Uint8Array(),
    input: new Uint8Array(),
    model: 'm'.repeat(64) as ModelId,
    maxPrice: 2,
    createdAt,
    state: 'queued',
    attempts: 0,
  });

  it('lists relay tasks and outbox entries newest first, each task once', () => {
    const rows = historyRows([view('a', 'settled', 10), view('b', 'running', 30)], [queued('b', 29), queued('c', 20)], {
      catalogue: undefined,
      verifications: new Map([['a', 'verified']]),
    });
    expect(rows.map((r) => [r.id, r.source, r.state, r.verified])).toEqual([
      ['b', 'relay', 'running', undefined],
      ['c', 'outbox', 'queued', undefined],
      ['a', 'relay', 'settled', 'verified'],
    ]);
  });
});

describe('formatCount', () => {
  it('groups thousands as en-US does, without Intl', () => {
    for (const n of [0, 7, 999, 1000, 12_345, 1_000_000, 123_456_789, -4321, 2 ** 53 - 1]) {
      expect(formatCount(n), String(n)).toBe(n.toLocaleString('en-US'));
    }
    expect(formatCount(1234.9)).toBe('1,234');
  });
});
