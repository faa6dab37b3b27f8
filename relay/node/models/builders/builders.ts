/** Every shipped model's builder, in catalogue order. */
import type { ModelBuilder } from './builder.ts';
import { clothingBuilder } from './clothing.ts';
import { dataJobsBuilder } from './data-jobs.ts';
import { languageIdBuilder } from './language-id.ts';
import { ocrBuilder } from './ocr.ts';
import { textGenerationBuilder } from './text-generation.ts';

export const builders: readonly ModelBuilder[] = [
  languageIdBuilder,
  clothingBuilder,
  dataJobsBuilder,
  ocrBuilder,
  textGenerationBuilder,
];
