/**
 * What the Wallet and Contribute screens say of unstaked tokens that are
 * still unbonding: how many, and from when they can be spent. They are held
 * back because a check of work done before the unstake may still find it
 * wrong, and they can still be slashed until then.
 */
import type { UnbondingView } from '#core/api/responses.ts';
import { formatCount } from './format-count.ts';

/** One plain sentence, or undefined when nothing is unbonding. `now` decides whether the date is shown. */
export function unbondingText(unbonding: readonly UnbondingView[] | undefined, now = Date.now()): string | undefined {
  if (unbonding === undefined || unbonding.length === 0) return undefined;
  const total = unbonding.reduce((sum, u) => sum + u.amount, 0);
  const until = Math.max(...unbonding.map((u) => u.releaseAt));
  const noun = total === 1 ? 'token' : 'tokens';
  return `${formatCount(total)} unstaked ${noun} on hold until ${when(until, now)}, in case earlier work is found wrong`;
}

/** "14:32" today, "3 May 14:32" on another day. */
function when(at: number, now: number): string {
  const date = new Date(at);
  const time = date.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
  if (date.toDateString() === new Date(now).toDateString()) return time;
  return `${date.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' })} ${time}`;
}
