/**
 * A random-weight decoder with the shapes of a real model (Qwen2.5-0.5B by
 * default), written as ONNX for the text-generation benchmark only: the
 * project ships no real language model weights, but speed depends on shapes,
 * not on what the weights say. The graph has the shipped model's input and
 * output names (`input_ids`, `attention_mask`, `position_ids`,
 * `past_key_values.N.key|value` -> `logits`, `present.N.key|value`), so the
 * core's one generation loop and forced-pass checker run it unchanged.
 *
 * It is Qwen2's block in plain ONNX operators, float32: RMSNorm, q/k/v
 * projections with biases, rotary embeddings (halves), grouped-query
 * attention, SwiGLU, and an output head tied to the embedding (Qwen2.5-0.5B
 * ties them; the head is a Gemm with transB over the one embedding table, so
 * the 545 MB table is stored once). Grouped-query attention folds each group
 * of query heads into one [heads-per-group x positions] block of rows against
 * its key/value head, so keys and values are never copied per query head.
 *
 * The weights are uniform with the spread of a trained model's initialisation
 * (standard deviation 0.02), drawn from a seeded xorshift, so the file is the
 * same every time.
 */
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export interface DecoderShape {
  readonly vocab: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly intermediate: number;
  readonly ropeTheta: number;
  readonly eps: number;
}

/** Qwen2.5-0.5B's shapes (its config.json): 24 layers, about 494 million parameters, 2 GB in float32. */
export const QWEN25_05B: DecoderShape = {
  vocab: 151936,
  hidden: 896,
  layers: 24,
  heads: 14,
  kvHeads: 2,
  headDim: 64,
  intermediate: 4864,
  ropeTheta: 1_000_000,
  eps: 1e-6,
};

/** Parameters of a shape, embedding (tied head) included. */
export function parameterCount(shape: DecoderShape): number {
  const { vocab, hidden, layers, heads, kvHeads, headDim, intermediate } = shape;
  const attention = hidden * heads * headDim * 2 + hidden * kvHeads * headDim * 2 + (heads + 2 * kvHeads) * headDim;
  const mlp = 3 * hidden * intermediate;
  return vocab * hidden + layers * (attention + mlp + 2 * hidden) + hidden;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** Builds the graph node by node; names are made unique by a counter. */
class GraphBuilder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private count = 0;

  op(opType: string, inputs: string[], attributes: Record<string, number | number[]> = {}, outputs = 1): string[] {
    const id = this.count++;
    const names = Array.from({ length: outputs }, (_, i) => `${opType.toLowerCase()}_${id}_${i}`);
    const attribute = Object.entries(attributes).map(([name, value]) =>
      Array.isArray(value)
        ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: value })
        : Number.isInteger(value)
          ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value })
          : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value }),
    );
    this.nodes.push(
      onnx.NodeProto.create({ name: `${opType}_${id}`, opType, input: inputs, output: names, attribute }),
    );
    return names;
  }

  /** One-output node. */
  one(opType: string, inputs: string[], attributes: Record<string, number | number[]> = {}): string {
    return this.op(opType, inputs, attributes)[0] as string;
  }

  /** Routes the last node's output to a graph output name. */
  name(value: string, as: string): void {
    for (const node of this.nodes) node.output = (node.output ?? []).map((o) => (o === value ? as : o));
    for (const node of this.nodes) node.input = (node.input ?? []).map((i) => (i === value ? as : i));
  }

  floats(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims,
        dataType: FLOAT,
        rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      }),
    );
    return name;
  }

  ints(name: string, values: number[]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    this.initializers.push(
      onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) }),
    );
    return name;
  }

  scalarInt(name: string, value: number): string {
    const data = BigInt64Array.of(BigInt(value));
    this.initializers.push(
      onnx.TensorProto.create({ name, dims: [], dataType: INT64, rawData: new Uint8Array(data.buffer) }),
    );
    return name;
  }

  scalarFloat(name: string, value: number): string {
    return this.floats(name, [], Float32Array.of(value));
  }
}

/** Uniform weights with standard deviation `std` from a seeded xorshift32. */
function randomWeights(count: number, std: number, state: { x: number }): Float32Array {
  const out = new Float32Array(count);
  const scale = (std * Math.sqrt(3) * 2) / 2 ** 32;
  const half = std * Math.sqrt(3);
  let x = state.x;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) * scale - half;
  }
  state.x = x;
  return out;
}

