import { describe, expect, it } from 'vitest';
import { parseRelayConfig } from '#server/config.ts';

describe('relay configuration', () => {
  it('uses defaults, with the data directory under the user data dir and not the cwd', () => {
    const config = parseRelayConfig([], {});
    expect(config.port).toBe(8080);
    expect(config.p2pPort).toBe(8081);
    expect(config.host).toBe('0.0.0.0');
    expect(config.dataDir).toMatch(/ai-compute-network$/);
    expect(config.dataDir.startsWith(process.cwd())).toBe(false);
    expect(config.tls).toBeUndefined();
    expect(config.logLevel).toBe('info');
  });

  it('takes a flag over its environment variable over the default', () => {
    expect(parseRelayConfig([], { ACN_PORT: '9000' }).port).toBe(9000);
    expect(parseRelayConfig(['--port', '9100'], { ACN_PORT: '9000' }).port).toBe(9100);
    expect(parseRelayConfig(['--fee-bps', '250'], {}).ledger.feeBps).toBe(250);
    expect(parseRelayConfig([], { ACN_POW_DIFFICULTY: '12' }).ledger.powDifficulty).toBe(12);
    expect(parseRelayConfig(['--max-reservations', '50'], {}).p2p.maxReservations).toBe(50);
  });

  it.each([
    [['--port', '70000']],
    [['--port', 'abc']],
    [['--fee-bps', '-1']],
    [['--log-level', 'loud']],
    [['--tls-cert', 'cert.pem']],
    [['--public-url', 'relay.example']],
    [['--no-such-option']],
  ])('refuses %j with an error that names the option', (argv) => {
    expect(() => parseRelayConfig(argv, {})).toThrow();
  });

  it('bounds request headers and bodies in time, and admits the largest input by default', () => {
    const { limits } = parseRelayConfig([], {});
    expect(limits.headersTimeoutMs).toBe(10_000);
    expect(limits.requestTimeoutMs).toBe(60_000);
    // A 16 MiB input as base64url is about 21.3 MiB before its envelope and the JSON around it.
    expect(limits.maxBodyBytes).toBeGreaterThan(Math.ceil((16 * 1024 * 1024 * 4) / 3));
    const set = parseRelayConfig(['--headers-timeout', '2000'], { ACN_REQUEST_TIMEOUT_MS: '5000' }).limits;
    expect([set.headersTimeoutMs, set.requestTimeoutMs]).toEqual([2000, 5000]);
    expect(() => parseRelayConfig(['--headers-timeout', '5000', '--request-timeout', '4000'], {})).toThrow(
      /request-timeout/,
    );
    expect(() => parseRelayConfig(['--headers-timeout', '0'], {})).toThrow(/headers timeout/);
  });

  it('refuses bad environment values too', () => {
    expect(() => parseRelayConfig([], { ACN_GRANT: '0' })).toThrow(/grant/);
  });
});
