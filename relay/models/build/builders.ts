/** Every shipped model's builder, in catalogue order. */
import type { ModelBuilder } from './builder.ts';
import { languageIdBuilder } from './language-id.ts';

export const builders: readonly ModelBuilder[] = [languageIdBuilder];
