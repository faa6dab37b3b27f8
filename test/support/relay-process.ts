/**
 * Runs the real relay (`node relay/cli.ts`) as a child process on a free
 * loopback port with a fresh data directory, for end-to-end tests.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export interface RelayProcess {
  readonly url: string;
  readonly dataDir: string;
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** Sends SIGTERM and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Removes the data directory (after stop). */
  cleanup(): Promise<void>;
}

export async function startRelayProcess(
  args: readonly string[] = [],
  options: { readonly dataDir?: string; readonly timeoutMs?: number } = {},
): Promise<RelayProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'acn-relay-')));
  const child = spawn(
    process.execPath,
    [
      'relay/cli.ts',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--p2p-port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`relay did not start within ${options.timeoutMs ?? 60_000} ms:\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const match = /^\s+local:\s+(https?:\/\/127\.0\.0\.1:\d+)\s*$/.exec(line);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code}:\n${stderr}`));
    });
  });
  return {
    url,
    dataDir,
    child,
    stop(signal = 'SIGTERM') {
      return new Promise((resolve) => {
        if (child.exitCode !== null) {
          resolve(child.exitCode);
          return;
        }
        child.once('exit', (code) => {
          resolve(code);
        });
        child.kill(signal);
      });
    },
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  };
}
