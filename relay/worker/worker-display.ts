/**
 * What the worker prints. On a terminal: log lines scroll above one status
 * line that is redrawn in place (connection and peers, tasks, earnings,
 * preset and limits). Elsewhere (a service manager, a pipe): plain log lines
 * only, `<time> <event> key=value …`, one per event, easy to grep.
 */
import type { Writable } from 'node:stream';
import type { ResourceLimits } from '#core/resources/allocation.ts';
import type { AdvertOutcome, NodeWorkerStatus } from './node-worker.ts';
import type { TaskEvent } from './task-runner.ts';
import type { WorkerSettings } from './worker-settings.ts';

export interface WorkerDisplay {
  /** Prints one log line (above the status line on a terminal). */
  log(event: string, fields?: Readonly<Record<string, string | number | boolean | undefined>>): void;
  /** Prints a line as it is (help text). */
  print(text: string): void;
  /** Redraws the status line (a terminal only). */
  status(status: NodeWorkerStatus): void;
  /**
   * A line was typed on the terminal: its echo sits after the status line, so
   * that line is erased (a log line saying what was typed replaces it).
   */
  typed(line: string): void;
  /** Leaves the status line as it is and moves below it. */
  close(): void;
}

const MIB = 1024 * 1024;

function value(v: string | number | boolean): string {
  const text = String(v);
  return /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}

export function createWorkerDisplay(out: Writable & { readonly isTTY?: boolean }): WorkerDisplay {
  const tty = out.isTTY === true;
  let statusText = '';
  const clear = (): void => {
    if (tty && statusText !== '') out.write('\r\x1b[2K');
  };
  const draw = (): void => {
    if (tty && statusText !== '') out.write(statusText);
  };
  return {
    log(event, fields = {}) {
      const pairs = Object.entries(fields)
        .filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined)
        .map(([key, v]) => `${key}=${value(v)}`);
      const time = new Date().toISOString().slice(11, 19);
      clear();
      out.write(`${time} ${[event, ...pairs].join(' ')}\n`);
      draw();
    },
    print(text) {
      clear();
      out.write(`${text}\n`);
      draw();
    },
    status(status) {
      if (!tty) return;
      clear();
      statusText = statusLine(status).slice(0, Math.max(20, ((out as { columns?: number }).columns ?? 160) - 1));
      draw();
    },
    typed(line) {
      if (tty && statusText !== '') {
        out.write('\x1b[1A\r\x1b[2K');
        statusText = '';
      }
      if (line.trim() !== '') this.log('typed', { input: line.trim() });
    },
    close() {
      if (tty && statusText !== '') out.write('\n');
      statusText = '';
    },
  };
}

/** `generous 3 threads × 1 task` or `custom cpu 50% 8 threads × 4 tasks`. */
export function describeResources(settings: WorkerSettings, limits: ResourceLimits): string {
  const a = settings.allocation;
  const name = a.preset === 'custom' ? `custom cpu ${a.cpu}% ram ${a.ram}% storage ${a.storage}%` : a.preset;
  const tasks = `${limits.concurrentTasks} task${limits.concurrentTasks === 1 ? '' : 's'}`;
  return `${name}: ${limits.threads} thread${limits.threads === 1 ? '' : 's'} × ${tasks}`;
}

/** `, 300 unstaked on hold until 14:32` while unstaked tokens unbond (still slashable); empty otherwise. */
function unbonding(ledger: NonNullable<NodeWorkerStatus['ledger']>): string {
  if (ledger.unbonding === 0 || ledger.unbondingUntil === undefined) return '';
  const until = new Date(ledger.unbondingUntil);
  const time = until.toTimeString().slice(0, 5);
  const today = until.toDateString() === new Date().toDateString();
  const day = today ? '' : `${until.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' })} `;
  return `, ${ledger.unbonding} unstaked on hold until ${day}${time}`;
}

/** The status line: connection, peers, tasks, earnings, resources. */
export function statusLine(s: NodeWorkerStatus): string {
  const link =
    s.state === 'online' && s.relay.connected
      ? `● online, ${s.relay.peers} peer${s.relay.peers === 1 ? '' : 's'}`
      : `○ ${s.state}`;
  const tasks = `tasks ${s.tasks.running} running, ${s.tasks.completed} done, ${s.tasks.failed} failed`;
  const money =
    s.ledger === undefined
      ? 'earned –'
      : `earned ${s.ledger.earned >= 0 ? '+' : ''}${s.ledger.earned} (balance ${s.ledger.balance}, stake ${s.ledger.stake}${unbonding(s.ledger)})`;
  return `${link} │ ${tasks} │ ${money} │ ${describeResources(s.settings, s.limits)} │ ${s.models.length} models`;
}

/** The fields of a resources log line. */
export function resourceFields(settings: WorkerSettings, limits: ResourceLimits): Record<string, string | number> {
  const a = settings.allocation;
  return {
    preset: a.preset,
    cpu: a.cpu,
    ram: a.ram,
    storage: a.storage,
    gpu: a.gpu,
    threads: limits.threads,
    concurrency: limits.concurrentTasks,
    duty: Number(limits.dutyCycle.toFixed(2)),
    memoryMiB: Math.floor(limits.memoryBytes / MIB),
    storageMiB: Math.floor(limits.storageBytes / MIB),
    price: settings.pricePerUnit,
  };
}

/** The fields of an advert log line. */
export function advertFields(advert: AdvertOutcome): Record<string, string | number | undefined> {
  return {
    seq: advert.seq,
    preset: advert.payload.allocation.preset,
    cpu: advert.payload.allocation.cpu,
    threads: advert.limits.threads,
    concurrency: advert.limits.concurrentTasks,
    models: advert.payload.models.length,
    price: advert.payload.pricePerUnit,
    webrtc: advert.payload.addrs.length,
    code: advert.error?.code,
    error: advert.error?.message,
  };
}

/** The event name and fields of a task log line. */
export function taskFields(event: TaskEvent): [string, Record<string, string | number | undefined>] {
  switch (event.phase) {
    case 'started':
      return ['task started', { id: event.task, model: event.model.slice(0, 12) }];
    case 'done':
      return [
        'task done',
        {
          id: event.task,
          model: event.model.slice(0, 12),
          units: event.units,
          runMs: Math.round(event.runMs),
          threads: event.threads,
        },
      ];
    case 'failed':
      return ['task failed', { id: event.task, code: event.error.code, error: event.error.message }];
  }
}
