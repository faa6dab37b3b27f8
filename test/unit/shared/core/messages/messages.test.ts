/**
 * Schema tests for every message family: a valid example decodes, and every
 * field missing, of the wrong type or past its cap is refused with the path of
 * that field. Cases are generated from a small description of each schema.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LEDGER_PARAMS,
  decodeBlockHeaderPayload,
  decodeCancelPayload,
  decodeGenesisPayload,
  decodeReceiptPayload,
  decodeResourceAllocation,
  decodeTaskPayload,
  decodeWorkerAdvertPayload,
  InvalidMessageError,
  MAX_ADVERT_ADDRS,
  MAX_ADVERT_MODELS,
  MAX_BLOCK_TXS,
  MAX_ENVELOPE_BYTES,
  MAX_OUTPUT_BYTES,
  MAX_TASK_INPUT_BYTES,
  PRESET_NAMES,
  presetAllocation,
  REFUND_REASONS,
  sha256Hex,
  TASK_NONCE_BYTES,
  transactionDecoders,
  utf8ToBytes,
  BACKENDS,
  type Result,
} from '#core/index.ts';
import { signerFor, T0 } from '#test/network.ts';

type Spec =
  | { readonly kind: 'version' }
  | { readonly kind: 'account' }
  | { readonly kind: 'hash' }
  /** A safe integer from min to max; `edges: false` when edge values are valid in shape only. */
  | { readonly kind: 'int'; readonly min: number; readonly max?: number; readonly edges?: false }
  | { readonly kind: 'bytes'; readonly min: number; readonly max: number }
  | { readonly kind: 'text'; readonly max: number }
  | { readonly kind: 'pick'; readonly values: readonly string[]; readonly edges?: false }
  | { readonly kind: 'bool' }
  | { readonly kind: 'array'; readonly max: number; readonly item: Spec; readonly sample: unknown }
  | { readonly kind: 'object'; readonly fields: Readonly<Record<string, Spec>> }
  | { readonly kind: 'optional'; readonly inner: Spec };

interface Family {
  readonly name: string;
  readonly decode: (value: unknown) => Result<unknown>;
  readonly valid: Readonly<Record<string, unknown>>;
  readonly fields: Readonly<Record<string, Spec>>;
  /** Allocation errors carry no issue paths; only the class is checked. */
  readonly error: 'InvalidMessageError' | 'InvalidAllocationError';
}

const net = signerFor('relay').accountId;
const bob = signerFor('bob').accountId;
const h = (label: string) => sha256Hex(utf8ToBytes(label));

const version: Spec = { kind: 'version' };
const account: Spec = { kind: 'account' };
const hash: Spec = { kind: 'hash' };
const nonNegative: Spec = { kind: 'int', min: 0 };
const positive: Spec = { kind: 'int', min: 1 };
const envelopeBytes: Spec = { kind: 'bytes', min: 1, max: MAX_ENVELOPE_BYTES };
const allocationShape = (edges: boolean): Spec => {
  const percent: Spec = edges ? { kind: 'int', min: 0, max: 100 } : { kind: 'int', min: 0, max: 100, edges: false };
  return {
    kind: 'object',
    fields: {
      // Changing the preset alone breaks the preset check, so its edges are not checked here.
      preset: { kind: 'pick', values: [...PRESET_NAMES, 'custom'], edges: false },
      cpu: percent,
      ram: percent,
      storage: percent,
      gpu: percent,
      pauseWhenHidden: { kind: 'bool' },
      pauseOnBattery: { kind: 'bool' },
    },
  };
};
const stakeFields = { v: version, net: account, amount: positive, seq: positive };

