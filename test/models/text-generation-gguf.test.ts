/**
 * The shipped text-generation model as GGUF (relay/model-tools/text-model/
 * export-gguf.ts writes it from the ONNX file): the committed file is what the
 * exporter makes today, and it holds the ONNX file's very weights under
 * llama.cpp's names and shapes (the q/k rows reordered for llama.cpp's
 * rotation). Running it in llama.cpp itself comes with the relay's llama.cpp
 * runtime (issue 13); node-llama-cpp 3.21.1 gave torch's greedy pieces for
 * every sample when the exporter was written.
 */
import { describe, expect, it } from 'vitest';
import { readGguf, writeGguf } from '#model-tools/text-model/gguf.ts';
import { inBrowser } from '#test/models.ts';
import report from '#node/models/artifacts/kjv-byte-lm.json';

/**
 * Imports a Node-only module by a path vite does not read: the unit-chromium
 * project also collects this file (and skips it), and vite would otherwise try
 * to bundle these modules for the browser.
 */
const nodeOnly = <T>(specifier: string): Promise<T> => import(/* @vite-ignore */ specifier) as Promise<T>;

const ARTIFACTS = 'relay/node/models/artifacts';
const { config } = report;

async function files() {
  const { readFile } = await import('node:fs/promises');
  return {
    gguf: new Uint8Array(await readFile(`${ARTIFACTS}/kjv-byte-lm.gguf`)),
    onnx: new Uint8Array(await readFile(`${ARTIFACTS}/kjv-byte-lm.onnx`)),
  };
}

/** The ONNX file's float initializers by name, and which initializer each node reads as its weight. */
async function onnxWeights(bytes: Uint8Array) {
  const { onnx } = await nodeOnly<typeof import('onnx-proto')>('onnx-proto');
  const model = onnx.ModelProto.decode(bytes);
  const inits = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const t of model.graph?.initializer ?? []) {
    const raw = new Uint8Array(t.rawData ?? []);
    inits.set(String(t.name), { dims: (t.dims ?? []).map(Number), data: new Float32Array(raw.slice().buffer) });
  }
  const weightOf = (node: string) => {
    const input = model.graph?.node?.find((n) => n.name === node)?.input?.[1];
    const init = input === undefined ? undefined : inits.get(input);
    if (!init) throw new Error(`no weight for ${node}`);
    return init;
  };
  return { inits, weightOf };
}

