/**
 * How tests launch Debian's Chromium: the binary path (overridable with
 * CHROMIUM_PATH) and the flags that let it run as root on a machine with no
 * outside network.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
