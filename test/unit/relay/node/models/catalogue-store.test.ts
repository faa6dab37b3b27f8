/** Operators add their own ONNX models; bad files are refused and change nothing. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOrtNodeRuntime } from '#node/inference/ort-node-runtime.ts';
import { addModel, readCatalogue, type AddModelInit } from '#node/models/catalogue-store.ts';
import { tensorPipeline } from '#core/pipelines/tensor/tensor-pipeline.ts';
import { float32Tensor } from '#core/models/tensor.ts';

/** y = x + x, float32 [n, 3]: a tiny but real ONNX model. */
function doublingModel(): Uint8Array {
  const io = (name: string) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: [{ dimParam: 'n' }, { dimValue: 3 }] },
        },
      },
    });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'double',
      node: [{ opType: 'Add', input: ['x', 'x'], output: ['y'] }],
      input: [io('x')],
      output: [io('y')],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

const init: AddModelInit = { name: 'doubler', pricePerUnit: 3, license: { spdx: 'MIT', source: 'test' } };
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'acn-catalogue-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function snapshot(): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of await readdir(dir)) files[name] = (await readFile(join(dir, name))).toString('base64');
  return files;
}

describe('adding an operator model', () => {
  it('stores the file under its hash, records its tensor specs and runs through the tensor pipeline', async () => {
    const bytes = doublingModel();
    const entry = await addModel(dir, bytes, init);
    expect(entry.kind).toBe('tensor');
    expect(entry.inputs).toEqual([{ name: 'x', type: 'float32', shape: ['n', 3] }]);
    expect(entry.outputs).toEqual([{ name: 'y', type: 'float32', shape: ['n', 3] }]);
    expect((await readCatalogue(dir)).models).toEqual([entry]);
    const stored = new Uint8Array(await readFile(join(dir, entry.id)));
    const session = await createOrtNodeRuntime().load(stored, entry.id);
    const input = tensorPipeline.decodeInput(
      tensorPipeline.encodeInput({ x: float32Tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]) }),
    );
    if (!input.ok) throw input.error;
    const output = await tensorPipeline.run({ main: session, sessions: {}, files: {} }, input.value);
    expect(output.y?.data).toEqual(new Float32Array([2, 4, 6, 8, 10, 12]));
    const decoded = tensorPipeline.decodeOutput(tensorPipeline.encodeOutput(output));
    expect(decoded.ok && tensorPipeline.agree(decoded.value, output, entry.tolerance)).toBe(true);
  });

  it.each([
    ['an empty file', new Uint8Array(0)],
    ['random bytes', Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)],
    ['a truncated model', doublingModel().slice(0, 20)],
    ['a text file', new TextEncoder().encode('not a model\n')],
  ])('refuses %s with InvalidModelError and leaves the catalogue unchanged', async (_, bytes) => {
    await addModel(dir, doublingModel(), init);
    const before = await snapshot();
    await expect(addModel(dir, bytes, { ...init, name: 'bad' })).rejects.toMatchObject({
      name: 'InvalidModelError',
      code: 'invalid-model',
    });
    expect(await snapshot()).toEqual(before);
  });

  it('refuses an invalid entry (negative price, empty name) and a duplicate, changing nothing', async () => {
    const before = await snapshot();
    await expect(addModel(dir, doublingModel(), { ...init, pricePerUnit: -1 })).rejects.toMatchObject({
      name: 'InvalidModelError',
    });
    await expect(addModel(dir, doublingModel(), { ...init, name: 'x'.repeat(65) })).rejects.toMatchObject({
      name: 'InvalidModelError',
    });
    expect(await snapshot()).toEqual(before);
    await addModel(dir, doublingModel(), init);
    const after = await snapshot();
    await expect(addModel(dir, doublingModel(), { ...init, name: 'again' })).rejects.toMatchObject({
      name: 'InvalidModelError',
    });
    expect(await snapshot()).toEqual(after);
  });

  it('the tensor pipeline refuses malformed inputs with a typed error', () => {
    for (const bytes of [new Uint8Array([1, 2, 3]), new Uint8Array(0), tensorPipeline.encodeInput({})]) {
      const decoded = tensorPipeline.decodeInput(bytes);
      expect(decoded.ok).toBe(false);
      if (!decoded.ok) expect(decoded.error.name).toBe('InvalidModelInputError');
    }
  });
});
