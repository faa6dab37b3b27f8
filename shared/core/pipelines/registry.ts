/** Every model pipeline by name (`ModelEntry.pre`), so any runner can run any catalogue entry. */
import type { ModelPipeline } from '../models/pipeline.ts';
import { kmeansPipeline } from './data/kmeans.ts';
import { linearRegressionPipeline } from './data/linear-regression.ts';
import { pcaPipeline } from './data/pca.ts';
import { clothingPipeline } from './image-classification/pipeline.ts';
import { languageIdPipeline } from './language-id/pipeline.ts';
import { ocrPipeline } from './ocr/pipeline.ts';
import { tensorPipeline } from './tensor/tensor-pipeline.ts';
import { textGenerationPipeline } from './text-generation/pipeline.ts';

// Pipelines differ in their input and output types; the registry hands them out as opaque ones.
type AnyPipeline = ModelPipeline<unknown, unknown>;

const pipelines = new Map<string, AnyPipeline>(
  [
    languageIdPipeline,
    clothingPipeline,
    linearRegressionPipeline,
    kmeansPipeline,
    pcaPipeline,
    ocrPipeline,
    tensorPipeline,
    textGenerationPipeline,
  ].map((p) => [p.name, p as unknown as AnyPipeline]),
);

/** The pipeline named `name`, or undefined for a name no runner knows. */
export function pipelineFor(name: string): AnyPipeline | undefined {
  return pipelines.get(name);
}
