/** Every shipped model's builder, in catalogue order. */
import type { ModelBuilder } from './builder.ts';

export const builders: readonly ModelBuilder[] = [];
