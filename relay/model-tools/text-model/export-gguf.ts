/**
 * Exports the shipped text-generation model from its ONNX file to GGUF, the
 * format of llama.cpp (issue 8 runs it there), without torch: the weights are
 * the ONNX file's initializers, found by the graph nodes that use them, so
 * both files hold the very same numbers.
 *
 *   node relay/model-tools/text-model/export-gguf.ts [--onnx FILE] [--report FILE] [--out FILE]
 *   npm run text-model-gguf
 *
 * `npm run train-text-model` runs it after training. The defaults are the
 * committed artifacts: relay/node/models/artifacts/kjv-byte-lm.{onnx,json}
 * in, kjv-byte-lm.gguf out.
 *
 * The GGUF file is llama.cpp's `llama` architecture in float32: the same
 * decoder (RMSNorm, rotary embeddings, grouped-query attention, SwiGLU).
 * Two things differ from the ONNX layout and are converted here:
 * - ONNX MatMul weights are [in, out]; ggml wants torch's [out, in] rows,
 *   written with dims [in, out] (ggml lists the fastest dimension first).
 * - train.py rotates the two halves of each head (x[i] with x[i + d/2]);
 *   llama.cpp's `llama` rotates neighbours (x[2i] with x[2i + 1]). Permuting
 *   the query and key rows of each head turns one into the other, as
 *   llama.cpp's own Hugging Face converter does; attention scores do not
 *   change because queries and keys are permuted alike.
 * The vocabulary is a `gpt2` (byte-level BPE) one with no merges: the 256
 * bytes, each spelt as GPT-2 spells bytes, then the two specials, <bos> (256)
 * and <eos> (257), so llama.cpp tokenizes text to bytes as the model expects.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import onnxProto from 'onnx-proto';
import { bool, f32, str, strings, int32s, u32, writeGguf, type GgufTensor, type GgufValue } from './gguf.ts';

const { onnx } = onnxProto;

export const ARTIFACTS_DIR = 'relay/node/models/artifacts';
export const TEXT_MODEL_ONNX = `${ARTIFACTS_DIR}/kjv-byte-lm.onnx`;
export const TEXT_MODEL_REPORT = `${ARTIFACTS_DIR}/kjv-byte-lm.json`;
export const TEXT_MODEL_GGUF = `${ARTIFACTS_DIR}/kjv-byte-lm.gguf`;

/** What the exporter reads from the training report (relay/model-tools/text-model/train.py writes it). */
export interface TextModelConfig {
  readonly vocab: number;
  readonly bos: number;
  readonly eos: number;
  readonly width: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly hidden: number;
  readonly context: number;
  readonly ropeTheta: number;
}

/**
 * GPT-2's spelling of bytes as printable characters (its `bytes_to_unicode`):
 * printable Latin-1 bytes stand for themselves, the others for code points
 * from 256 up, in byte order. llama.cpp's `gpt2` vocabulary maps text to and
 * from tokens through this table.
 */
export function gpt2ByteSpelling(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(printable(b) ? b : next++));
  return out;
}

/** llama.cpp's token types: 1 normal, 3 control. */
const TOKEN_NORMAL = 1;
const TOKEN_CONTROL = 3;
export const SPECIAL_PIECES = ['<bos>', '<eos>'] as const;

type Initializers = Map<string, { dims: number[]; data: Float32Array }>;

function initializers(model: onnxProto.onnx.ModelProto): Initializers {
  const out: Initializers = new Map();
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT) continue;
    const dims = (t.dims ?? []).map(Number);
    let data: Float32Array;
    if (t.rawData && t.rawData.length > 0) {
      // Copy: the raw bytes may not be 4-byte aligned inside the protobuf buffer.
      const bytes = new Uint8Array(t.rawData);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      data = new Float32Array(bytes.length / 4);
      for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(i * 4, true);
    } else {
      data = Float32Array.from(t.floatData ?? []);
    }
    out.set(String(t.name), { dims, data });
  }
  return out;
}