const families: readonly Family[] = [
  {
    name: 'task cancel',
    decode: decodeCancelPayload,
    error: 'InvalidMessageError',
    valid: { v: 1, net, task: h('task'), ts: T0 },
    fields: { v: version, net: account, task: hash, ts: nonNegative },
  },
  {
    name: 'task',
    decode: decodeTaskPayload,
    error: 'InvalidMessageError',
    valid: {
      v: 1,
      net,
      model: h('model'),
      input: h('input'),
      inputBytes: 1,
      maxPrice: 100,
      nonce: new Uint8Array(TASK_NONCE_BYTES),
      ts: T0,
    },
    fields: {
      v: version,
      net: account,
      model: hash,
      input: hash,
      inputBytes: { kind: 'int', min: 0, max: MAX_TASK_INPUT_BYTES },
      maxPrice: nonNegative,
      nonce: { kind: 'bytes', min: TASK_NONCE_BYTES, max: TASK_NONCE_BYTES },
      ts: nonNegative,
    },
  },
  {
    name: 'receipt',
    decode: decodeReceiptPayload,
    error: 'InvalidMessageError',
    valid: {
      v: 1,
      net,
      task: h('task'),
      model: h('model'),
      output: h('output'),
      outputBytes: 10,
      units: 1,
      backend: 'wasm',
      runMs: 5,
      ts: T0,
    },
    fields: {
      v: version,
      net: account,
      task: hash,
      model: hash,
      output: hash,
      outputBytes: { kind: 'int', min: 0, max: MAX_OUTPUT_BYTES },
      units: nonNegative,
      backend: { kind: 'pick', values: BACKENDS },
      runMs: nonNegative,
      ts: nonNegative,
    },
  },
  {
    name: 'tx/grant',
    decode: transactionDecoders['tx/grant'],
    error: 'InvalidMessageError',
    valid: { v: 1, net, to: bob, amount: 1000, pow: { nonce: 0, difficulty: 4 } },
    fields: {
      v: version,
      net: account,
      to: account,
      amount: positive,
      pow: { kind: 'object', fields: { nonce: nonNegative, difficulty: { kind: 'int', min: 0, max: 64 } } },
    },
  },
  {
    name: 'tx/transfer',
    decode: transactionDecoders['tx/transfer'],
    error: 'InvalidMessageError',
    valid: { v: 1, net, to: bob, amount: 1, seq: 1, memo: 'thanks' },
    fields: {
      v: version,
      net: account,
      to: account,
      amount: positive,
      seq: positive,
      memo: { kind: 'optional', inner: { kind: 'text', max: 140 } },
    },
  },
  {
    name: 'tx/escrow',
    decode: transactionDecoders['tx/escrow'],
    error: 'InvalidMessageError',
    valid: { v: 1, net, task: new Uint8Array([1]) },
    fields: { v: version, net: account, task: envelopeBytes },
  },
  {
    name: 'tx/settle',
    decode: transactionDecoders['tx/settle'],
    error: 'InvalidMessageError',
    valid: { v: 1, net, task: h('task'), receipt: new Uint8Array([1]), price: 0 },
    fields: { v: version, net: account, task: hash, receipt: envelopeBytes, price: nonNegative },
  },
  {
    name: 'tx/refund',
    decode: transactionDecoders['tx/refund'],
    error: 'InvalidMessageError',
    valid: { v: 1, net, task: h('task'), reason: 'cancelled' },
    fields: { v: version, net: account, task: hash, reason: { kind: 'pick', values: REFUND_REASONS } },
  },
  {
    name: 'tx/stake',
    decode: transactionDecoders['tx/stake'],
    error: 'InvalidMessageError',
    valid: { v: 1, net, amount: 1, seq: 1 },
    fields: stakeFields,
  },
  {
    name: 'tx/unstake',
    decode: transactionDecoders['tx/unstake'],
    error: 'InvalidMessageError',
    valid: { v: 1, net, amount: 1, seq: 1 },
    fields: stakeFields,
  },
  {
    name: 'tx/slash',
    decode: transactionDecoders['tx/slash'],
    error: 'InvalidMessageError',
    valid: { v: 1, net, worker: bob, task: h('task'), amount: 1, evidence: new Uint8Array([1]) },
    fields: { v: version, net: account, worker: account, task: hash, amount: positive, evidence: envelopeBytes },
  },
  {
    name: 'tx/release',
    decode: transactionDecoders['tx/release'],
    error: 'InvalidMessageError',
    valid: { v: 1, net, account: bob, unstake: h('unstake'), amount: 1, ts: T0 },
    fields: { v: version, net: account, account, unstake: hash, amount: positive, ts: nonNegative },
  },
  {
    name: 'block header',
    decode: decodeBlockHeaderPayload,
    error: 'InvalidMessageError',
    valid: { v: 1, net, height: 1, prev: h('genesis'), txRoot: h('root'), txCount: 0, ts: T0 },
    fields: {
      v: version,
      net: account,
      height: positive,
      prev: hash,
      txRoot: hash,
      txCount: { kind: 'int', min: 0, max: MAX_BLOCK_TXS },
      ts: nonNegative,
    },
  },
  {
    name: 'worker advert',
    decode: decodeWorkerAdvertPayload,
    error: 'InvalidMessageError',
    valid: {
      v: 1,
      net,
      models: [h('model')],
      backend: 'webgpu',
      allocation: presetAllocation(),
      pricePerUnit: 1,
      addrs: ['/p2p-circuit/webrtc'],
      seq: 1,
      ts: T0,
    },
    fields: {
      v: version,
      net: account,
      models: { kind: 'array', max: MAX_ADVERT_MODELS, item: hash, sample: h('model') },
      backend: { kind: 'pick', values: BACKENDS },
      // In range for the shape, but a share off its preset fails the allocation check (path "allocation").
      allocation: allocationShape(false),
      pricePerUnit: nonNegative,
      addrs: { kind: 'array', max: MAX_ADVERT_ADDRS, item: { kind: 'text', max: 256 }, sample: '/ip4/1.2.3.4' },
      seq: positive,
      ts: nonNegative,
    },
  },
  {
    name: 'genesis',
    decode: decodeGenesisPayload,
    error: 'InvalidMessageError',
    valid: { v: 1, net, params: { ...DEFAULT_LEDGER_PARAMS }, ts: T0 },
    fields: {
      v: version,
      net: account,
      params: {
        kind: 'object',
        fields: {
          feeBps: { kind: 'int', min: 0, max: 5000 },
          grantAmount: positive,
          minPowDifficulty: { kind: 'int', min: 0, max: 64 },
          minWorkerStake: nonNegative,
        },
      },
      ts: nonNegative,
    },
  },
  {
    name: 'resource allocation',
    decode: decodeResourceAllocation,
    error: 'InvalidAllocationError',
    valid: { ...presetAllocation() },
    fields: (allocationShape(false) as { fields: Record<string, Spec> }).fields,
  },
];