describe.skipIf(inBrowser)('the shipped text-generation model as GGUF (Node)', () => {
  it('is what the exporter writes from the committed ONNX file today', async () => {
    const { ggufFromOnnx } = await nodeOnly<typeof import('#model-tools/text-model/export-gguf.ts')>(
      '../../relay/model-tools/text-model/export-gguf.ts',
    );
    const { gguf, onnx } = await files();
    const { metadata, tensors } = ggufFromOnnx(onnx, config);
    // Byte for byte: retraining without exporting again (train.sh does both) fails here.
    expect(Buffer.from(writeGguf(metadata, tensors)).equals(Buffer.from(gguf))).toBe(true);
  });

  it('holds the ONNX weights under llama.cpp’s names and shapes, with a byte vocabulary', async () => {
    const { gguf, onnx } = await files();
    const file = readGguf(gguf);
    expect(file.version).toBe(3);
    const meta = (key: string) => file.metadata.get(key);
    expect(meta('general.architecture')).toEqual({ type: 'string', value: 'llama' });
    expect(meta('llama.block_count')).toEqual({ type: 'uint32', value: config.layers });
    expect(meta('llama.embedding_length')).toEqual({ type: 'uint32', value: config.width });
    expect(meta('llama.feed_forward_length')).toEqual({ type: 'uint32', value: config.hidden });
    expect(meta('llama.attention.head_count')).toEqual({ type: 'uint32', value: config.heads });
    expect(meta('llama.attention.head_count_kv')).toEqual({ type: 'uint32', value: config.kvHeads });
    expect(meta('llama.context_length')).toEqual({ type: 'uint32', value: config.context });
    expect(meta('llama.rope.freq_base')).toEqual({ type: 'float32', value: config.ropeTheta });
    expect(meta('llama.attention.layer_norm_rms_epsilon')).toEqual({ type: 'float32', value: Math.fround(1e-5) });
    expect(meta('tokenizer.ggml.model')).toEqual({ type: 'string', value: 'gpt2' });
    expect(meta('tokenizer.ggml.merges')).toEqual({ type: 'string[]', value: [] });
    expect(meta('tokenizer.ggml.bos_token_id')).toEqual({ type: 'uint32', value: config.bos });
    expect(meta('tokenizer.ggml.eos_token_id')).toEqual({ type: 'uint32', value: config.eos });
    const pieces = meta('tokenizer.ggml.tokens');
    if (pieces?.type !== 'string[]') throw new Error('no token list');
    expect(pieces.value).toHaveLength(config.vocab);
    // GPT-2 spells printable bytes as themselves and the rest from U+0100 on: 'A' is 'A', ' ' is 'Ġ', '\n' is 'Ċ'.
    expect([pieces.value[65], pieces.value[32], pieces.value[10], pieces.value[0]]).toEqual(['A', 'Ġ', 'Ċ', 'Ā']);
    expect(new Set(pieces.value).size).toBe(config.vocab);
    expect(pieces.value.slice(256)).toEqual(['<bos>', '<eos>']);

    // Each GGUF tensor against the ONNX initializer it came from, value for value.
    const { inits, weightOf } = await onnxWeights(onnx);
    const tensors = new Map(file.tensors.map((t) => [t.name, t]));
    expect(file.tensors).toHaveLength(2 + 9 * config.layers + 1);
    const same = (name: string, source: { dims: number[]; data: Float32Array }, rowOf?: (row: number) => number) => {
      const t = tensors.get(name);
      if (!t) throw new Error(`no ${name} in the GGUF file`);
      if (source.dims.length === 1) {
        expect(t.dims, name).toEqual(source.dims);
        expect(Buffer.from(t.data.buffer).equals(Buffer.from(source.data.buffer)), name).toBe(true);
        return;
      }
      // An ONNX MatMul weight is [in, out]; ggml lists dims fastest first, so the GGUF tensor is
      // dims [in, out] holding out rows of in values: GGUF (row o, column i) = ONNX (i, o).
      const [inDim, outDim] = source.dims as [number, number];
      expect(t.dims, name).toEqual([inDim, outDim]);
      let mismatches = 0;
      for (let o = 0; o < outDim; o++) {
        const from = rowOf ? rowOf(o) : o;
        for (let i = 0; i < inDim; i++) if (t.data[o * inDim + i] !== source.data[i * outDim + from]) mismatches++;
      }
      expect(mismatches, name).toBe(0);
    };
    // llama.cpp rotates neighbouring pairs, train.py the two halves of a head: GGUF row 2j of a head is
    // ONNX column j, row 2j+1 is column j + headDim/2.
    const d = config.headDim;
    const pairRow = (row: number) => {
      const head = Math.floor(row / d);
      const r = row % d;
      return head * d + (r % 2 === 0 ? r / 2 : d / 2 + (r - 1) / 2);
    };
    const embed = inits.get('model.embed.weight');
    if (!embed) throw new Error('no embedding');
    const tokenEmbedding = tensors.get('token_embd.weight');
    expect(tokenEmbedding?.dims).toEqual([config.width, config.vocab]);
    expect(Buffer.from(tokenEmbedding?.data.buffer ?? new ArrayBuffer(0)).equals(Buffer.from(embed.data.buffer))).toBe(
      true,
    );
    for (let layer = 0; layer < config.layers; layer++) {
      const node = `/model/blocks.${layer}`;
      const init = (name: string) => inits.get(name) ?? { dims: [], data: new Float32Array(0) };
      same(`blk.${layer}.attn_norm.weight`, init(`model.blocks.${layer}.attn_norm.weight`));
      same(`blk.${layer}.attn_q.weight`, weightOf(`${node}/attn/q/MatMul`), pairRow);
      same(`blk.${layer}.attn_k.weight`, weightOf(`${node}/attn/k/MatMul`), pairRow);
      same(`blk.${layer}.attn_v.weight`, weightOf(`${node}/attn/v/MatMul`));
      same(`blk.${layer}.attn_output.weight`, weightOf(`${node}/attn/o/MatMul`));
      same(`blk.${layer}.ffn_norm.weight`, init(`model.blocks.${layer}.mlp_norm.weight`));
      same(`blk.${layer}.ffn_gate.weight`, weightOf(`${node}/gate/MatMul`));
      same(`blk.${layer}.ffn_up.weight`, weightOf(`${node}/up/MatMul`));
      same(`blk.${layer}.ffn_down.weight`, weightOf(`${node}/down/MatMul`));
    }
    same('output_norm.weight', inits.get('model.norm.weight') ?? { dims: [], data: new Float32Array(0) });
    same('output.weight', weightOf('/model/MatMul'));

    // A cut file is refused, not read as something else.
    expect(() => readGguf(gguf.subarray(0, gguf.length - 1))).toThrow(/past the end/);
    expect(() => readGguf(gguf.subarray(0, 100))).toThrow(/truncated/);
  });
});
