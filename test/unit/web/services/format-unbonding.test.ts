/**
 * The sentence the Wallet and Contribute screens show for unstaked tokens
 * still unbonding (web/services/format-unbonding.ts).
 */
import { describe, expect, it } from 'vitest';
import type { TxId } from '#core/identity/ids.ts';
import { unbondingText } from '#web/services/format-unbonding.ts';

const unstake = 'a'.repeat(64) as TxId;
const now = new Date(2026, 4, 3, 9, 0).getTime();

describe('unbondingText', () => {
  it('says nothing when nothing is unbonding', () => {
    expect(unbondingText(undefined, now)).toBeUndefined();
    expect(unbondingText([], now)).toBeUndefined();
  });

  it('adds up every unstake and names the time the last one is released', () => {
    const at = new Date(2026, 4, 3, 14, 32).getTime();
    const text = unbondingText(
      [
        { unstake, amount: 1200, releaseAt: at - 60_000 },
        { unstake, amount: 300, releaseAt: at },
      ],
      now,
    );
    expect(text).toMatch(/^1,500 unstaked tokens on hold until 14:32, /);
    expect(text).not.toMatch(/May/);
  });

  it('names the day when it is not today', () => {
    const at = new Date(2026, 4, 4, 8, 5).getTime();
    expect(unbondingText([{ unstake, amount: 1, releaseAt: at }], now)).toMatch(
      /^1 unstaked token on hold until 4 May 08:05, /,
    );
  });
});
