#!/usr/bin/env node
/**
 * `npm run worker -- --relay <url>`: contribute this machine's compute to a
 * relay's network from a terminal (or as a service), and get paid for it.
 *
 * While it runs, type a preset name (`conservative`, `balanced`, `generous`,
 * `mobile`), a share (`cpu 50`, `ram 20`, `storage 5`), `price N`,
 * `models all|NAME,…`, `status`, `help` or `quit`; or edit the settings file
 * and send SIGHUP. Changes apply at once (no restart) and are saved in the
 * settings file. SIGINT/SIGTERM stop it after running tasks finish.
 *
 * `npm run worker -- --help` lists every option with its environment variable.
 */
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { createNodeWorker, type NodeWorker } from './node-worker.ts';
import { toWorkerConfig, withWorkerOptions, type WorkerConfig } from './worker-config.ts';
import {
  advertFields,
  createWorkerDisplay,
  resourceFields,
  statusLine,
  taskFields,
  type WorkerDisplay,
} from './worker-display.ts';
import { loadOrCreateWorkerKey } from './worker-key.ts';
import {
  COMMAND_HELP,
  applySettingsPatch,
  parseCommand,
  readSettingsFile,
  writeSettingsFile,
  type SettingsPatch,
} from './worker-settings.ts';

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Prints the worker's events as log lines and keeps the status line fresh. */
function showEvents(worker: NodeWorker, display: WorkerDisplay): () => void {
  worker.addEventListener('connection', (event) => {
    display.log(event.detail.connected ? 'connected' : 'disconnected', {
      relay: worker.status().relay.peerId,
      error: event.detail.error,
    });
  });
  worker.addEventListener('ledger', (event) => {
    display.log(`ledger ${event.detail.step}`, { account: worker.account, amount: event.detail.amount });
  });
  worker.addEventListener('models', (event) => {
    const { offered, skipped, downloadedBytes } = event.detail;
    display.log('models', {
      offered: offered.join(',') || '-',
      downloadedBytes,
      skipped: skipped.map((s) => `${s.name}(${s.reason})`).join(',') || undefined,
    });
  });
  worker.addEventListener('resources', (event) => {
    display.log('resources', resourceFields(event.detail.settings, event.detail.limits));
  });
  worker.addEventListener('advert', (event) => {
    display.log(event.detail.ok ? 'advert accepted' : 'advert refused', advertFields(event.detail));
  });
  worker.addEventListener('task', (event) => {
    const [name, fields] = taskFields(event.detail);
    display.log(name, fields);
  });
  worker.addEventListener('warning', (event) => {
    display.log('warning', { message: event.detail.message });
  });
  let lastEarned: number | undefined;
  let pending: ReturnType<typeof setTimeout> | undefined;
  const refresh = (): void => {
    pending = undefined;
    const status = worker.status();
    if (status.ledger !== undefined && status.ledger.earned !== lastEarned) {
      lastEarned = status.ledger.earned;
      display.log('ledger balance', { ...status.ledger });
    }
    display.status(status);
  };
  worker.addEventListener('status', () => {
    pending ??= setTimeout(refresh, 100);
  });
  const timer = setInterval(refresh, 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    clearTimeout(pending);
  };
}

async function runWorker(config: WorkerConfig): Promise<void> {
  const display = createWorkerDisplay(process.stdout);
  const key = await loadOrCreateWorkerKey(config.keyPath);
  display.log(key.created ? 'key created' : 'key loaded', { path: key.path, account: key.accountId });
  const worker = createNodeWorker({
    relayUrl: config.relayUrl,
    key,
    dataDir: config.dataDir,
    settings: config.settings,
    stake: config.stake,
    ...(config.cores === undefined ? {} : { device: { cores: config.cores } }),
    ...(config.pinnedRelay === undefined ? {} : { pinnedRelay: config.pinnedRelay }),
    webrtc: config.webrtc,
    debugLibp2p: config.debugLibp2p,
  });
  const stopShowing = showEvents(worker, display);

  let stopping: Promise<void> | undefined;
  const shutdown = (code: number): void => {
    if (stopping !== undefined) {
      process.exit(1); // a second signal: do not wait any longer
    }
    display.log('stopping', { running: worker.status().tasks.running });
    stopping = worker.stop().then(
      () => {
        stopShowing();
        display.status(worker.status());
        display.close();
        process.exit(code);
      },
      (error: unknown) => {
        display.log('error', { message: message(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => {
    shutdown(0);
  });
  process.on('SIGTERM', () => {
    shutdown(0);
  });

  // Changes from the terminal and from SIGHUP go one at a time, in order.
  let changes: Promise<void> = Promise.resolve();
  const change = (patch: SettingsPatch, source: string): void => {
    changes = changes.then(async () => {
      const next = applySettingsPatch(worker.settings(), patch);
      if (!next.ok) {
        display.log('refused', { source, error: next.error.message });
        return;
      }
      try {
        await worker.update(next.value);
        await writeSettingsFile(config.settingsPath, next.value).catch((error: unknown) => {
          display.log('warning', { message: `settings not saved: ${message(error)}` });
        });
      } catch (error) {
        display.log('error', { source, message: message(error) });
      }
    });
  };

  const lines = createInterface({ input: process.stdin, terminal: false });
  lines.on('line', (line) => {
    if (process.stdin.isTTY) display.typed(line);
    let command;
    try {
      command = parseCommand(line);
    } catch (error) {
      display.log('refused', { source: 'stdin', error: message(error) });
      return;
    }
    switch (command.type) {
      case 'change':
        change(command.patch, 'stdin');
        break;
      case 'status':
        display.print(statusLine(worker.status()));
        break;
      case 'help':
        for (const text of COMMAND_HELP) display.print(`  ${text}`);
        break;
      case 'quit':
        shutdown(0);
        break;
      case 'none':
        break;
    }
  });
  // A terminal that goes away (or Ctrl-D) stops the worker; standard input that is
  // closed from the start or ends (a service, a pipe, CI) does not.
  lines.on('close', () => {
    if (process.stdin.isTTY) shutdown(0);
  });
  // A terminal or pipe that is gone must not crash the worker mid-task.
  process.stdout.on('error', () => undefined);

  process.on('SIGHUP', () => {
    readSettingsFile(config.settingsPath).then(
      (patch) => {
        display.log('settings reloaded', { path: config.settingsPath, found: patch !== undefined });
        if (patch !== undefined) change(patch, 'SIGHUP');
      },
      (error: unknown) => {
        display.log('refused', { source: 'SIGHUP', error: message(error) });
      },
    );
  });

  display.log('starting', { relay: config.relayUrl, dataDir: config.dataDir, stake: config.stake });
  try {
    await worker.start();
  } catch (error) {
    if (stopping !== undefined) return;
    display.log('error', { message: message(error) });
    stopShowing();
    display.close();
    process.exit(1);
  }
  await writeSettingsFile(config.settingsPath, worker.settings()).catch((error: unknown) => {
    display.log('warning', { message: `settings not saved: ${message(error)}` });
  });
  display.log('ready', {
    account: worker.account,
    settings: config.settingsPath,
    hint: process.stdin.isTTY ? 'type help for commands' : undefined,
  });
}

const program = withWorkerOptions(new Command('worker'))
  .description("AI Compute Network worker: runs the relay's tasks on this machine and earns tokens.")
  .showHelpAfterError('(run with --help for every option)')
  .action(async (_options: unknown, command: Command) => {
    await runWorker(await toWorkerConfig(command));
  });

await program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`error: ${message(error)}\n`);
  process.exit(1);
});