/** The initializer a named node reads as its `index`-th input (the weight of a MatMul is its second). */
function weightOf(model: onnxProto.onnx.ModelProto, inits: Initializers, nodeName: string, index = 1) {
  const node = model.graph?.node?.find((n) => n.name === nodeName);
  const input = node?.input?.[index];
  const init = input === undefined ? undefined : inits.get(input);
  if (!init) throw new Error(`kjv-byte-lm.onnx: no weight for ${nodeName}`);
  return init;
}

function named(inits: Initializers, name: string) {
  const init = inits.get(name);
  if (!init) throw new Error(`kjv-byte-lm.onnx: no initializer ${name}`);
  return init;
}

/** The float constant a Constant node gives (the epsilon added before RMSNorm's square root). */
function constantOf(model: onnxProto.onnx.ModelProto, output: string): number {
  const node = model.graph?.node?.find((n) => n.opType === 'Constant' && n.output?.includes(output));
  const tensor = node?.attribute?.find((a) => a.name === 'value')?.t;
  if (!tensor) throw new Error(`kjv-byte-lm.onnx: no constant ${output}`);
  if (tensor.rawData && tensor.rawData.length >= 4) {
    const bytes = new Uint8Array(tensor.rawData);
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat32(0, true);
  }
  const value = tensor.floatData?.[0];
  if (value === undefined) throw new Error(`kjv-byte-lm.onnx: constant ${output} is empty`);
  return value;
}

/** A MatMul weight [in, out] (row-major) as torch's [out, in] rows. */
function transpose(w: { dims: number[]; data: Float32Array }): { rows: number; cols: number; data: Float32Array } {
  const [inDim, outDim] = w.dims as [number, number];
  const data = new Float32Array(inDim * outDim);
  for (let i = 0; i < inDim; i++)
    for (let o = 0; o < outDim; o++) data[o * inDim + i] = w.data[i * outDim + o] as number;
  return { rows: outDim, cols: inDim, data };
}

/**
 * Reorders the rows of each head from halves (0..d/2-1 | d/2..d-1) to
 * neighbours (0, d/2, 1, d/2+1, ...): row 2j takes row j, row 2j+1 row j+d/2.
 */
export function halvesToPairs(rows: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(rows.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      const base = h * headDim;
      out.set(rows.subarray((base + j) * cols, (base + j + 1) * cols), (base + 2 * j) * cols);
      out.set(rows.subarray((base + half + j) * cols, (base + half + j + 1) * cols), (base + 2 * j + 1) * cols);
    }
  }
  return out;
}