/** Values of the wrong type, or past a cap, for a field of this kind. */
function invalidValues(spec: Spec): unknown[] {
  const wrongTypes = [null, undefined, true, {}, []];
  switch (spec.kind) {
    case 'version':
      return [0, 2, '1', 1n, ...wrongTypes];
    case 'account':
      return [
        '',
        h('not an account'),
        'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', // an RSA-style PeerId
        `${net} `,
        net.slice(0, -1),
        5,
        utf8ToBytes(net),
        ...wrongTypes,
      ];
    case 'hash':
      return [
        '',
        'a'.repeat(63),
        'a'.repeat(65),
        'A'.repeat(64),
        'g'.repeat(64),
        `${'a'.repeat(63)} `,
        new Uint8Array(32),
        5,
        ...wrongTypes,
      ];
    case 'int':
      return [
        spec.min - 1,
        ...(spec.max === undefined ? [2 ** 53, Number.MAX_VALUE] : [spec.max + 1]),
        spec.min + 0.5,
        NaN,
        Infinity,
        -Infinity,
        String(spec.min),
        BigInt(spec.min),
        ...wrongTypes,
      ];
    case 'bytes':
      return [
        ...(spec.min > 0 ? [new Uint8Array(spec.min - 1)] : []),
        new Uint8Array(spec.max + 1),
        new Uint16Array(spec.min),
        new Uint8Array(spec.min).buffer,
        Array.from(new Uint8Array(spec.min)),
        '00'.repeat(spec.min),
        ...wrongTypes,
      ];
    case 'text':
      // Lone surrogates cannot round-trip through UTF-8: the signed and the decoded text would differ.
      return [
        'x'.repeat(spec.max + 1),
        'a\u0000b',
        'a\nb',
        '\t',
        '\u001f',
        '\u007f',
        'a\ud800b',
        '\udc00',
        5,
        ...wrongTypes,
      ];
    case 'pick':
      return ['', 'other', (spec.values[0] ?? '').toUpperCase(), ` ${spec.values[0] ?? ''}`, 0, ...wrongTypes];
    case 'bool':
      return [0, 1, 'true', ...wrongTypes.filter((x) => x !== true)];
    case 'array':
      return ['x', {}, null, undefined, new Uint8Array(1), Array.from({ length: spec.max + 1 }, () => spec.sample)];
    case 'object':
      // (An array counts as an object with every key missing, so its issue names the first nested key.)
      return [null, undefined, 'x', 5, true];
    case 'optional':
      return invalidValues(spec.inner).filter((x) => x !== undefined);
  }
}

