/**
 * The languages lande's t50 model tells apart, as the ISO 639-3 codes lande
 * reports, in the order of the model's outputs.
 */
// prettier-ignore
export const LANGUAGE_ID_LABELS = [
  'afr', 'ara', 'aze', 'bel', 'ben', 'bul', 'cat', 'ces', 'ckb', 'cmn',
  'dan', 'deu', 'ell', 'eng', 'est', 'eus', 'fin', 'fra', 'hau', 'heb',
  'hin', 'hrv', 'hun', 'hye', 'ind', 'isl', 'ita', 'jpn', 'kat', 'kaz',
  'kor', 'lit', 'mar', 'mkd', 'nld', 'nob', 'pes', 'pol', 'por', 'ron',
  'run', 'rus', 'slk', 'spa', 'srp', 'swe', 'tgl', 'tur', 'ukr', 'vie',
] as const;

export type LanguageCode = (typeof LANGUAGE_ID_LABELS)[number];
