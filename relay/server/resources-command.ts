/**
 * `npm run relay -- resources show|set`: the operator reads or changes the
 * running relay's pool from the machine that holds its data directory. A
 * change is a `relay/control` envelope signed with the relay key, so nothing
 * but the key file is needed (no token to copy), and the relay refuses the
 * same signed change if anyone sends it again.
 */
import { join } from 'node:path';
import { toBase64Url } from '#core/encoding/bytes.ts';
import { encodeEnvelope, signEnvelope } from '#core/envelope/envelope.ts';
import { RELAY_CONTROL_NONCE_BYTES, type RelayControlPayload } from '#core/messages/relay-control.ts';
import {
  decodeResourceAllocation,
  PRESETS,
  type PresetName,
  type ResourceAllocation,
} from '#core/resources/allocation.ts';
import { createNodeSigner } from '#node/crypto/node-signer.ts';
import { readKeyFile } from '#node/key-file.ts';
import type { RelayConfig } from './config.ts';
import { RELAY_KEY_FILE } from './identity/relay-key.ts';

/** What `resources set` was asked for: a preset, or some shares (the rest stay as they are). */
export interface ResourcesChange {
  readonly preset?: PresetName;
  readonly cpu?: number;
  readonly ram?: number;
  readonly storage?: number;
  readonly gpu?: number;
}

interface ResourcesAnswer {
  readonly allocation: ResourceAllocation;
  readonly pool: { readonly threads: number; readonly concurrentTasks: number; readonly memoryBytes: number };
}

/** The URL of the relay this configuration starts: loopback for a relay listening everywhere. */
export function localRelayUrl(config: Pick<RelayConfig, 'host' | 'port' | 'tls'>): string {
  const host =
    config.host === '0.0.0.0'
      ? '127.0.0.1'
      : config.host === '::'
        ? '[::1]'
        : config.host.includes(':')
          ? `[${config.host}]`
          : config.host;
  return `${config.tls ? 'https' : 'http'}://${host}:${config.port}`;
}

async function call<T>(url: string, init?: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new Error(`cannot reach the relay at ${url} (is it running? --url picks another)`, { cause: error });
  }
  const body = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  if (!response.ok) {
    const code = body.error?.code ?? String(response.status);
    throw new Error(`the relay refused: ${response.status} ${code}: ${body.error?.message ?? response.statusText}`);
  }
  return body as T;
}

/** The running relay's allocation and pool. */
export function showResources(url: string): Promise<ResourcesAnswer> {
  return call<ResourcesAnswer>(`${url}/api/resources`);
}

/** The allocation a change asks for, from the current one; throws on a combination the relay would refuse. */
export function nextAllocation(current: ResourceAllocation, change: ResourcesChange): ResourceAllocation {
  const shares = (['cpu', 'ram', 'storage', 'gpu'] as const).filter((k) => change[k] !== undefined);
  if (change.preset !== undefined && shares.length > 0) {
    throw new Error(`--preset sets every share; leave out --${shares.join(', --')} or the preset`);
  }
  if (change.preset === undefined && shares.length === 0)
    throw new Error('give --preset or at least one of --cpu, --ram, --storage, --gpu');
  // The relay has no page to hide and no battery: its pause rules stay as they are.
  const pauses = { pauseWhenHidden: current.pauseWhenHidden, pauseOnBattery: current.pauseOnBattery };
  const next: ResourceAllocation =
    change.preset !== undefined
      ? { preset: change.preset, ...PRESETS[change.preset], ...pauses }
      : {
          preset: 'custom',
          cpu: change.cpu ?? current.cpu,
          ram: change.ram ?? current.ram,
          storage: change.storage ?? current.storage,
          gpu: change.gpu ?? current.gpu,
          ...pauses,
        };
  const checked = decodeResourceAllocation(next);
  if (!checked.ok) throw new Error(checked.error.message);
  return checked.value;
}

/**
 * Signs `change` with the relay key in `dataDir` and sends it to the relay at
 * `url`, after checking that relay is the one that key belongs to (a key
 * from another data directory would only be refused).
 */
export async function setResources(dataDir: string, url: string, change: ResourcesChange): Promise<ResourcesAnswer> {
  const keyPath = join(dataDir, RELAY_KEY_FILE);
  const seed = await readKeyFile(keyPath, 'refuse');
  if (seed === undefined) throw new Error(`no relay key at ${keyPath}: give the running relay's --data-dir`);
  const signer = createNodeSigner(seed);
  const status = await call<{ relay: { account: string } }>(`${url}/api/status`);
  if (status.relay.account !== signer.accountId) {
    throw new Error(
      `the relay at ${url} is ${status.relay.account}, not this data directory's relay ${signer.accountId}`,
    );
  }
  const current = await showResources(url);
  const payload: RelayControlPayload = {
    v: 1,
    net: signer.accountId,
    action: 'resources/set',
    allocation: nextAllocation(current.allocation, change),
    nonce: crypto.getRandomValues(new Uint8Array(RELAY_CONTROL_NONCE_BYTES)),
    ts: Date.now(),
  };
  const control = encodeEnvelope(await signEnvelope(signer, 'relay/control', payload));
  return call<ResourcesAnswer>(`${url}/api/resources`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ control: toBase64Url(control) }),
  });
}

/** One line for the terminal. */
export function describeResources(answer: ResourcesAnswer): string {
  const a = answer.allocation;
  const p = answer.pool;
  return (
    `${a.preset}: cpu ${a.cpu}%, ram ${a.ram}%, storage ${a.storage}%, gpu ${a.gpu}%; ` +
    `pool: ${p.threads} threads, ${p.concurrentTasks} tasks at once, ${Math.round(p.memoryBytes / 2 ** 20)} MiB`
  );
}
