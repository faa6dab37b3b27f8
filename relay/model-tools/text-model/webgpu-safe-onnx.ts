/**
 * Rewrites the shipped text model's ONNX graph around one bug of
 * onnxruntime-web's WebGPU backend (onnxruntime issue 32134, open in 1.30):
 * where an int64 tensor goes Unsqueeze -> Cast(float) and a same-size
 * RMSNorm (Pow -> ReduceMean -> Add) runs beside it, the WebGPU backend reuses
 * the Cast's output buffer for the norm before the next node has read it. In
 * this model that is the rotary angle `position_ids[:, :, None].float()`: on
 * WebGPU the angles come out as each position's root mean square instead, and
 * the model writes nonsense (WASM and onnxruntime-node are not affected).
 *
 * Casting first and unsqueezing after is the same arithmetic (both are exact
 * on whole positions), gives bit-identical logits on the other backends, and
 * does not meet the bug. train.py exports that order itself now; this turns a
 * file exported before into the same graph without retraining:
 *
 *   node relay/model-tools/text-model/webgpu-safe-onnx.ts [--in FILE] [--out FILE]
 *
 * (default: relay/node/models/artifacts/kjv-byte-lm.onnx in place). The
 * weights do not change, so the GGUF export does not either.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import onnxProto from 'onnx-proto';
import { TEXT_MODEL_ONNX } from './export-gguf.ts';

const { onnx } = onnxProto;
const FLOAT: number = onnx.TensorProto.DataType.FLOAT;

/**
 * The graph with each `position_ids -> Unsqueeze -> Cast` turned into
 * `position_ids -> Cast -> Unsqueeze`; `changed` is false when there was none
 * (an already rewritten file is left as it is).
 */
export function castBeforeUnsqueeze(bytes: Uint8Array): { bytes: Uint8Array; changed: boolean } {
  const model = onnx.ModelProto.decode(bytes);
  const nodes = model.graph?.node ?? [];
  let changed = false;
  for (const unsqueeze of nodes.filter((n) => n.opType === 'Unsqueeze' && n.input?.[0] === 'position_ids')) {
    const out = unsqueeze.output?.[0];
    const readers = nodes.filter((n) => n.input?.includes(out ?? ''));
    const cast = readers[0];
    if (readers.length !== 1 || cast?.opType !== 'Cast') continue;
    const to = Number(cast.attribute?.find((a) => a.name === 'to')?.i ?? -1);
    if (to !== FLOAT) continue;
    const castOut = cast.output?.[0] as string;
    const floatPositions = `${castOut}_positions`;
    cast.input = ['position_ids'];
    cast.output = [floatPositions];
    unsqueeze.input = [floatPositions, ...(unsqueeze.input ?? []).slice(1)];
    unsqueeze.output = [castOut];
    // ONNX wants nodes in an order where each input is made before it is read.
    nodes.splice(nodes.indexOf(cast), 1);
    nodes.splice(nodes.indexOf(unsqueeze), 0, cast);
    changed = true;
  }
  return { bytes: changed ? onnx.ModelProto.encode(model).finish() : bytes, changed };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { in: { type: 'string' }, out: { type: 'string' } } });
  const input = values.in ?? TEXT_MODEL_ONNX;
  const output = values.out ?? input;
  const { bytes, changed } = castBeforeUnsqueeze(new Uint8Array(await readFile(input)));
  if (!changed) {
    console.log(`${input}: position_ids are already cast before they are unsqueezed; nothing to do`);
  } else {
    await writeFile(`${output}.partial`, bytes);
    await rename(`${output}.partial`, output);
    console.log(`wrote ${output}: position_ids cast before unsqueeze (${bytes.length} bytes)`);
  }
}
