/**
 * Runs the real relay (`node relay/server/cli.ts`) as a child process on a free
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
  /** The join URL a phone opens (`<url>/#relay=<relay account>`). */
  readonly joinUrl: string;
  /** The relay's account id (its libp2p peer id). */
  readonly relayAccount: string;
  /** The relay's libp2p addresses from its banner, each ending in `/p2p/<relay account>`. */
  readonly libp2pAddrs: readonly string[];
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
      'relay/server/cli.ts',
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
      // The vitest global setup builds the app once; relays started by tests never build it.
      '--app-build',
      'skip',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let url = '';
  let joinUrl = '';
  const libp2pAddrs: string[] = [];
  const banner = await new Promise<{ url: string; joinUrl: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      // A relay that never finished starting must not outlive the test that gave up on it.
      child.kill('SIGKILL');
      reject(new Error(`relay did not start within ${options.timeoutMs ?? 60_000} ms:\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const local = /^\s+local:\s+(https?:\/\/127\.0\.0\.1:\d+)\s*$/.exec(line);
      if (local?.[1]) url = local[1];
      const join = /^\s+join:\s+(\S+)\s*$/.exec(line);
      if (join?.[1]) joinUrl = join[1];
      const libp2p = /^\s+libp2p:\s+(\S+)\s*$/.exec(line);
      if (libp2p?.[1]) libp2pAddrs.push(libp2p[1]);
      // `data:` follows the libp2p lines in the banner.
      if (/^\s+data:\s/.test(line) && url !== '' && joinUrl !== '') {
        clearTimeout(timer);
        resolve({ url, joinUrl });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code}:\n${stderr}`));
    });
  });
  return {
    url: banner.url,
    joinUrl: banner.joinUrl,
    relayAccount: banner.joinUrl.replace(/^.*#relay=/, ''),
    libp2pAddrs,
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
