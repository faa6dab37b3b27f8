/**
 * The Node worker's configuration: the only worker module that reads flags
 * and the environment. Every option is a flag with an environment variable;
 * a flag wins over the variable, the variable over the settings file, and the
 * file over the default. The settings file (default `<data-dir>/settings.json`)
 * holds what can change while the worker runs (preset or shares, price,
 * models): the worker writes what it runs with there at start and whenever it
 * changes from the terminal, and reads it again on SIGHUP, so editing the file
 * and sending SIGHUP changes a running worker.
 */
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseAccountId, type AccountId } from '#core/identity/ids.ts';
import { DEFAULT_LEDGER_PARAMS } from '#core/ledger/genesis.ts';
import { PRESET_NAMES } from '#core/resources/allocation.ts';
import { unwrap } from '#core/result.ts';
import { DEFAULT_WORKER_DATA_DIR, DEFAULT_WORKER_SETTINGS } from './node-worker.ts';
import { applySettingsPatch, readSettingsFile, type SettingsPatch, type WorkerSettings } from './worker-settings.ts';

export interface WorkerConfig {
  readonly relayUrl: string;
  readonly keyPath: string;
  readonly dataDir: string;
  readonly settingsPath: string;
  /** What the worker starts with: flags, then the environment, then the settings file, then defaults. */
  readonly settings: WorkerSettings;
  readonly stake: number;
  readonly cores: number | undefined;
  readonly pinnedRelay: AccountId | undefined;
  readonly webrtc: boolean;
  /** libp2p's debug logger (the `DEBUG` environment variable is set). */
  readonly debugLibp2p: boolean;
}

