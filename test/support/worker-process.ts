/**
 * The Node worker (`node relay/worker/cli.ts`) as a child process for
 * end-to-end tests, with its one-line-per-event log to wait on.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

export interface WorkerProcess {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly lines: string[];
  /** The first line at or after `from` matching `pattern`; rejects after `timeoutMs` (default 20 s). */
  waitFor(pattern: RegExp, options?: { from?: number; timeoutMs?: number }): Promise<string>;
  /** Types a command line on the worker's standard input. */
  type(line: string): void;
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>;
}

export function startWorkerProcess(args: readonly string[]): WorkerProcess {
  const child = spawn(process.execPath, ['relay/worker/cli.ts', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters) wake();
  });
  return {
    child,
    lines,
    waitFor(pattern, { from = 0, timeoutMs = 20_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = lines.slice(from).find((line) => pattern.test(line));
          if (found === undefined) return false;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(found);
          return true;
        };
        const wake = (): void => {
          check();
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${lines.join('\n')}\n${stderr}`));
        }, timeoutMs);
        if (!check()) waiters.add(wake);
      });
    },
    type(line) {
      child.stdin.write(`${line}\n`);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