/** The ONNX file of a random-weight decoder of `shape`. */
export function randomDecoderOnnx(shape: DecoderShape, seed = 20261208): Uint8Array {
  const { vocab, hidden, layers, heads, kvHeads, headDim, intermediate } = shape;
  const rep = heads / kvHeads;
  if (!Number.isInteger(rep)) throw new Error('heads must be a multiple of kvHeads');
  const g = new GraphBuilder();
  const rng = { x: seed | 1 };
  const weight = (name: string, dims: number[]) =>
    g.floats(
      name,
      dims,
      randomWeights(
        dims.reduce((a, b) => a * b, 1),
        0.02,
        rng,
      ),
    );
  const ones = (name: string, n: number) => g.floats(name, [n], new Float32Array(n).fill(1));

  // Constants.
  const eps = g.scalarFloat('eps', shape.eps);
  const zero = g.scalarFloat('zero', 0);
  const minusInf = g.scalarFloat('masked', -1e9);
  const scale = g.scalarFloat('attention_scale', 1 / Math.sqrt(headDim));
  const i0 = g.scalarInt('i0', 0);
  const i1 = g.scalarInt('i1', 1);
  const invFreq = g.floats(
    'inv_freq',
    [headDim / 2],
    Float32Array.from({ length: headDim / 2 }, (_, i) => 1 / shape.ropeTheta ** ((2 * i) / headDim)),
  );
  const axisLast = g.ints('axis_last', [-1]);
  const axis0 = g.ints('axis_0', [0]);
  const axis1 = g.ints('axis_1', [1]);
  const axes12 = g.ints('axes_1_2', [1, 2]);

  const embed = weight('embed_tokens', [vocab, hidden]);
  let x = g.one('Gather', [embed, 'input_ids']);

  // Rotary angles: positions cast to float first, then unsqueezed (the order onnxruntime-web's WebGPU backend gets right).
  const positions = g.one('Unsqueeze', [g.one('Cast', ['position_ids'], { to: FLOAT }), axisLast]);
  const freqs = g.one('Mul', [positions, invFreq]);
  const angles = g.one('Concat', [freqs, freqs], { axis: -1 });
  const cos = g.one('Unsqueeze', [g.one('Cos', [angles]), axis1]);
  const sin = g.one('Unsqueeze', [g.one('Sin', [angles]), axis1]);

  // Causal mask over past + new positions, and the attention mask's padding: [batch, 1, rep * seq, total].
  const seq = g.one('Gather', [g.one('Shape', ['input_ids']), i1]);
  const total = g.one('Gather', [g.one('Shape', ['attention_mask']), i1]);
  const queryPositions = g.one('Range', [g.one('Sub', [total, seq]), total, i1]);
  const keyPositions = g.one('Range', [i0, total, i1]);
  const causal = g.one('LessOrEqual', [
    g.one('Unsqueeze', [keyPositions, axis0]),
    g.one('Unsqueeze', [queryPositions, axis1]),
  ]);
  const notPadding = g.one('Greater', [g.one('Unsqueeze', ['attention_mask', axes12]), i0]);
  const mask = g.one('Where', [g.one('And', [causal, notPadding]), zero, minusInf]);
  const maskRows = g.one('Tile', [mask, g.ints('mask_tiles', [1, 1, rep, 1])]);

  const rmsNorm = (input: string, w: string) => {
    const meanSquare = g.one('ReduceMean', [g.one('Mul', [input, input])], { axes: [-1], keepdims: 1 });
    return g.one('Mul', [g.one('Div', [input, g.one('Sqrt', [g.one('Add', [meanSquare, eps])])]), w]);
  };
  const half = g.ints('rope_half', [headDim / 2, headDim / 2]);
  const rope = (t: string) => {
    const [first, second] = g.op('Split', [t, half], { axis: 3 }, 2) as [string, string];
    const rotated = g.one('Concat', [g.one('Neg', [second]), first], { axis: 3 });
    return g.one('Add', [g.one('Mul', [t, cos]), g.one('Mul', [rotated, sin])]);
  };

  for (let layer = 0; layer < layers; layer++) {
    const p = `layers.${layer}`;
    const h = rmsNorm(x, ones(`${p}.input_layernorm`, hidden));
    const project = (name: string, n: number) => {
      const headsShape = g.ints(`${p}.${name}.heads`, [0, 0, n, headDim]);
      const out = g.one('Add', [
        g.one('MatMul', [h, weight(`${p}.${name}.weight`, [hidden, n * headDim])]),
        weight(`${p}.${name}.bias`, [n * headDim]),
      ]);
      return g.one('Transpose', [g.one('Reshape', [out, headsShape])], { perm: [0, 2, 1, 3] });
    };
    const q = rope(project('q_proj', heads));
    const k = rope(project('k_proj', kvHeads));
    const v = project('v_proj', kvHeads);
    const keys = g.one('Concat', [`past_key_values.${layer}.key`, k], { axis: 2 });
    const values = g.one('Concat', [`past_key_values.${layer}.value`, v], { axis: 2 });
    g.name(keys, `present.${layer}.key`);
    g.name(values, `present.${layer}.value`);
    // [batch, heads, seq, d] -> [batch, kvHeads, rep * seq, d]: each group's query heads as rows against its key head.
    const grouped = g.one('Reshape', [g.one('Mul', [q, scale]), g.ints(`group_${layer}`, [0, kvHeads, -1, headDim])]);
    const keysT = g.one('Transpose', [`present.${layer}.key`], { perm: [0, 1, 3, 2] });
    const scores = g.one('Add', [g.one('MatMul', [grouped, keysT]), maskRows]);
    const attended = g.one('MatMul', [g.one('Softmax', [scores], { axis: -1 }), `present.${layer}.value`]);
    const perHead = g.one('Reshape', [attended, g.ints(`ungroup_${layer}`, [0, heads, -1, headDim])]);
    const merged = g.one('Reshape', [
      g.one('Transpose', [perHead], { perm: [0, 2, 1, 3] }),
      g.ints(`merge_${layer}`, [0, 0, heads * headDim]),
    ]);
    x = g.one('Add', [x, g.one('MatMul', [merged, weight(`${p}.o_proj.weight`, [heads * headDim, hidden])])]);

    const h2 = rmsNorm(x, ones(`${p}.post_attention_layernorm`, hidden));
    const gate = g.one('MatMul', [h2, weight(`${p}.gate_proj.weight`, [hidden, intermediate])]);
    const up = g.one('MatMul', [h2, weight(`${p}.up_proj.weight`, [hidden, intermediate])]);
    const act = g.one('Mul', [g.one('Mul', [gate, g.one('Sigmoid', [gate])]), up]);
    x = g.one('Add', [x, g.one('MatMul', [act, weight(`${p}.down_proj.weight`, [intermediate, hidden])])]);
  }

  // The head, tied to the embedding: Gemm multiplies by the table transposed without a second copy.
  const normed = rmsNorm(x, ones('norm', hidden));
  const rows = g.one('Reshape', [normed, g.ints('rows', [-1, hidden])]);
  const flat = g.one('Gemm', [rows, embed], { transB: 1 });
  const logitsShape = g.one('Concat', [g.one('Shape', ['input_ids']), g.ints('vocab', [vocab])], { axis: 0 });
  g.name(g.one('Reshape', [flat, logitsShape]), 'logits');

  const tensor = (name: string, type: number, dims: (number | string)[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: type,
          shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
        },
      },
    });
  const inputs = [
    tensor('input_ids', INT64, ['batch_size', 'sequence_length']),
    tensor('attention_mask', INT64, ['batch_size', 'total_sequence_length']),
    tensor('position_ids', INT64, ['batch_size', 'sequence_length']),
  ];
  const outputs = [tensor('logits', FLOAT, ['batch_size', 'sequence_length', vocab])];
  for (let layer = 0; layer < layers; layer++) {
    for (const kind of ['key', 'value']) {
      inputs.push(
        tensor(`past_key_values.${layer}.${kind}`, FLOAT, ['batch_size', kvHeads, 'past_sequence_length', headDim]),
      );
      outputs.push(
        tensor(`present.${layer}.${kind}`, FLOAT, ['batch_size', kvHeads, 'total_sequence_length', headDim]),
      );
    }
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'acn-bench',
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'random-decoder', node: g.nodes, initializer: g.initializers, input: inputs, output: outputs },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Writes the bench model to `path` unless a file is already there (it is the same every time). */
export async function ensureRandomDecoder(path: string, shape: DecoderShape): Promise<{ created: boolean }> {
  if (
    await stat(path).then(
      () => true,
      () => false,
    )
  )
    return { created: false };
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.partial`, randomDecoderOnnx(shape));
  await rename(`${path}.partial`, path);
  return { created: true };
}
