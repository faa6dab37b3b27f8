/**
 * Fresh inputs for known-answer canary tasks, one generator per pipeline the
 * relay can make believable inputs for. Each canary is a new input (a worker
 * must not recognise one by its hash), shaped like what people send: mixed
 * sentences for language identification, a garment photographed on a light
 * background for the clothing classifier, small noisy tables for the data
 * jobs, a verse reference for the language model to continue, with a seed
 * and sampling settings like a chat's. The relay learns the answer by running
 * the input on its own pool (or, for text generation, judges the worker's
 * answer with the pool's forced pass: no answer is needed beforehand).
 *
 * An answer is only worth convicting on when an honest worker on another
 * backend gives it too, so {@link isClearAnswer} drops inputs whose answer is
 * near a tie (a top-1 decided by a few hundredths of probability could flip
 * between float implementations).
 */
import type { ClassifyImage } from '#core/pipelines/image-classification/image.ts';
import type { DataTable } from '#core/pipelines/data/table.ts';
import type { TextGenerationInput } from '#core/pipelines/text-generation/prompt.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { CANARY_SENTENCES } from './canary-sentences.ts';

/** Makes one fresh input (its encoded bytes) from a source of uniform numbers in [0, 1). */
export type CanaryInputGenerator = (random: () => number) => Uint8Array;

/** A classification canary needs its best label this far (in probability) ahead of the second. */
export const CANARY_MIN_MARGIN = 0.2;

const int = (random: () => number, min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
const pickOne = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
/** Roughly normal noise: the sum of four uniforms, centred, standard deviation ≈ `sd`. */
const noise = (random: () => number, sd: number): number =>
  (random() + random() + random() + random() - 2) * sd * Math.sqrt(3);
const round = (x: number, digits = 4): number => Math.round(x * 10 ** digits) / 10 ** digits;

function sentences(random: () => number): string {
  const languages = Object.values(CANARY_SENTENCES);
  const pool = [...pickOne(random, languages)];
  const count = int(random, 2, 3);
  const chosen: string[] = [];
  for (let i = 0; i < count && pool.length > 0; i++) {
    const sentence = pool.splice(Math.floor(random() * pool.length), 1)[0] as string;
    const words = sentence.split(' ');
    // Drop a word now and then, so the same few sentences give many inputs.
    if (words.length > 6 && random() < 0.5) words.splice(int(random, 1, words.length - 2), 1);
    chosen.push(words.join(' '));
  }
  return chosen.join(' ');
}

type Shape = (x: number, y: number) => boolean;

/** Garment silhouettes in unit coordinates (0..1 across the garment's box). */
const GARMENTS: readonly Shape[] = [
  // a T-shirt: a body and two short sleeves
  (x, y) => (x > 0.25 && x < 0.75 && y > 0.1) || (y > 0.1 && y < 0.35 && x > 0.05 && x < 0.95),
  // trousers: a waistband and two legs
  (x, y) => (y < 0.15 && x > 0.2 && x < 0.8) || (x > 0.2 && x < 0.47) || (x > 0.53 && x < 0.8),
  // a dress: widening towards the hem
  (x, y) => Math.abs(x - 0.5) < 0.12 + 0.3 * y,
  // a bag: a box and a handle
  (x, y) =>
    (y > 0.35 && x > 0.05 && x < 0.95) ||
    (y > 0.05 && y < 0.35 && Math.abs(Math.hypot(x - 0.5, y - 0.35) - 0.22) < 0.05),
  // a shoe: a low sole and a heel
  (x, y) => (y > 0.65 && x > 0.02 && x < 0.98) || (y > 0.35 && x < 0.45),
];

function garmentPhoto(random: () => number): ClassifyImage {
  const width = int(random, 96, 192);
  const height = int(random, 96, 192);
  const shape = pickOne(random, GARMENTS);
  const background = int(random, 205, 245);
  const colour = [int(random, 10, 90), int(random, 10, 90), int(random, 10, 90)];
  const box = {
    x0: width * (0.1 + 0.1 * random()),
    y0: height * (0.1 + 0.1 * random()),
    x1: width * (0.8 + 0.1 * random()),
    y1: height * (0.8 + 0.1 * random()),
  };
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = (x - box.x0) / (box.x1 - box.x0);
      const v = (y - box.y0) / (box.y1 - box.y0);
      const inside = u >= 0 && u <= 1 && v >= 0 && v <= 1 && shape(u, v);
      for (let c = 0; c < 3; c++) {
        const base = inside ? (colour[c] as number) : background;
        data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(base + noise(random, 4))));
      }
    }
  }
  return { width, height, channels: 3, data };
}

