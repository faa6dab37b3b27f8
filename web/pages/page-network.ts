/**
 * Network: the relay this app talks to (URL, pinned key, version), its
 * health and stats, its peers, and live activity from the relay's WebSocket
 * events as a small chart (uPlot, loaded with the chart).
 */
import { consume } from '@lit/context';
import { Task } from '@lit/task';
import { css, html, LitElement, type PropertyValues, type TemplateResult } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import type { EventSubscription, RelayEventType, SubscriptionState } from '#client/sdk/events.ts';
import '../components/acn-chart.ts';
import type { ChartSeries } from '../components/acn-chart.ts';
import { connectionContext, statusContext, type ConnectionService, type AppStatus } from '../services/app-context.ts';
import { errorText } from '../services/error-text.ts';
import { networkHealth, networkPeers, networkStats } from '../services/network-api.ts';
import { sharedStyles } from '../styles/shared-styles.ts';
import { formatCount } from '../services/format-count.ts';

/** Width of one chart bucket, and how many are shown (5 minutes). */
const BUCKET_MS = 10_000;
const BUCKETS = 30;

const CHARTED = ['task_submitted', 'task_completed', 'block_mined'] as const satisfies readonly RelayEventType[];
const SERIES: readonly ChartSeries[] = [
  { label: 'Tasks submitted', color: '#0f766e' },
  { label: 'Tasks completed', color: '#1d4ed8' },
  { label: 'Blocks', color: '#b45309' },
];

const duration = (seconds: number): string =>
  seconds < 120
    ? `${seconds} s`
    : seconds < 7200
      ? `${Math.round(seconds / 60)} min`
      : `${Math.round(seconds / 3600)} h`;

