/**
 * Amounts the Run screen shows: download sizes ("850 kB", "14.2 MB") and
 * prices in tokens ("1 token", "12 tokens").
 */

/** A download size for people: kB below 100 kB, MB above. */
export function megabytes(bytes: number): string {
  return bytes < 1e5 ? `${Math.max(1, Math.round(bytes / 1e3))} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** A number of tokens, singular or plural. */
export function tokens(n: number): string {
  return `${n} token${n === 1 ? '' : 's'}`;
}
