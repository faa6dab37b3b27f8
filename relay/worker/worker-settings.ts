/**
 * The worker's live settings (resource allocation, price, models) and the
 * two ways they change while it runs: a patch read from the settings file
 * (on SIGHUP), and a command typed on standard input (`generous`, `cpu 50`,
 * `price 2`). Shares given on their own make the allocation `custom`, starting
 * from the current (or named) preset's shares, and must lie within the custom
 * ranges of shared/resources/allocation.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as v from 'valibot';
import {
  PRESETS,
  PRESET_NAMES,
  validateAllocation,
  type PresetName,
  type ResourceAllocation,
  type Shares,
} from '#core/resources/allocation.ts';
import { err, ok, type Result } from '#core/result.ts';
import { InvalidSettingsError } from './errors.ts';
import type { ModelWish } from './model-selection.ts';

export interface WorkerSettings {
  readonly allocation: ResourceAllocation;
  /** Asking price per unit of work, in tokens. */
  readonly pricePerUnit: number;
  readonly models: ModelWish;
}

const share = v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(100));

/** A change to the settings; everything is optional. This is also the settings file's format. */
export const settingsPatchSchema = v.strictObject({
  preset: v.optional(v.picklist([...PRESET_NAMES, 'custom'])),
  cpu: v.optional(share),
  ram: v.optional(share),
  storage: v.optional(share),
  gpu: v.optional(share),
  price: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0))),
  models: v.optional(
    v.union([v.literal('all'), v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(128))), v.maxLength(64))]),
  ),
});
export type SettingsPatch = v.InferOutput<typeof settingsPatchSchema>;

const SHARE_KEYS = ['cpu', 'ram', 'storage', 'gpu'] as const;

/** A preset's allocation for a machine without a page to hide or a battery the worker watches. */
export function workerPresetAllocation(preset: PresetName): ResourceAllocation {
  return { preset, ...PRESETS[preset], pauseWhenHidden: false, pauseOnBattery: false };
}

/** `base` with `patch` applied, or why the result is not a valid allocation. */
export function applySettingsPatch(
  base: WorkerSettings,
  patch: SettingsPatch,
): Result<WorkerSettings, InvalidSettingsError> {
  const overrides = SHARE_KEYS.filter((key) => patch[key] !== undefined);
  let allocation = base.allocation;
  if (overrides.length > 0 || patch.preset === 'custom') {
    const from: Shares =
      patch.preset !== undefined && patch.preset !== 'custom' ? PRESETS[patch.preset] : base.allocation;
    const shares = Object.fromEntries(SHARE_KEYS.map((key) => [key, patch[key] ?? from[key]])) as Record<
      keyof Shares,
      number
    >;
    allocation = { ...base.allocation, preset: 'custom', ...shares };
  } else if (patch.preset !== undefined) {
    allocation = workerPresetAllocation(patch.preset);
  }
  const valid = validateAllocation(allocation);
  if (!valid.ok) return err(new InvalidSettingsError(valid.error.message));
  return ok({
    allocation: valid.value,
    pricePerUnit: patch.price ?? base.pricePerUnit,
    models: patch.models ?? base.models,
  });
}

/** The file form of `settings`: every field, so the file alone says what the worker runs with. */
export function settingsToPatch(settings: WorkerSettings): SettingsPatch {
  const { preset, cpu, ram, storage, gpu } = settings.allocation;
  const models = settings.models === 'all' ? 'all' : [...settings.models];
  return { preset, cpu, ram, storage, gpu, price: settings.pricePerUnit, models };
}

/** Reads the settings file; undefined when there is none. Throws {@link InvalidSettingsError} on a bad one. */
export async function readSettingsFile(path: string): Promise<SettingsPatch | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidSettingsError(`${path} is not JSON`);
  }
  const parsed = v.safeParse(settingsPatchSchema, json);
  if (!parsed.success) {
    throw new InvalidSettingsError(`${path}: ${parsed.issues.map((issue) => issue.message).join('; ')}`);
  }
  // A file naming a preset but also holding shares means that preset's shares, unless it says custom.
  const patch = parsed.output;
  if (patch.preset !== undefined && patch.preset !== 'custom') {
    const preset = PRESETS[patch.preset];
    if (SHARE_KEYS.every((key) => patch[key] === undefined || patch[key] === preset[key])) {
      return { preset: patch.preset, price: patch.price, models: patch.models };
    }
  }
  return patch;
}

/** Writes `settings` to `path` (atomically: a temporary file renamed over it). */
export async function writeSettingsFile(path: string, settings: WorkerSettings): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, `${JSON.stringify(settingsToPatch(settings), null, 2)}\n`);
  await rename(temporary, path);
}

/** What a line typed on standard input asks for. */
export type WorkerCommand =
  | { readonly type: 'change'; readonly patch: SettingsPatch }
  | { readonly type: 'status' }
  | { readonly type: 'help' }
  | { readonly type: 'quit' }
  | { readonly type: 'none' };

/** The commands, for `help`. */
export const COMMAND_HELP = [
  'conservative | balanced | generous | mobile   switch preset',
  'cpu N | ram N | storage N | gpu N             custom share in percent',
  'price N                                       asking price per unit',
  'models all | NAME,NAME                        models to offer',
  'status | help | quit',
];

/** Parses one typed line; throws {@link InvalidSettingsError} on anything else. */
export function parseCommand(line: string): WorkerCommand {
  const words = line.trim().toLowerCase().replace(/[=%]/g, ' ').split(/\s+/).filter(Boolean);
  const [head, arg, ...rest] = words;
  if (head === undefined) return { type: 'none' };
  if ((PRESET_NAMES as readonly string[]).includes(head) && arg === undefined) {
    return { type: 'change', patch: { preset: head as PresetName } };
  }
  if (head === 'status' || head === 'help' || head === '?' || head === 'quit' || head === 'exit') {
    if (head === '?') return { type: 'help' };
    return { type: head === 'exit' ? 'quit' : head };
  }
  if (head === 'models' && arg !== undefined) {
    const list = [arg, ...rest].join(',').split(',').filter(Boolean);
    return { type: 'change', patch: { models: list.length === 1 && list[0] === 'all' ? 'all' : list } };
  }
  const value = Number(arg);
  if (arg === undefined || rest.length > 0 || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidSettingsError(`not a command: "${line.trim()}" (type help)`);
  }
  if ((SHARE_KEYS as readonly string[]).includes(head)) {
    if (value > 100) throw new InvalidSettingsError(`${head} is a percentage`);
    return { type: 'change', patch: { [head]: value } };
  }
  if (head === 'price') return { type: 'change', patch: { price: value } };
  throw new InvalidSettingsError(`not a command: "${line.trim()}" (type help)`);
}