/** Values at the edges of a field's caps, which must be accepted. */
function edgeValues(spec: Spec): unknown[] {
  switch (spec.kind) {
    case 'int':
      if (spec.edges === false) return [];
      return [spec.min, spec.max ?? Number.MAX_SAFE_INTEGER];
    case 'bytes':
      return [new Uint8Array(spec.min), new Uint8Array(spec.max)];
    case 'text':
      return ['', 'x'.repeat(spec.max), 'é'.repeat(spec.max), 'a b/c:d'];
    case 'pick':
      return spec.edges === false ? [] : [...spec.values];
    case 'bool':
      return [true, false];
    case 'array':
      return [[], Array.from({ length: spec.max }, () => spec.sample)];
    case 'optional':
      return edgeValues(spec.inner);
    default:
      return [];
  }
}

type Path = readonly (string | number)[];

function setAt(value: unknown, path: Path, replacement: unknown, remove = false): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return replacement;
  const copy = (Array.isArray(value) ? [...(value as unknown[])] : { ...(value as object) }) as Record<
    string | number,
    unknown
  >;
  if (rest.length === 0 && remove) Reflect.deleteProperty(copy, head);
  else copy[head] = setAt(copy[head], rest, replacement, remove);
  return copy;
}

function expectRefused(family: Family, value: unknown, path: string, label: string): void {
  const result = family.decode(value);
  expect(result.ok, `${label} should be refused`).toBe(false);
  if (result.ok) return;
  expect(result.error.name, label).toBe(family.error);
  if (family.error === 'InvalidAllocationError') {
    expect((result.error as { code?: string }).code).toBe('invalid-allocation');
    return;
  }
  const error = result.error;
  if (!(error instanceof InvalidMessageError)) return expect.fail(`${label}: not an InvalidMessageError`);
  expect(error.code).toBe('invalid-message');
  expect(error.issues.length, label).toBeGreaterThan(0);
  expect(error.issues[0]?.path, label).toBe(path);
}

function expectAccepted(family: Family, value: unknown, label: string): void {
  const result = family.decode(value);
  expect(result.ok, `${label}: ${result.ok ? '' : result.error.message}`).toBe(true);
}

const describeValue = (x: unknown): string =>
  typeof x === 'string'
    ? JSON.stringify(x.length > 20 ? `${x.slice(0, 20)}…(${x.length})` : x)
    : x instanceof Uint8Array
      ? `${x.length} bytes`
      : Array.isArray(x)
        ? `array of ${x.length}`
        : typeof x === 'bigint'
          ? `${x}n`
          : String(x);

/** Walks a family's fields (into nested objects) and yields each with its path. */
function* fieldsOf(fields: Readonly<Record<string, Spec>>, prefix: Path = []): Generator<[Path, Spec]> {
  for (const [key, spec] of Object.entries(fields)) {
    const path = [...prefix, key];
    yield [path, spec];
    if (spec.kind === 'object') yield* fieldsOf(spec.fields, path);
  }
}