const int =
  (name: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  (value: string) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}.`);
    }
    return n;
  };

const share = (name: string) => int(`${name} share`, 0, 100);

/** Adds the worker's options to `command`. */
export function withWorkerOptions(command: Command): Command {
  const options = [
    new Option('--relay <url>', 'the relay to work for (http://… or https://…)').env('ACN_RELAY'),
    new Option('--key <file>', 'account key (created, mode 0600, if missing; default <data-dir>/worker.key)').env(
      'ACN_WORKER_KEY',
    ),
    new Option('--data-dir <dir>', 'where the key, settings and models are kept')
      .env('ACN_WORKER_DATA_DIR')
      .default(DEFAULT_WORKER_DATA_DIR),
    new Option('--settings <file>', 'settings file read at start and on SIGHUP (default <data-dir>/settings.json)').env(
      'ACN_WORKER_SETTINGS',
    ),
    new Option('--preset <name>', 'resource preset (default balanced)')
      .env('ACN_WORKER_PRESET')
      .choices([...PRESET_NAMES]),
    new Option('--cpu <percent>', 'custom CPU share (5-80)').env('ACN_WORKER_CPU').argParser(share('cpu')),
    new Option('--ram <percent>', 'custom memory share (5-70)').env('ACN_WORKER_RAM').argParser(share('ram')),
    new Option('--storage <percent>', 'custom share of free disk for models (1-50)')
      .env('ACN_WORKER_STORAGE')
      .argParser(share('storage')),
    new Option('--gpu <percent>', 'custom GPU share (0-90; onnxruntime-node runs on the CPU here)')
      .env('ACN_WORKER_GPU')
      .argParser(share('gpu')),
    new Option('--price <tokens>', 'asking price per unit of work (default 1)')
      .env('ACN_WORKER_PRICE')
      .argParser(int('price', 0)),
    new Option('--models <ids>', 'models to offer: all, or names / ids separated by commas (default all)').env(
      'ACN_WORKER_MODELS',
    ),
    new Option('--stake <tokens>', "stake to hold (the relay's --min-worker-stake)")
      .env('ACN_WORKER_STAKE')
      .default(DEFAULT_LEDGER_PARAMS.minWorkerStake)
      .argParser(int('stake', 0)),
    new Option('--cores <n>', 'logical cores to count this machine as (default: all the OS reports)')
      .env('ACN_WORKER_CORES')
      .argParser(int('cores', 1, 4096)),
    new Option('--relay-id <account>', "the relay's account id to insist on (the join URL's #relay=)").env(
      'ACN_RELAY_ID',
    ),
    new Option('--no-webrtc', 'do not reserve on the relay nor accept WebRTC connections'),
  ];
  for (const option of options) command.addOption(option);
  return command;
}

interface ParsedOptions {
  relay?: string;
  key?: string;
  dataDir: string;
  settings?: string;
  preset?: (typeof PRESET_NAMES)[number];
  cpu?: number;
  ram?: number;
  storage?: number;
  gpu?: number;
  price?: number;
  models?: string;
  stake: number;
  cores?: number;
  relayId?: string;
  webrtc: boolean;
}

/** Parses `--models`: `all`, or a comma-separated list. */
export function parseModelList(text: string): 'all' | string[] {
  const list = text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  return list.length === 0 || (list.length === 1 && list[0] === 'all') ? 'all' : list;
}

/** The typed configuration of a parsed command; reads the settings file. Throws on invalid combinations. */
export async function toWorkerConfig(command: Command, env: NodeJS.ProcessEnv = process.env): Promise<WorkerConfig> {
  const o = command.opts<ParsedOptions>();
  if (o.relay === undefined || o.relay === '') {
    throw new InvalidArgumentError('give the relay with --relay <url> or ACN_RELAY');
  }
  let relayUrl: URL;
  try {
    relayUrl = new URL(o.relay);
  } catch {
    throw new InvalidArgumentError(`--relay ${o.relay} is not a URL`);
  }
  if (relayUrl.protocol !== 'http:' && relayUrl.protocol !== 'https:') {
    throw new InvalidArgumentError('--relay must be an http:// or https:// URL');
  }
  const settingsPath = o.settings ?? join(o.dataDir, 'settings.json');
  const pinned: SettingsPatch = {
    ...(o.preset === undefined ? {} : { preset: o.preset }),
    ...(o.cpu === undefined ? {} : { cpu: o.cpu }),
    ...(o.ram === undefined ? {} : { ram: o.ram }),
    ...(o.storage === undefined ? {} : { storage: o.storage }),
    ...(o.gpu === undefined ? {} : { gpu: o.gpu }),
    ...(o.price === undefined ? {} : { price: o.price }),
    ...(o.models === undefined ? {} : { models: parseModelList(o.models) }),
  };
  const file = await readSettingsFile(settingsPath);
  const settings = resolveSettings(file, pinned);
  let pinnedRelay: AccountId | undefined;
  if (o.relayId !== undefined) {
    const parsed = parseAccountId(o.relayId);
    if (!parsed.ok) throw new InvalidArgumentError(`--relay-id ${o.relayId} is not an account id`);
    pinnedRelay = parsed.value;
  }
  return {
    relayUrl: relayUrl.toString().replace(/\/+$/, ''),
    keyPath: o.key ?? join(o.dataDir, 'worker.key'),
    dataDir: o.dataDir,
    settingsPath,
    settings,
    stake: o.stake,
    cores: o.cores,
    pinnedRelay,
    webrtc: o.webrtc,
    debugLibp2p: env.DEBUG !== undefined && env.DEBUG !== '',
  };
}

/**
 * The settings from a settings file (or none) with the flags' `pinned` patch
 * on top. Throws `InvalidSettingsError` when the result is not a valid allocation.
 */
export function resolveSettings(file: SettingsPatch | undefined, pinned: SettingsPatch): WorkerSettings {
  const fromFile = unwrap(applySettingsPatch(DEFAULT_WORKER_SETTINGS, file ?? {}));
  // Shares given on the command line start from the preset named there, or else from the file's allocation.
  return unwrap(applySettingsPatch(fromFile, pinned));
}
