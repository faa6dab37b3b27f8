/**
 * Whole numbers with thousands separators ("1,234,567"), without Intl: the
 * first `toLocaleString` of a page loads ICU's number data, a main-thread
 * task of tens of milliseconds on a phone, on screens (onboarding, home)
 * that must be responsive at once.
 */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const sign = value < 0 ? '-' : '';
  const digits = Math.trunc(Math.abs(value)).toString();
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