for (const family of families) {
  describe(`${family.name} payload`, () => {
    it('a valid example decodes to itself', () => {
      const result = family.decode(family.valid);
      expect(result).toEqual({ ok: true, value: family.valid });
    });

    it('the field description covers every key of the valid example', () => {
      expect(Object.keys(family.fields).sort()).toEqual(Object.keys(family.valid).sort());
    });

    it('refuses values that are not objects', () => {
      for (const value of [null, undefined, 'x', 5, true, 1n]) {
        expectRefused(family, value, '', `root ${describeValue(value)}`);
      }
      for (const value of [[], new Uint8Array(4), new Map()]) {
        const result = family.decode(value);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.error.name).toBe(family.error);
      }
    });

    it('refuses unknown keys, at the top level and in nested objects', () => {
      const objects: Path[] = [
        [],
        ...[...fieldsOf(family.fields)].filter(([, s]) => s.kind === 'object').map(([p]) => p),
      ];
      for (const at of objects) {
        for (const key of ['extra', 'V', '__proto__', 'constructor', 'prototype', '']) {
          const target = at.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], family.valid) as object;
          const withKey = { ...target };
          Object.defineProperty(withKey, key, { value: 1, enumerable: true, configurable: true, writable: true });
          expectRefused(family, setAt(family.valid, at, withKey), [...at, key].join('.'), `extra key ${key}`);
        }
      }
    });

    for (const [path, spec] of fieldsOf(family.fields)) {
      const dotted = path.join('.');

      it(`${dotted}: missing, wrong type or past its cap is refused`, () => {
        if (spec.kind !== 'optional') {
          expectRefused(family, setAt(family.valid, path, undefined, true), dotted, `missing ${dotted}`);
        } else {
          expectAccepted(family, setAt(family.valid, path, undefined, true), `absent optional ${dotted}`);
        }
        for (const bad of invalidValues(spec)) {
          expectRefused(family, setAt(family.valid, path, bad), dotted, `${dotted} = ${describeValue(bad)}`);
        }
        if (spec.kind === 'array') {
          for (const bad of invalidValues(spec.item)) {
            expectRefused(
              family,
              setAt(family.valid, path, [bad]),
              `${dotted}.0`,
              `${dotted}[0] = ${describeValue(bad)}`,
            );
            expectRefused(
              family,
              setAt(family.valid, path, [spec.sample, bad]),
              `${dotted}.1`,
              `${dotted}[1] = ${describeValue(bad)}`,
            );
          }
        }
      });

      const edges = edgeValues(spec);
      if (edges.length > 0) {
        it(`${dotted}: values at the edges of its caps are accepted`, () => {
          for (const edge of edges) {
            expectAccepted(family, setAt(family.valid, path, edge), `${dotted} = ${describeValue(edge)}`);
          }
        });
      }
    }
  });
}

describe('worker advert allocation', () => {
  const advert = families.find((f) => f.name === 'worker advert') as Family;

  it('accepts every preset and a custom allocation within its ranges', () => {
    for (const name of PRESET_NAMES)
      expectAccepted(advert, setAt(advert.valid, ['allocation'], presetAllocation(name)), name);
    const custom = { ...presetAllocation(), preset: 'custom', cpu: 80, ram: 5, storage: 50, gpu: 0 };
    expectAccepted(advert, setAt(advert.valid, ['allocation'], custom), 'custom');
  });

  it('refuses shares that do not match the preset, or a custom share out of range, at path "allocation"', () => {
    const offPreset = { ...presetAllocation('balanced'), cpu: 100 };
    expectRefused(advert, setAt(advert.valid, ['allocation'], offPreset), 'allocation', 'balanced with cpu 100');
    const outOfRange = { ...presetAllocation(), preset: 'custom', cpu: 81 };
    expectRefused(advert, setAt(advert.valid, ['allocation'], outOfRange), 'allocation', 'custom cpu 81');
    // The same values on their own give InvalidAllocationError.
    expect(decodeResourceAllocation(offPreset).ok).toBe(false);
    expect(decodeResourceAllocation(outOfRange).ok).toBe(false);
  });
});

describe('decoders never throw', () => {
  it('on hostile objects (throwing getters, proxies)', () => {
    const throwingGetter = Object.defineProperty({}, 'v', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    const throwingProxy = new Proxy(
      {},
      {
        get() {
          throw new Error('proxy get');
        },
        has() {
          throw new Error('proxy has');
        },
        ownKeys() {
          throw new Error('proxy ownKeys');
        },
        getOwnPropertyDescriptor() {
          throw new Error('proxy descriptor');
        },
      },
    );
    for (const family of families) {
      for (const value of [throwingGetter, throwingProxy]) {
        const result = family.decode(value);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.error.name).toBe(family.error);
      }
    }
  });
});
