/**
 * Turns generated token bytes into text as it streams: a multi-byte UTF-8
 * character split across tokens is held until its last byte arrives, and
 * text that could be the start of a stop string is held until it either
 * completes the stop string (generation ends there, the stop string is not
 * shown) or stops matching.
 */

export interface TextStream {
  /** Adds a token's bytes; returns the text that is now final (possibly ''). */
  push(bytes: Uint8Array): string;
  /** Whether a stop string has appeared; the text before it was returned, nothing after it will be. */
  readonly stopped: boolean;
  /** Ends the stream: returns what was held back (an incomplete character becomes U+FFFD). */
  flush(): string;
}

export function createTextStream(stop: readonly string[] = []): TextStream {
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const stops = stop.filter((s) => s.length > 0);
  let held = '';
  let stopped = false;

  /** How much of the end of `text` could still grow into a stop string. */
  const holdLength = (text: string): number => {
    let hold = 0;
    for (const s of stops) {
      for (let n = Math.min(s.length - 1, text.length); n > hold; n--) {
        if (text.endsWith(s.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    return hold;
  };

  const release = (text: string): string => {
    let cut = -1;
    for (const s of stops) {
      const at = text.indexOf(s);
      if (at !== -1 && (cut === -1 || at < cut)) cut = at;
    }
    if (cut !== -1) {
      stopped = true;
      held = '';
      return text.slice(0, cut);
    }
    const hold = holdLength(text);
    held = text.slice(text.length - hold);
    return text.slice(0, text.length - hold);
  };

  return {
    push(bytes) {
      if (stopped) return '';
      return release(held + decoder.decode(bytes, { stream: true }));
    },
    get stopped() {
      return stopped;
    },
    flush() {
      if (stopped) return '';
      const rest = held + decoder.decode();
      held = '';
      const out = release(rest);
      // A held prefix that never completed its stop string is ordinary text after all ('' after a stop).
      const tail = held;
      held = '';
      return out + tail;
    },
  };
}