function regressionTable(random: () => number): DataTable {
  const features = int(random, 1, 3);
  const coefficients = Array.from({ length: features }, () => round(random() * 6 - 3, 2));
  const intercept = round(random() * 10 - 5, 2);
  const rows = Array.from({ length: int(random, 20, 80) }, () => {
    const x = Array.from({ length: features }, () => round(random() * 20 - 10));
    const y = x.reduce((sum, xi, i) => sum + xi * (coefficients[i] as number), intercept) + noise(random, 0.1);
    return [...x, round(y)];
  });
  return { rows };
}

function clusterTable(random: () => number): DataTable {
  const k = int(random, 2, 4);
  // Centres far apart compared with the spread: every point's nearest centre is beyond doubt.
  const centres = Array.from({ length: k }, (_, i) => [i * 20 + random() * 5, random() * 40 - 20]);
  const rows = centres.flatMap((centre) =>
    Array.from({ length: int(random, 8, 25) }, () => centre.map((c) => round(c + noise(random, 0.8)))),
  );
  return { rows, k, seed: int(random, 0, 2 ** 31) };
}

function varianceTable(random: () => number): DataTable {
  const scales = [int(random, 8, 12), int(random, 3, 5), 1];
  const rows = Array.from({ length: int(random, 30, 90) }, () => {
    const z = scales.map((s) => noise(random, s));
    // Mix the columns a little so the components are not the axes themselves.
    return [
      round(z[0] as number),
      round((z[1] as number) + 0.3 * (z[0] as number)),
      round((z[2] as number) - 0.2 * (z[1] as number)),
    ];
  });
  return { rows, components: 2 };
}

/** Books of the King James Bible, whose verses the shipped language model continues. */
const BOOKS: readonly string[] = [
  'Genesis',
  'Exodus',
  'Leviticus',
  'Numbers',
  'Deuteronomy',
  'Joshua',
  'Judges',
  'Ruth',
  'Samuel',
  'Kings',
  'Job',
  'Psalms',
  'Proverbs',
  'Ecclesiastes',
  'Isaiah',
  'Jeremiah',
  'Ezekiel',
  'Daniel',
  'Matthew',
  'Mark',
  'Luke',
  'John',
  'Acts',
  'Romans',
  'Corinthians',
  'Hebrews',
  'James',
  'Revelation',
];

/**
 * A verse reference ("John 3:16") to continue, as a plain prompt or a chat
 * message, greedy or sampled with a fresh seed, asking a modest number of
 * pieces: a check of the answer costs about one prefill of that many.
 */
function versePrompt(random: () => number): TextGenerationInput {
  const reference = `${pickOne(random, BOOKS)} ${int(random, 1, 30)}:${int(random, 1, 30)}`;
  const sampled = random() < 0.6;
  return {
    ...(random() < 0.5 ? { prompt: `${reference} ` } : { messages: [{ role: 'user' as const, content: reference }] }),
    maxPieces: int(random, 24, 48),
    temperature: sampled ? round(0.3 + random() * 0.9, 2) : 0,
    topK: sampled ? pickOne(random, [0, 20, 40]) : 0,
    topP: sampled ? pickOne(random, [1, 0.95, 0.9]) : 1,
    seed: int(random, 0, 2 ** 31),
    stop: [],
  };
}

const MAKERS: Readonly<Record<string, (random: () => number) => unknown>> = {
  'language-id': sentences,
  clothing: garmentPhoto,
  'linear-regression': regressionTable,
  kmeans: clusterTable,
  pca: varianceTable,
  'text-generation': versePrompt,
};

/** The canary input generator for pipeline `pre`, or undefined when the relay has none (its models are only re-checked). */
export function canaryInputGenerator(pre: string): CanaryInputGenerator | undefined {
  const make = MAKERS[pre];
  const pipeline = pipelineFor(pre);
  if (make === undefined || pipeline === undefined) return undefined;
  return (random) => pipeline.encodeInput(make(random));
}

/**
 * Whether `output` of pipeline `pre` is an answer clear enough to judge a
 * worker by: it decodes, and a ranked classification leads by at least
 * {@link CANARY_MIN_MARGIN}.
 */
export function isClearAnswer(pre: string, output: Uint8Array): boolean {
  const decoded = pipelineFor(pre)?.decodeOutput(output);
  if (decoded?.ok !== true) return false;
  const top = (decoded.value as { readonly top?: unknown }).top;
  if (!Array.isArray(top) || top.length < 2) return true;
  const [first, second] = top as { readonly p: number }[];
  return (first?.p ?? 0) - (second?.p ?? 0) >= CANARY_MIN_MARGIN;
}
