/**
 * lande's input features, computed exactly as lande 1.0.10 computes them: the
 * text is normalised (hyphens to spaces, everything but letters, marks and
 * white space dropped, runs of white space collapsed, lower-cased, trimmed and
 * padded with one space each side), then for n = 1..4 the relative frequency
 * of each vocabulary n-gram among all n-grams of the normalised text (UTF-16
 * code units, as JavaScript strings slice), as float32.
 */
import { LANGUAGE_ID_NGRAMS } from './vocabulary.ts';

const ORDERS = [
  { n: 1, ngrams: LANGUAGE_ID_NGRAMS.unigrams },
  { n: 2, ngrams: LANGUAGE_ID_NGRAMS.bigrams },
  { n: 3, ngrams: LANGUAGE_ID_NGRAMS.trigrams },
  { n: 4, ngrams: LANGUAGE_ID_NGRAMS.quadgrams },
] as const;

/** The length of the feature vector: 620. */
export const LANGUAGE_ID_FEATURES = ORDERS.reduce((sum, order) => sum + order.ngrams.length, 0);

/** lande's text normalisation. */
export function normaliseText(text: string): string {
  const cleaned = text
    .replace(/-+/g, ' ')
    .replace(/[^\p{L}\p{M}\s]/gu, '')
    .replace(/\s{2,}/g, ' ')
    .toLowerCase()
    .trim();
  return ` ${cleaned} `;
}

/** How often each n-gram of length `n` occurs in `text`, and how many n-grams it has in all. */
function countNgrams(text: string, n: number): { readonly counts: Map<string, number>; readonly total: number } {
  const counts = new Map<string, number>();
  let total = 0;
  for (let i = 0; i <= text.length - n; i++) {
    const ngram = text.slice(i, i + n);
    counts.set(ngram, (counts.get(ngram) ?? 0) + 1);
    total += 1;
  }
  return { counts, total };
}

/** The model's input for one text: {@link LANGUAGE_ID_FEATURES} n-gram frequencies. */
export function languageIdFeatures(text: string): Float32Array {
  const normalised = normaliseText(text);
  const features = new Float32Array(LANGUAGE_ID_FEATURES);
  let offset = 0;
  for (const { n, ngrams } of ORDERS) {
    const { counts, total } = countNgrams(normalised, n);
    ngrams.forEach((ngram, index) => {
      const count = counts.get(ngram);
      if (count !== undefined) features[offset + index] = count / total;
    });
    offset += ngrams.length;
  }
  return features;
}
