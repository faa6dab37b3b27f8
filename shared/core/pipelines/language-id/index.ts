/** Language identification (lande t50): features, labels and the pipeline. */
export { LANGUAGE_ID_FEATURES, languageIdFeatures, normaliseText } from './features.ts';
export { LANGUAGE_ID_LABELS, type LanguageCode } from './labels.ts';
export {
  LANGUAGE_ID_INPUT,
  LANGUAGE_ID_MAX_INPUT_BYTES,
  LANGUAGE_ID_OUTPUT,
  LANGUAGE_ID_TOP,
  languageIdPipeline,
  rankLanguages,
  type LanguageCandidate,
  type LanguageIdResult,
} from './pipeline.ts';
export { LANGUAGE_ID_NGRAMS, type LandeNgrams } from './vocabulary.ts';
