/**
 * Why the browser worker should pause now: the tab is hidden
 * (`document.visibilityState`) or the device runs on battery (Battery Status
 * API, where the browser has it; elsewhere the device counts as plugged in).
 * Each rule applies only when the allocation asks for it
 * (`pauseWhenHidden`, `pauseOnBattery`) and the user has not chosen to keep
 * running anyway.
 */

export type PauseReason = 'hidden' | 'battery';

export interface PauseRules {
  readonly pauseWhenHidden: boolean;
  readonly pauseOnBattery: boolean;
  /** Keep running when hidden or on battery, whatever the rules say. */
  readonly keepRunning: boolean;
}

export interface PauseWatch {
  /** The reason to pause now, or undefined. */
  reason(): PauseReason | undefined;
  setRules(rules: PauseRules): void;
  stop(): void;
}

interface BatteryLike extends EventTarget {
  readonly charging: boolean;
}

export function watchPause(
  rules: PauseRules,
  onChange: (reason: PauseReason | undefined) => void,
  env: { readonly document: Document; readonly navigator: Navigator } = { document, navigator },
): PauseWatch {
  let current = rules;
  let battery: BatteryLike | undefined;
  let last: PauseReason | undefined;
  const stopped = new AbortController();

  const reason = (): PauseReason | undefined => {
    if (current.keepRunning) return undefined;
    if (current.pauseWhenHidden && env.document.visibilityState === 'hidden') return 'hidden';
    if (current.pauseOnBattery && battery !== undefined && !battery.charging) return 'battery';
    return undefined;
  };
  const check = (): void => {
    const next = reason();
    if (next === last) return;
    last = next;
    onChange(next);
  };
  last = reason();

  env.document.addEventListener('visibilitychange', check, { signal: stopped.signal });
  const getBattery = (env.navigator as Navigator & { getBattery?: () => Promise<BatteryLike> }).getBattery;
  if (typeof getBattery === 'function') {
    getBattery
      .call(env.navigator)
      .then((b) => {
        if (stopped.signal.aborted) return;
        battery = b;
        b.addEventListener('chargingchange', check, { signal: stopped.signal });
        check();
      })
      .catch(() => undefined); // no battery information: never paused for it
  }
  return {
    reason,
    setRules(next) {
      current = next;
      check();
    },
    stop() {
      stopped.abort();
    },
  };
}
