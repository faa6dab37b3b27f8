/**
 * Browser to browser over WebRTC through the real relay, many dials in a row.
 *
 * @libp2p/webrtc 6.0.33 hangs about one dial in five until the dial times out
 * (its init data channel can close before the dialer sees it open); the fix
 * lives in relay/patches/. Fifty fresh dials with none failing would have
 * hit that race ten times over, so this test fails without the patch.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openWebrtcPair, summarizeDials, type WebrtcPair } from '#test/webrtc-page/webrtc-pair.ts';

const DIALS = 50;

let pair: WebrtcPair | undefined;

beforeAll(async () => {
  pair = await openWebrtcPair();
}, 90_000);

afterAll(async () => {
  await pair?.close();
}, 30_000);

test(`${DIALS} browser-to-browser WebRTC dials through the relay all connect directly`, async () => {
  if (pair === undefined) throw new Error('pair not opened');
  // 10 s per dial (a loopback dial takes well under 1 s); stop starting dials after 80 s so the test stays under 2 min.
  const report = await pair.dialLoop({ dials: DIALS, timeoutMs: 10_000, echoes: 5, budgetMs: 80_000 });
  const summary = summarizeDials(report);
  console.log(
    `webrtc dials: ${summary.succeeded}/${DIALS} ok, ${summary.direct} direct; ` +
      `cold dial to first echoed byte p50 ${summary.coldP50Ms.toFixed(0)} ms, p95 ${summary.coldP95Ms.toFixed(0)} ms; ` +
      `warm echo p50 ${summary.warmP50Ms.toFixed(1)} ms`,
  );
  expect({ notAttempted: report.notAttempted, errors: summary.errors, pageErrors: pair.pageErrors() }).toEqual({
    notAttempted: 0,
    errors: [],
    pageErrors: [],
  });
  expect(summary.succeeded).toBe(DIALS);
  expect(summary.direct).toBe(DIALS);
  expect(summary.distinctConnections).toBe(DIALS);
}, 110_000);
