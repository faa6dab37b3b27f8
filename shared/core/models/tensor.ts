/** Runtime-neutral tensors: what pre-processing produces and post-processing reads. */

export type TensorType = 'float32' | 'int32' | 'int64' | 'uint8';

export interface TensorDataOf {
  float32: Float32Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
}

export interface Tensor<T extends TensorType = TensorType> {
  readonly type: T;
  readonly data: TensorDataOf[T];
  readonly dims: readonly number[];
}

export function float32Tensor(data: Float32Array, dims: readonly number[]): Tensor<'float32'> {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== data.length) throw new RangeError(`dims ${dims.join('x')} need ${size} values, got ${data.length}`);
  return { type: 'float32', data, dims };
}