@customElement('page-network')
export class PageNetwork extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      dl {
        display: grid;
        grid-template-columns: max-content minmax(0, 1fr);
        gap: 6px 12px;
        margin: 0;
      }
      dt {
        color: var(--acn-muted);
      }
      dd {
        margin: 0;
        overflow-wrap: anywhere;
      }
      .peers li {
        padding: 8px 0;
        border-bottom: 1px solid var(--acn-border);
      }
    `,
  ];

  @consume({ context: connectionContext, subscribe: true })
  @state()
  connection: ConnectionService | undefined;

  @consume({ context: statusContext, subscribe: true })
  @state()
  status!: AppStatus;

  @state() private live: SubscriptionState = 'connecting';
  @state() private chartData: [number[], ...number[][]] = emptyChart(Date.now());
  @state() private recent: readonly { readonly type: string; readonly ts: number }[] = [];
  /** Bumped on block and peer events, so the stats reload. */
  @state() private revision = 0;

  private events: EventSubscription | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  private readonly relay = new Task(this, {
    task: async ([connection], { signal }) => (connection ? connection.client.status({ signal }) : undefined),
    args: () => [this.connection, this.status.connection] as const,
  });

  private readonly health = new Task(this, {
    task: async ([connection], { signal }) => (connection ? networkHealth(connection.relayUrl, { signal }) : undefined),
    args: () => [this.connection, this.status.connection, this.revision] as const,
  });

  private readonly stats = new Task(this, {
    task: async ([connection], { signal }) => (connection ? networkStats(connection.relayUrl, { signal }) : undefined),
    args: () => [this.connection, this.status.connection, this.revision] as const,
  });

  private readonly peers = new Task(this, {
    task: async ([connection], { signal }) => (connection ? networkPeers(connection.relayUrl, { signal }) : undefined),
    args: () => [this.connection, this.status.connection, this.revision] as const,
  });

  protected override updated(changed: PropertyValues): void {
    if (changed.has('connection') && this.connection && !this.events) this.subscribe(this.connection);
  }

  override disconnectedCallback(): void {
    this.events?.close();
    this.events = undefined;
    clearInterval(this.timer);
    super.disconnectedCallback();
  }

  /** Every event of the network (not only this account's), counted into the chart's buckets. */
  private subscribe(connection: ConnectionService): void {
    const events = connection.client.events();
    this.events = events;
    events.onState((state) => {
      this.live = state;
    });
    CHARTED.forEach((type, series) => {
      events.on(type, (_data, ts) => {
        this.count(series, ts);
        this.recent = [{ type, ts }, ...this.recent].slice(0, 8);
        if (type === 'block_mined') this.revision++;
      });
    });
    events.on('peer_connected', (_data, ts) => {
      this.recent = [{ type: 'peer_connected', ts }, ...this.recent].slice(0, 8);
      this.revision++;
    });
    this.timer = setInterval(() => {
      this.shift(Date.now());
    }, BUCKET_MS);
  }

  private count(series: number, ts: number): void {
    const [xs, ...ys] = this.chartData;
    const bucket = Math.floor(ts / BUCKET_MS) * (BUCKET_MS / 1000);
    const index = xs.lastIndexOf(bucket);
    if (index === -1) return;
    const column = ys[series];
    if (column) column[index] = (column[index] ?? 0) + 1;
    this.chartData = [xs, ...ys];
  }

  private shift(now: number): void {
    const fresh = emptyChart(now);
    const [xs, ...ys] = this.chartData;
    // Keep the counts of buckets still on the chart.
    fresh[0].forEach((x, i) => {
      const old = xs.indexOf(x);
      if (old === -1) return;
      ys.forEach((column, s) => {
        const target = fresh[s + 1];
        if (target) target[i] = column[old] ?? 0;
      });
    });
    this.chartData = fresh;
  }

  override render(): TemplateResult {
    const connection = this.connection;
    const pin = connection?.pinnedRelay;
    return html`<h1>Network</h1>
      <section class="card" aria-labelledby="relay-heading">
        <h2 id="relay-heading">Relay</h2>
        <dl>
          <dt>Address</dt>
          <dd class="mono" data-testid="relay-url">${connection?.relayUrl ?? location.origin}</dd>
          <dt>Key</dt>
          <dd class="mono" data-testid="relay-key">${pin?.account ?? 'not pinned yet'}</dd>
          <dt>Pinned from</dt>
          <dd>${pin ? (pin.source === 'join-url' ? 'the join link' : 'the first connection') : '—'}</dd>
          <dt>Version</dt>
          <dd>
            ${this.relay.value?.version ?? (this.relay.error === undefined ? '…' : errorText(this.relay.error).message)}
          </dd>
          <dt>Up for</dt>
          <dd>${this.relay.value ? duration(this.relay.value.uptimeSeconds) : '…'}</dd>
          <dt>Connection</dt>
          <dd data-testid="network-connection">${this.status.connection}</dd>
        </dl>
      </section>
      <section class="card" aria-labelledby="health-heading">
        <h2 id="health-heading">Health</h2>
        ${this.health.render({
          pending: () => (this.health.value ? this.renderHealth() : html`<p class="muted">Loading…</p>`),
          complete: () => this.renderHealth(),
          error: (error) => html`<p class="muted">${errorText(error).message}</p>`,
        })}
      </section>
      <section class="card" aria-labelledby="live-heading">
        <div class="spread">
          <h2 id="live-heading">Live activity</h2>
          <span class="badge ${this.live === 'open' ? 'ok' : 'warn'}" data-testid="live-state" data-state=${this.live}>
            ${this.live === 'open' ? 'Live' : this.live === 'connecting' ? 'Connecting…' : 'Closed'}
          </span>
        </div>
        <acn-chart
          label="Tasks submitted, tasks completed and blocks per 10 seconds over the last 5 minutes"
          .series=${SERIES}
          .data=${this.chartData}
        ></acn-chart>
        ${
          this.recent.length === 0
            ? html`<p class="muted">No events yet. Events appear here as the network works.</p>`
            : html`<ul class="plain" data-testid="live-events">
                ${this.recent.map(
                  (e) => html`<li>${new Date(e.ts).toLocaleTimeString('en')} · ${e.type.replace('_', ' ')}</li>`,
                )}
              </ul>`
        }
      </section>
      <section class="card" aria-labelledby="stats-heading">
        <h2 id="stats-heading">Stats</h2>
        ${this.stats.render({
          pending: () => (this.stats.value ? this.renderStats() : html`<p class="muted">Loading…</p>`),
          complete: () => this.renderStats(),
          error: (error) => html`<p class="muted">${errorText(error).message}</p>`,
        })}
      </section>
      <section class="card" aria-labelledby="peers-heading">
        <h2 id="peers-heading">Peers</h2>
        ${this.peers.render({
          pending: () => (this.peers.value ? this.renderPeers() : html`<p class="muted">Loading…</p>`),
          complete: () => this.renderPeers(),
          error: (error) => html`<p class="muted">${errorText(error).message}</p>`,
        })}
      </section>`;
  }

  private renderHealth(): TemplateResult {
    const health = this.health.value;
    if (!health) return html`<p class="muted">Loading…</p>`;
    return html`<p>
        <span
          class="badge ${health.healthy ? 'ok' : 'error'}"
          data-testid="relay-health"
          data-healthy=${health.healthy}
        >
          ${health.healthy ? 'Healthy' : 'Not healthy'}
        </span>
      </p>
      <dl>
        <dt>Ready</dt>
        <dd>${health.ready ? 'yes' : 'no'}</dd>
        <dt>Inference pool</dt>
        <dd>${health.pool}</dd>
        <dt>Ledger height</dt>
        <dd>${health.ledgerHeight}</dd>
        <dt>Peers</dt>
        <dd>${health.peers}</dd>
      </dl>`;
  }

  private renderStats(): TemplateResult {
    const stats = this.stats.value;
    if (!stats) return html`<p class="muted">Loading…</p>`;
    const states = Object.entries(stats.tasks.byState);
    return html`<dl data-testid="network-stats">
      <dt>Blocks</dt>
      <dd>${stats.ledger.height}</dd>
      <dt>Accounts</dt>
      <dd>${stats.ledger.accounts}</dd>
      <dt>Tokens in circulation</dt>
      <dd>${formatCount(stats.ledger.supply)}</dd>
      <dt>Recent tasks</dt>
      <dd>${stats.tasks.recent}${states.length > 0 ? ` (${states.map(([s, n]) => `${n} ${s}`).join(', ')})` : ''}</dd>
      <dt>Peers</dt>
      <dd>${stats.peers}</dd>
    </dl>`;
  }

  private renderPeers(): TemplateResult {
    const peers = this.peers.value;
    if (!peers) return html`<p class="muted">Loading…</p>`;
    if (peers.length === 0)
      return html`<p class="empty" data-testid="peers-empty">No peers are connected to the relay right now.</p>`;
    return html`<ul class="plain peers" data-testid="peers">
      ${peers.map(
        (p) =>
          html`<li>
            <span class="mono">${p.id}</span><br />
            <span class="muted"
              >${p.direction ?? ''}${p.since === undefined ? '' : ` since ${new Date(p.since).toLocaleTimeString('en')}`}</span
            >
          </li>`,
      )}
    </ul>`;
  }
}

/** Zero counts for the buckets of the last five minutes up to `now`. */
function emptyChart(now: number): [number[], ...number[][]] {
  const last = Math.floor(now / BUCKET_MS) * BUCKET_MS;
  const xs = Array.from({ length: BUCKETS }, (_, i) => (last - (BUCKETS - 1 - i) * BUCKET_MS) / 1000);
  return [xs, ...CHARTED.map(() => xs.map(() => 0))];
}

declare global {
  interface HTMLElementTagNameMap {
    'page-network': PageNetwork;
  }
}
