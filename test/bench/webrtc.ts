/**
 * Browser to browser over WebRTC, for `npm run bench`: two pages in headless
 * Chromium (test/support/webrtc-page/), joined through the real relay process
 * on loopback. Page A makes 50 fresh dials to page B's `/p2p-circuit/webrtc`
 * address, one after the other; on each connection it times dial start to the
 * first byte echoed back on a new stream (what a task's first byte costs on a
 * new connection), then 20 warm round trips of 32 bytes on that stream.
 */
import { openWebrtcPair, summarizeDials } from '#test/webrtc-page/webrtc-pair.ts';

type Log = (line: string) => void;

// Targets from the issue.
const TARGET_COLD_P50_MS = 400;
const TARGET_WARM_P50_MS = 15;
const DIALS = 50;
const ECHOES_PER_CONNECTION = 20;

export async function webrtcSection(log: Log): Promise<void> {
  log('webrtc: starting the relay, a vite dev server and two Chromium pages');
  const pair = await openWebrtcPair();
  try {
    log(`webrtc: ${DIALS} dials from page A to page B`);
    const report = await pair.dialLoop({
      dials: DIALS,
      timeoutMs: 10_000,
      echoes: ECHOES_PER_CONNECTION,
      budgetMs: 120_000,
    });
    const s = summarizeDials(report);
    const ms = (n: number) => (Number.isNaN(n) ? '–' : n.toFixed(1));
    const allOk = s.succeeded === DIALS && s.direct === DIALS;
    console.log('\n### WebRTC: browser to browser through the relay (headless Chromium, loopback)\n');
    console.log('| measure | value | target | |');
    console.log('|---|---:|---:|---|');
    console.log(
      `| dials succeeded (direct WebRTC, not relayed) | ${s.succeeded}/${DIALS} (${s.direct} direct) | 100% | ${allOk ? 'PASS' : 'FAIL'} |`,
    );
    console.log(
      `| cold: dial to first echoed byte, p50 | ${ms(s.coldP50Ms)} ms | < ${TARGET_COLD_P50_MS} ms | ${s.coldP50Ms < TARGET_COLD_P50_MS ? 'PASS' : 'FAIL'} |`,
    );
    console.log(`| cold: dial to first echoed byte, p95 | ${ms(s.coldP95Ms)} ms | | |`);
    console.log(
      `| warm round trip (32 B), p50 of ${s.succeeded * ECHOES_PER_CONNECTION} | ${ms(s.warmP50Ms)} ms | < ${TARGET_WARM_P50_MS} ms | ${s.warmP50Ms < TARGET_WARM_P50_MS ? 'PASS' : 'FAIL'} |`,
    );
    if (s.errors.length > 0) console.log(`\nFailures: ${s.errors.join('; ')}`);
  } finally {
    await pair.close();
  }
}
