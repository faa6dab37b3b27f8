/**
 * The pipeline of an operator's own ONNX model: the task input is a map of
 * named tensors, the output the map the model returns. No pre- or
 * post-processing; two runs agree when every output value is within the
 * entry's `max-abs` tolerance (or equal, for any other measure).
 */
import { decodeCanonical, encodeCanonical } from '#core/encoding/canonical.ts';
import { err, ok, type Result } from '#core/result.ts';
import type { Tolerance } from '#core/models/catalogue.ts';
import { InvalidModelInputError } from '#core/models/errors.ts';
import type { ModelPipeline } from '#core/models/pipeline.ts';
import type { Tensor, TensorType } from '#core/models/tensor.ts';

export type TensorMap = Readonly<Record<string, Tensor>>;

/** Input cap: 16 MiB of tensor data. */
export const MAX_TENSOR_INPUT_BYTES = 16 * 1024 * 1024;
const MAX_TENSORS = 16;
const MAX_DIMS = 8;

const ARRAYS = {
  float32: Float32Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
} as const;

/** On the wire a tensor is `{ type, dims, data }` with `data` its little-endian bytes. */
function toWire(tensor: Tensor): { type: TensorType; dims: number[]; data: Uint8Array } {
  const data = tensor.data;
  return {
    type: tensor.type,
    dims: [...tensor.dims],
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

function fromWire(value: unknown, name: string): Result<Tensor, InvalidModelInputError> {
  const bad = (why: string) => err(new InvalidModelInputError(`tensor ${name}: ${why}`));
  if (typeof value !== 'object' || value === null) return bad('must be { type, dims, data }');
  const { type, dims, data } = value as { type?: unknown; dims?: unknown; data?: unknown };
  if (typeof type !== 'string' || !(type in ARRAYS)) return bad('type must be float32, int32, int64 or uint8');
  if (!Array.isArray(dims) || dims.length > MAX_DIMS || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    return bad(`dims must be up to ${MAX_DIMS} non-negative integers`);
  }
  if (!(data instanceof Uint8Array)) return bad('data must be bytes');
  const Array_ = ARRAYS[type as TensorType];
  const count = (dims as number[]).reduce((a, b) => a * b, 1);
  if (count * Array_.BYTES_PER_ELEMENT !== data.byteLength) return bad(`data must hold ${count} values`);
  const copy = data.slice(); // aligned, owned buffer
  return ok({ type: type as TensorType, dims: dims as number[], data: new Array_(copy.buffer) });
}

function decodeMap(bytes: Uint8Array, maxBytes: number): Result<TensorMap, InvalidModelInputError> {
  const decoded = decodeCanonical(bytes, { maxBytes });
  if (!decoded.ok)
    return err(new InvalidModelInputError(`input is not a canonical tensor map: ${decoded.error.message}`));
  const value = decoded.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return err(new InvalidModelInputError('input must be a map of tensor name to tensor'));
  }
  const entries = Object.entries(value);
  if (entries.length === 0 || entries.length > MAX_TENSORS) {
    return err(new InvalidModelInputError(`input must hold 1 to ${MAX_TENSORS} tensors`));
  }
  const out: Record<string, Tensor> = {};
  for (const [name, wire] of entries) {
    const tensor = fromWire(wire, name);
    if (!tensor.ok) return tensor;
    out[name] = tensor.value;
  }
  return ok(out);
}

function encodeMap(map: TensorMap): Uint8Array {
  return encodeCanonical(Object.fromEntries(Object.entries(map).map(([name, t]) => [name, toWire(t)])));
}

function agree(a: TensorMap, b: TensorMap, tolerance: Tolerance): boolean {
  const names = Object.keys(a).sort();
  if (names.join('\0') !== Object.keys(b).sort().join('\0')) return false;
  const limit = tolerance.measure === 'max-abs' ? tolerance.value : 0;
  return names.every((name) => {
    const x = a[name];
    const y = b[name];
    if (x === undefined || y === undefined) return false;
    if (x.type !== y.type || x.dims.join() !== y.dims.join() || x.data.length !== y.data.length) return false;
    for (let i = 0; i < x.data.length; i++) {
      const d = Math.abs(Number(x.data[i]) - Number(y.data[i]));
      if (!(d <= limit)) return false;
    }
    return true;
  });
}

export const tensorPipeline: ModelPipeline<TensorMap, TensorMap> = {
  name: 'tensor',
  decodeInput: (bytes) => decodeMap(bytes, MAX_TENSOR_INPUT_BYTES + 64 * 1024),
  encodeInput: encodeMap,
  units: (input) => Math.max(1, Math.ceil(Object.values(input).reduce((n, t) => n + t.data.byteLength, 0) / 1_000_000)),
  run: (models, input, options) => models.main.run(input, options),
  encodeOutput: encodeMap,
  decodeOutput: (bytes) => decodeMap(bytes, 64 * 1024 * 1024),
  agree,
};
