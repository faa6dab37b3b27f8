/**
 * The `acn` CLI as a user runs it (`node relay/acn/cli.ts`), against the real
 * relay process: keygen, onboard, submit, result, receipts, balance; and the
 * refusals: an existing key, a key others can read, a relay with another key.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '#core/encoding/bytes.ts';
import { decodeEnvelope, openEnvelope } from '#core/envelope/envelope.ts';
import { decodeReceiptPayload } from '#core/messages/receipt.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

let relay: RelayProcess;
let dir: string;
let key: string;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node relay/acn/cli.ts ...args` with ACN_RELAY and ACN_KEY set (and `stdin` piped in); resolves with its exit code and output. */
function acn(args: readonly string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['relay/acn/cli.ts', ...args],
      { env: { ...process.env, ACN_RELAY: relay.url, ACN_KEY: key, ...options.env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(options.stdin ?? '');
  });
}

/** Runs with --json and parses stdout; fails the test with stderr when the command failed. */
async function acnJson<T>(args: readonly string[]): Promise<T> {
  const run = await acn(['--json', ...args]);
  if (run.code !== 0) throw new Error(`acn ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

interface Report {
  verified: boolean;
  checks: { name: string; ok: boolean }[];
}

beforeAll(async () => {
  relay = await startRelayProcess(['--pow-difficulty', '6', '--block-interval', '200']);
  dir = await mkdtemp(join(tmpdir(), 'acn-cli-'));
  key = join(dir, 'keys', 'me.key');
}, 120_000);

afterAll(async () => {
  expect(await relay.stop()).toBe(0);
  await relay.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe('acn', () => {
  let account: string;
  let taskId: string;

  it('keygen writes a key only its owner can read, and never overwrites one', async () => {
    const created = await acnJson<{ account: string; key: string }>(['keygen']);
    account = created.account;
    expect(account).toMatch(/^12D3KooW/);
    expect((await stat(key)).mode & 0o777).toBe(0o600);
    expect(await readFile(key, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);

    const again = await acn(['--json', 'keygen']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: { code: 'key-exists' } });
    expect((await acnJson<{ account: string }>(['balance'])).account).toBe(account);
  });

  it('onboard solves the proof-of-work and claims the grant once', async () => {
    const onboarded = await acnJson<{ account: string; balance: number; grant: number }>(['onboard']);
    expect(onboarded.account).toBe(account);
    expect(onboarded.balance).toBe(onboarded.grant);
    const again = await acnJson<{ alreadyOnboarded: boolean }>(['onboard']);
    expect(again.alreadyOnboarded).toBe(true);
  });

  it('submit signs and sends a task; result waits for it, writes the output and verifies it', async () => {
    const submitted = await acnJson<{ task: { id: string; state: string; requester: string }; created: boolean }>([
      'submit',
      '--model',
      'lande-t50',
      '--text',
      'Le train de nuit arrive à la gare de Lyon demain matin.',
    ]);
    expect(submitted.created).toBe(true);
    expect(submitted.task.requester).toBe(account);
    taskId = submitted.task.id;

    const out = join(dir, 'output.bin');
    const result = await acnJson<{
      task: { id: string; state: string };
      output: { label: string };
      receipt: string;
      verification: Report;
    }>(['result', taskId, '--out', out]);
    expect(result.task.id).toBe(taskId);
    expect(result.output.label).toBe('fra');
    expect(result.verification.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.verification.verified).toBe(true);
    // The file holds exactly the bytes the receipt signed.
    const receipt = decodeEnvelope(Buffer.from(result.receipt, 'base64url'));
    if (!receipt.ok) throw receipt.error;
    const payload = openEnvelope(receipt.value, 'receipt', decodeReceiptPayload);
    if (!payload.ok) throw payload.error;
    expect(sha256Hex(new Uint8Array(await readFile(out)))).toBe(payload.value.payload.output);

    const human = await acn(['result', taskId]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('"label":"fra"');
    expect(human.stdout).toMatch(/verified: \d+ of \d+ checks passed/);

    const status = await acnJson<{ task: { state: string } }>(['status', taskId]);
    expect(status.task.state).toBe('settled');
  });

  it('submit --input - reads stdin, and --wait prints the verified result', async () => {
    const run = await acn(['submit', '--model', 'lande-t50', '--input', '-', '--wait'], {
      stdin: 'Guten Morgen, wie geht es dir heute?',
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('"label":"deu"');
    expect(run.stdout).toMatch(/verified: \d+ of \d+ checks passed/);
  });

  it("receipts lists the account's tasks, each verified; balance shows what they cost", async () => {
    const { receipts } = await acnJson<{
      receipts: { task: { id: string; price: number }; verification?: Report; receipt?: { backend: string } }[];
    }>(['receipts']);
    expect(receipts).toHaveLength(2);
    expect(receipts.map((r) => r.task.id)).toContain(taskId);
    for (const row of receipts) {
      expect(row.verification?.verified).toBe(true);
      expect(row.receipt?.backend).toBeDefined();
    }
    const human = await acn(['receipts']);
    expect(human.stdout.split('\n').filter((line) => line.endsWith(' yes'))).toHaveLength(2);

    const balance = await acnJson<{ balance: number; seq: number }>(['balance']);
    const grant = (await acnJson<{ balance: number }>(['balance', generateNobleSigner().accountId])).balance;
    expect(grant).toBe(0);
    const spent = receipts.reduce((sum, r) => sum + r.task.price, 0);
    expect(balance.balance).toBe(1_000_000 - spent);
  });

  it('refuses a key that other users can read, and a relay with another key', async () => {
    await chmod(key, 0o644);
    const open = await acn(['--json', 'balance']);
    expect(open.code).toBe(1);
    expect(JSON.parse(open.stderr)).toMatchObject({ error: { code: 'key-permissions' } });
    await chmod(key, 0o600);

    const impostor = await acn(['--json', '--relay-id', generateNobleSigner().accountId, 'receipts']);
    expect(impostor.code).toBe(1);
    expect(JSON.parse(impostor.stderr)).toMatchObject({ error: { code: 'relay-key-mismatch' } });

    const wrongTask = await acn(['--json', 'status', 'nope']);
    expect(wrongTask.code).not.toBe(0);
  });
});
