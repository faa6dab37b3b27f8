/**
 * GGUF version 3, the file format of llama.cpp, written and read in plain
 * TypeScript: a header, key/value metadata, a table of tensors (name, shape,
 * element type, offset) and then the tensor data, each tensor aligned.
 * Only what the shipped model needs is supported: float32 tensors and the
 * metadata value types below (the reader skips any other type it meets in
 * metadata, and reads any tensor table, but only float32 data).
 *
 * Everything is little-endian. Shapes are written the way ggml stores them:
 * the fastest-varying dimension first, so a torch matrix of shape
 * [rows, cols] (row-major) is a GGUF tensor of dims [cols, rows].
 *
 * Format: the GGUF specification in the ggml repository (docs/gguf.md).
 */

const MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
const VERSION = 3;
const DEFAULT_ALIGNMENT = 32;

/** Metadata value types, as numbered by the specification. */
export const GgufType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** ggml's element type of float32 tensor data. */
export const GGML_TYPE_F32 = 0;

/** A metadata value with the GGUF type it is written as (JS numbers alone cannot say uint32 or float32). */
export type GgufValue =
  | { readonly type: 'uint32'; readonly value: number }
  | { readonly type: 'int32'; readonly value: number }
  | { readonly type: 'float32'; readonly value: number }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'string[]'; readonly value: readonly string[] }
  | { readonly type: 'int32[]'; readonly value: readonly number[] }
  | { readonly type: 'float32[]'; readonly value: readonly number[] };

export const u32 = (value: number): GgufValue => ({ type: 'uint32', value });
export const i32 = (value: number): GgufValue => ({ type: 'int32', value });
export const f32 = (value: number): GgufValue => ({ type: 'float32', value });
export const bool = (value: boolean): GgufValue => ({ type: 'bool', value });
export const str = (value: string): GgufValue => ({ type: 'string', value });
export const strings = (value: readonly string[]): GgufValue => ({ type: 'string[]', value });
export const int32s = (value: readonly number[]): GgufValue => ({ type: 'int32[]', value });
export const float32s = (value: readonly number[]): GgufValue => ({ type: 'float32[]', value });

/** A float32 tensor: `dims` fastest-varying first (ggml order), `data` holding their product of values. */
export interface GgufTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

export interface GgufFile {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue | { readonly type: 'other'; readonly gguf: number }>;
  readonly tensors: readonly GgufTensor[];
}

/** Grows a byte buffer as values are appended. */
class Writer {
  private buffer = new Uint8Array(1 << 16);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buffer.set(b, this.length);
    this.length += b.length;
  }
  /** A GGUF string: its UTF-8 length as uint64, then the bytes (no terminator). */
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  padTo(alignment: number): void {
    while (this.length % alignment !== 0) this.u8(0);
  }
  result(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

function writeValue(w: Writer, value: GgufValue): void {
  switch (value.type) {
    case 'uint32':
      w.u32(GgufType.UINT32);
      w.u32(value.value);
      return;
    case 'int32':
      w.u32(GgufType.INT32);
      w.i32(value.value);
      return;
    case 'float32':
      w.u32(GgufType.FLOAT32);
      w.f32(value.value);
      return;
    case 'bool':
      w.u32(GgufType.BOOL);
      w.u8(value.value ? 1 : 0);
      return;
    case 'string':
      w.u32(GgufType.STRING);
      w.string(value.value);
      return;
    case 'string[]':
      w.u32(GgufType.ARRAY);
      w.u32(GgufType.STRING);
      w.u64(value.value.length);
      for (const s of value.value) w.string(s);
      return;
    case 'int32[]':
      w.u32(GgufType.ARRAY);
      w.u32(GgufType.INT32);
      w.u64(value.value.length);
      for (const n of value.value) w.i32(n);
      return;
    case 'float32[]':
      w.u32(GgufType.ARRAY);
      w.u32(GgufType.FLOAT32);
      w.u64(value.value.length);
      for (const n of value.value) w.f32(n);
      return;
  }
}

/** The bytes of a GGUF v3 file holding `metadata` and the float32 `tensors`, in the order given. */
export function writeGguf(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensor[]): Uint8Array {
  const alignment = DEFAULT_ALIGNMENT;
  const w = new Writer();
  w.u32(MAGIC);
  w.u32(VERSION);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    w.string(key);
    writeValue(w, value);
  }
  // Offsets are relative to the start of the data section and each one is aligned.
  let offset = 0;
  const offsets: number[] = [];
  for (const tensor of tensors) {
    const count = tensor.dims.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) {
      throw new Error(`${tensor.name}: dims ${tensor.dims.join('x')} hold ${count} values, not ${tensor.data.length}`);
    }
    offset = Math.ceil(offset / alignment) * alignment;
    offsets.push(offset);
    offset += tensor.data.byteLength;
  }
  for (const [i, tensor] of tensors.entries()) {
    w.string(tensor.name);
    w.u32(tensor.dims.length);
    for (const d of tensor.dims) w.u64(d);
    w.u32(GGML_TYPE_F32);
    w.u64(offsets[i] as number);
  }
  w.padTo(alignment);
  const dataStart = w.length;
  for (const [i, tensor] of tensors.entries()) {
    while (w.length < dataStart + (offsets[i] as number)) w.u8(0);
    // Copy through a little-endian view so the file is the same on any host.
    const bytes = new Uint8Array(tensor.data.byteLength);
    const view = new DataView(bytes.buffer);
    for (let j = 0; j < tensor.data.length; j++) view.setFloat32(j * 4, tensor.data[j] as number, true);
    w.bytes(bytes);
  }
  return w.result();
}