/** The GGUF metadata and tensors of the ONNX model, in llama.cpp's names. */
export function ggufFromOnnx(
  onnxBytes: Uint8Array,
  config: TextModelConfig,
): { metadata: Map<string, GgufValue>; tensors: GgufTensor[] } {
  const model = onnx.ModelProto.decode(onnxBytes);
  const inits = initializers(model);
  const { width, heads, kvHeads, headDim, layers } = config;
  if (heads * headDim !== width) throw new Error(`heads x head size ${heads}x${headDim} is not the width ${width}`);

  const tensors: GgufTensor[] = [];
  const embed = named(inits, 'model.embed.weight');
  tensors.push({ name: 'token_embd.weight', dims: [width, config.vocab], data: embed.data });
  const matrix = (name: string, node: string, permuteHeads?: number): void => {
    const t = transpose(weightOf(model, inits, node));
    const data = permuteHeads === undefined ? t.data : halvesToPairs(t.data, permuteHeads, headDim, t.cols);
    tensors.push({ name, dims: [t.cols, t.rows], data });
  };
  const vector = (name: string, init: string): void => {
    const t = named(inits, init);
    tensors.push({ name, dims: [t.data.length], data: t.data });
  };
  for (let i = 0; i < layers; i++) {
    const block = `/model/blocks.${i}`;
    vector(`blk.${i}.attn_norm.weight`, `model.blocks.${i}.attn_norm.weight`);
    matrix(`blk.${i}.attn_q.weight`, `${block}/attn/q/MatMul`, heads);
    matrix(`blk.${i}.attn_k.weight`, `${block}/attn/k/MatMul`, kvHeads);
    matrix(`blk.${i}.attn_v.weight`, `${block}/attn/v/MatMul`);
    matrix(`blk.${i}.attn_output.weight`, `${block}/attn/o/MatMul`);
    vector(`blk.${i}.ffn_norm.weight`, `model.blocks.${i}.mlp_norm.weight`);
    matrix(`blk.${i}.ffn_gate.weight`, `${block}/gate/MatMul`);
    matrix(`blk.${i}.ffn_up.weight`, `${block}/up/MatMul`);
    matrix(`blk.${i}.ffn_down.weight`, `${block}/down/MatMul`);
  }
  vector('output_norm.weight', 'model.norm.weight');
  // The head is tied to the embedding in torch; the ONNX graph multiplies by its own
  // folded copy, written out here so llama.cpp computes with exactly what ONNX does.
  matrix('output.weight', '/model/MatMul');

  const epsilon = constantOf(model, '/model/norm/Constant_1_output_0');
  const pieces = [...gpt2ByteSpelling(), ...SPECIAL_PIECES];
  if (pieces.length !== config.vocab)
    throw new Error(`the vocabulary has ${pieces.length} pieces, not ${config.vocab}`);
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', str('llama')],
    ['general.name', str('kjv-byte-lm')],
    ['general.license', str('CC0-1.0')],
    ['general.file_type', u32(0)], // all float32
    ['llama.context_length', u32(config.context)],
    ['llama.embedding_length', u32(width)],
    ['llama.block_count', u32(layers)],
    ['llama.feed_forward_length', u32(config.hidden)],
    ['llama.attention.head_count', u32(heads)],
    ['llama.attention.head_count_kv', u32(kvHeads)],
    ['llama.rope.dimension_count', u32(headDim)],
    ['llama.rope.freq_base', f32(config.ropeTheta)],
    ['llama.attention.layer_norm_rms_epsilon', f32(epsilon)],
    ['llama.vocab_size', u32(config.vocab)],
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.pre', str('default')],
    ['tokenizer.ggml.tokens', strings(pieces)],
    ['tokenizer.ggml.token_type', int32s(pieces.map((_, i) => (i < 256 ? TOKEN_NORMAL : TOKEN_CONTROL)))],
    // Bytes only: no merges, so text becomes one token per byte, as the model was trained.
    ['tokenizer.ggml.merges', strings([])],
    ['tokenizer.ggml.bos_token_id', u32(config.bos)],
    ['tokenizer.ggml.eos_token_id', u32(config.eos)],
    ['tokenizer.ggml.add_bos_token', bool(true)],
    ['tokenizer.ggml.add_eos_token', bool(false)],
  ]);
  return { metadata, tensors };
}

/** Reads the ONNX file and its report and writes the GGUF file (through a temporary name, so a crash leaves no half file). */
export async function exportGguf(
  paths: { onnx?: string; report?: string; out?: string } = {},
): Promise<{ path: string; bytes: number; tensors: number }> {
  const onnxBytes = new Uint8Array(await readFile(paths.onnx ?? TEXT_MODEL_ONNX));
  const report = JSON.parse(await readFile(paths.report ?? TEXT_MODEL_REPORT, 'utf8')) as { config: TextModelConfig };
  const { metadata, tensors } = ggufFromOnnx(onnxBytes, report.config);
  const file = writeGguf(metadata, tensors);
  const out = paths.out ?? TEXT_MODEL_GGUF;
  await writeFile(`${out}.partial`, file);
  await rename(`${out}.partial`, out);
  return { path: out, bytes: file.length, tensors: tensors.length };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { onnx: { type: 'string' }, report: { type: 'string' }, out: { type: 'string' } },
  });
  const written = await exportGguf(values);
  console.log(`wrote ${written.path}: ${written.bytes} bytes, ${written.tensors} tensors`);
}
