/**
 * The relay's Prometheus metrics: callback gauges, the task counter, the
 * request histogram by route template, and the /metrics endpoint.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { errorHandler, HttpError } from '#server/http/errors.ts';
import { createMetrics, type RelayMetrics } from '#server/http/metrics.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server !== undefined) await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A tiny app shaped like the relay's: metrics first, an API router, the error handler last. */
async function serve(metrics: RelayMetrics): Promise<string> {
  const app = express();
  app.use(metrics.middleware);
  app.use(metrics.router);
  const api = express.Router();
  api.get('/things/:id', (_req, res) => {
    res.json({ ok: true });
  });
  api.get('/broken/:id', () => {
    throw new HttpError(429, 'rate-limited', 'slow down');
  });
  app.use('/api', api);
  app.use(errorHandler());
  const listening = app.listen(0, '127.0.0.1');
  server = listening;
  await new Promise((resolve) => listening.once('listening', resolve));
  return `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
}

/** The value of one sample line in a Prometheus text scrape. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createMetrics', () => {
  it('reports the callbacks at each scrape', async () => {
    let height = 7;
    let skipped = 0;
    const metrics = createMetrics({
      ledgerHeight: () => height,
      tasksByState: () => ({ pending: 3, running: 1 }),
      p2pPeers: () => 42,
      p2pReservations: () => 5,
      eventClients: () => 9,
      eventSendsSkipped: () => skipped,
    });
    metrics.countTask('settled');
    metrics.countTask('settled');
    let text = await metrics.registry.metrics();
    expect(sample(text, 'acn_relay_ledger_height')).toBe(7);
    expect(sample(text, 'acn_relay_tasks{state="pending"}')).toBe(3);
    expect(sample(text, 'acn_relay_tasks{state="running"}')).toBe(1);
    expect(sample(text, 'acn_relay_tasks{state="settled"}')).toBe(0);
    expect(sample(text, 'acn_relay_task_transitions_total{state="settled"}')).toBe(2);
    expect(sample(text, 'acn_relay_p2p_peers')).toBe(42);
    expect(sample(text, 'acn_relay_p2p_reservations')).toBe(5);
    expect(sample(text, 'acn_relay_event_clients')).toBe(9);
    expect(sample(text, 'acn_relay_event_sends_skipped_total')).toBe(0);
    // Process metrics are there by default.
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');

    height = 8;
    skipped = 4;
    text = await metrics.registry.metrics();
    expect(sample(text, 'acn_relay_ledger_height')).toBe(8);
    expect(sample(text, 'acn_relay_event_sends_skipped_total')).toBe(4);
    skipped = 6;
    text = await metrics.registry.metrics();
    expect(sample(text, 'acn_relay_event_sends_skipped_total')).toBe(6);
  });

  it('registers only what it is given, in the given registry', async () => {
    const registry = new Registry();
    const metrics = createMetrics({ registry, defaultMetrics: false });
    expect(metrics.registry).toBe(registry);
    const text = await registry.metrics();
    expect(text).toContain('acn_relay_http_request_duration_seconds');
    expect(text).not.toContain('acn_relay_ledger_height');
    expect(text).not.toContain('acn_relay_p2p_peers');
    expect(text).not.toContain('process_cpu_user_seconds_total');
  });

  it('serves /metrics and counts requests by route template and status', async () => {
    const metrics = createMetrics({ defaultMetrics: false, ledgerHeight: () => 3 });
    const url = await serve(metrics);
    expect((await fetch(`${url}/api/things/a`)).status).toBe(200);
    expect((await fetch(`${url}/api/things/b`)).status).toBe(200);
    expect((await fetch(`${url}/api/broken/c`)).status).toBe(429);
    expect((await fetch(`${url}/nowhere/${'x'.repeat(10)}`)).status).toBe(404);

    const scrape = await fetch(`${url}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get('content-type')).toBe(metrics.registry.contentType);
    const text = await scrape.text();
    expect(sample(text, 'acn_relay_ledger_height')).toBe(3);
    const count = (labels: string) => sample(text, `acn_relay_http_request_duration_seconds_count{${labels}}`);
    expect(count('method="GET",route="/api/things/:id",status="200"')).toBe(2);
    // The error handler answered, after express left the API router: still the route's template.
    expect(count('method="GET",route="/api/broken/:id",status="429"')).toBe(1);
    expect(count('method="GET",route="none",status="404"')).toBe(1);
    expect(text).not.toContain('nowhere');
  });
});
