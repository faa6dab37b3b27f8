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

  it('refuses bad environment values too', () => {
    expect(() => parseRelayConfig([], { ACN_GRANT: '0' })).toThrow(/grant/);
  });
});
