/**
 * What a model builder hands the catalogue build: the entry's descriptive
 * fields and the files. The build hashes the files (content addresses), writes
 * them and fills in `id`, `bytes` and `assets`.
 */
import type { ModelEntry } from '#core/models/catalogue.ts';

export interface BuiltModel {
  readonly entry: Omit<ModelEntry, 'id' | 'bytes' | 'assets'>;
  /** The main ONNX file. */
  readonly main: Uint8Array;
  /** Further files by role (an ONNX model or any other file). */
  readonly assets?: readonly { readonly role: string; readonly bytes: Uint8Array }[];
}

export interface ModelBuilder {
  /** A short name for logs and for `--only`. */
  readonly name: string;
  build(log: (line: string) => void): Promise<BuiltModel[]>;
}