/** Reads a GGUF v3 file: its metadata and its float32 tensors (another tensor type is an error). */
export function readGguf(file: Uint8Array): GgufFile {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let at = 0;
  const need = (n: number) => {
    if (at + n > file.length) throw new Error(`GGUF: truncated at byte ${at}`);
  };
  const u8 = () => (need(1), view.getUint8(at++));
  const u32 = () => {
    need(4);
    const v = view.getUint32(at, true);
    at += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(at, true);
    at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('GGUF: a length past 2^53');
    return Number(v);
  };
  const string = () => {
    const n = u64();
    need(n);
    const s = new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(at, at + n));
    at += n;
    return s;
  };
  const sizes: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const scalar = (type: number): number | boolean | string => {
    switch (type) {
      case GgufType.UINT32:
        return u32();
      case GgufType.INT32: {
        need(4);
        const v = view.getInt32(at, true);
        at += 4;
        return v;
      }
      case GgufType.FLOAT32: {
        need(4);
        const v = view.getFloat32(at, true);
        at += 4;
        return v;
      }
      case GgufType.BOOL:
        return u8() !== 0;
      case GgufType.STRING:
        return string();
      default: {
        const size = sizes[type];
        if (size === undefined) throw new Error(`GGUF: unknown value type ${type}`);
        need(size);
        at += size;
        return NaN;
      }
    }
  };

  if (u32() !== MAGIC) throw new Error('not a GGUF file');
  const version = u32();
  if (version !== VERSION) throw new Error(`GGUF version ${version}; this reader reads version ${VERSION}`);
  const tensorCount = u64();
  const kvCount = u64();
  const metadata = new Map<string, GgufValue | { type: 'other'; gguf: number }>();
  for (let i = 0; i < kvCount; i++) {
    const key = string();
    const type = u32();
    if (type === GgufType.ARRAY) {
      const elem = u32();
      const n = u64();
      const values = Array.from({ length: n }, () => scalar(elem));
      if (elem === GgufType.STRING) metadata.set(key, { type: 'string[]', value: values as string[] });
      else if (elem === GgufType.INT32) metadata.set(key, { type: 'int32[]', value: values as number[] });
      else if (elem === GgufType.FLOAT32) metadata.set(key, { type: 'float32[]', value: values as number[] });
      else metadata.set(key, { type: 'other', gguf: type });
      continue;
    }
    const value = scalar(type);
    if (type === GgufType.UINT32) metadata.set(key, { type: 'uint32', value: value as number });
    else if (type === GgufType.INT32) metadata.set(key, { type: 'int32', value: value as number });
    else if (type === GgufType.FLOAT32) metadata.set(key, { type: 'float32', value: value as number });
    else if (type === GgufType.BOOL) metadata.set(key, { type: 'bool', value: value as boolean });
    else if (type === GgufType.STRING) metadata.set(key, { type: 'string', value: value as string });
    else metadata.set(key, { type: 'other', gguf: type });
  }
  const alignmentValue = metadata.get('general.alignment');
  const alignment = alignmentValue?.type === 'uint32' ? alignmentValue.value : DEFAULT_ALIGNMENT;
  const table: { name: string; dims: number[]; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = string();
    const nDims = u32();
    const dims = Array.from({ length: nDims }, () => u64());
    const type = u32();
    if (type !== GGML_TYPE_F32) throw new Error(`GGUF: ${name} has ggml type ${type}; this reader reads float32 only`);
    table.push({ name, dims, offset: u64() });
  }
  const dataStart = Math.ceil(at / alignment) * alignment;
  const tensors = table.map(({ name, dims, offset }) => {
    const count = dims.reduce((a, b) => a * b, 1);
    const start = dataStart + offset;
    if (offset % alignment !== 0) throw new Error(`GGUF: ${name} is not aligned`);
    if (start + count * 4 > file.length) throw new Error(`GGUF: ${name} runs past the end of the file`);
    const data = new Float32Array(count);
    for (let j = 0; j < count; j++) data[j] = view.getFloat32(start + j * 4, true);
    return { name, dims, data };
  });
  return { version, metadata, tensors };
}
