/**
 * The relay's configuration: the only module that reads flags and the
 * environment. Every option is a flag with an environment variable; a flag
 * wins over the variable, the variable over the default. Everything else in
 * the relay receives the typed {@link RelayConfig}.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import envPaths from 'env-paths';
import { DEFAULT_LEDGER_PARAMS, DEFAULT_UNBONDING_MS, MAX_UNBONDING_MS } from '#core/ledger/genesis.ts';
import { DEFAULT_CANARY_RATE, DEFAULT_RECHECK_RATE } from './trust/trust-defaults.ts';
import { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS } from './http/server-options.ts';
import { MAX_API_BODY_BYTES } from './http/wire.ts';

export { LOG_LEVELS, type LogLevel } from '#node/log.ts';
import { LOG_LEVELS, type LogLevel } from '#node/log.ts';

export interface RelayConfig {
  /** Interface the HTTP server and the libp2p listener bind to. */
  readonly host: string;
  /** HTTP(S) port for the app, the API and the event WebSocket. */
  readonly port: number;
  /** libp2p WebSocket port. */
  readonly p2pPort: number;
  /** The URL phones use, when the relay sits behind a proxy or tunnel (https://…). */
  readonly publicUrl: string | undefined;
  /** Where the ledger, the relay key and the models live. */
  readonly dataDir: string;
  readonly tls: { readonly cert: string; readonly key: string } | undefined;
  readonly ledger: {
    /** The relay's fee on each settlement, in basis points. */
    readonly feeBps: number;
    /** Tokens granted to each onboarded account. */
    readonly grantAmount: number;
    /** Proof-of-work difficulty for onboarding, in bits. */
    readonly powDifficulty: number;
    /** Stake a worker must hold to be paid. */
    readonly minWorkerStake: number;
    /** How long unstaked tokens stay slashable before release; undefined: the genesis's (a new one gets the default). */
    readonly unbondingMs: number | undefined;
    /** Longest wait before pending transactions go into a block. */
    readonly blockIntervalMs: number;
  };
  readonly p2p: {
    readonly maxReservations: number;
    readonly reservationTtlMs: number;
    readonly maxConnections: number;
    readonly maxIncomingPending: number;
    /** New inbound connections accepted per second from one IP (phones behind one carrier NAT share an IP). */
    readonly inboundPerIpPerSecond: number;
  };
  readonly limits: {
    /** Largest request body, in bytes. */
    readonly maxBodyBytes: number;
    /** Requests per minute from one IP. */
    readonly perIpPerMinute: number;
    /** Task submissions per minute from one account. */
    readonly perAccountPerMinute: number;
    /** Most ms a client may take to send a request's headers (slowloris). */
    readonly headersTimeoutMs: number;
    /** Most ms a client may take to send a whole request, body included; not a limit on answers or WebSockets. */
    readonly requestTimeoutMs: number;
  };
  /** Checks on untrusted workers. */
  readonly trust: {
    /** Share (0 to 1) of dispatches to a worker that a known-answer canary joins. */
    readonly canaryRate: number;
    /** Share (0 to 1) of worker results re-run before settlement. */
    readonly recheckRate: number;
  };
  readonly logLevel: LogLevel;
  /** `auto`: build the app at start when dist/app is missing or stale; `skip`: serve whatever is there. */
  readonly appBuild: AppBuildMode;
}

export const APP_BUILD_MODES = ['auto', 'skip'] as const;
export type AppBuildMode = (typeof APP_BUILD_MODES)[number];

const int =
  (name: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  (value: string) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}.`);
    }
    return n;
  };

const share = (name: string) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new InvalidArgumentError(`${name} must be a number from 0 to 1.`);
  }
  return n;
};

/** The options, each with its environment variable and default. */
export function relayOptions(): Option[] {
  const defaults = DEFAULT_LEDGER_PARAMS;
  return [
    new Option('--host <host>', 'interface to listen on').env('ACN_HOST').default('0.0.0.0'),
    new Option('--port <port>', 'HTTP(S) port')
      .env('ACN_PORT')
      .default(8080)
      .argParser(int('port', 0, 65535)),
    new Option('--p2p-port <port>', 'libp2p WebSocket port (default: HTTP port + 1)')
      .env('ACN_P2P_PORT')
      .argParser(int('p2p port', 0, 65535)),
    new Option('--public-url <url>', 'URL phones use to reach this relay (https://…)').env('ACN_PUBLIC_URL'),
    new Option('--data-dir <dir>', 'where the ledger, the relay key and models are kept')
      .env('ACN_DATA_DIR')
      .default(envPaths('ai-compute-network', { suffix: '' }).data),
    new Option('--tls-cert <file>', 'TLS certificate (PEM); serve HTTPS and announce wss').env('ACN_TLS_CERT'),
    new Option('--tls-key <file>', 'TLS private key (PEM)').env('ACN_TLS_KEY'),
    new Option('--fee-bps <bps>', 'relay fee on each settlement, in basis points')
      .env('ACN_FEE_BPS')
      .default(defaults.feeBps)
      .argParser(int('fee', 0, 5000)),
    new Option('--grant <tokens>', 'tokens granted to each new account')
      .env('ACN_GRANT')
      .default(defaults.grantAmount)
      .argParser(int('grant', 1)),
    new Option('--pow-difficulty <bits>', 'onboarding proof-of-work difficulty in bits')
      .env('ACN_POW_DIFFICULTY')
      .default(defaults.minPowDifficulty)
      .argParser(int('difficulty', 0, 40)),
    new Option('--min-worker-stake <tokens>', 'stake a worker needs to be paid')
      .env('ACN_MIN_WORKER_STAKE')
      .default(defaults.minWorkerStake)
      .argParser(int('stake', 0)),
    // No default: a ledger made before unbonding keeps its instant unstakes rather than refusing to start.
    new Option(
      '--unbonding <ms>',
      `how long unstaked tokens stay slashable before they are released (a new ledger gets ${DEFAULT_UNBONDING_MS})`,
    )
      .env('ACN_UNBONDING_MS')
      .argParser(int('unbonding', 0, MAX_UNBONDING_MS)),
    new Option('--block-interval <ms>', 'longest wait before a block is produced')
      .env('ACN_BLOCK_INTERVAL_MS')
      .default(2000)
      .argParser(int('block interval', 50, 600_000)),
    new Option('--max-reservations <n>', 'circuit-relay reservations held at once')
      .env('ACN_MAX_RESERVATIONS')
      .default(1024)
      .argParser(int('max reservations', 1)),
    new Option('--reservation-ttl <ms>', 'how long a reservation lasts')
      .env('ACN_RESERVATION_TTL_MS')
      .default(30 * 60_000)
      .argParser(int('reservation ttl', 1000)),
    new Option('--max-connections <n>', 'libp2p connections held at once')
      .env('ACN_MAX_CONNECTIONS')
      .default(10_000)
      .argParser(int('max connections', 1)),
    new Option('--max-incoming-pending <n>', 'libp2p connections being set up at once')
      .env('ACN_MAX_INCOMING_PENDING')
      .default(256)
      .argParser(int('max incoming pending', 1)),
    new Option('--inbound-per-ip <n>', 'new libp2p connections per second from one IP')
      .env('ACN_INBOUND_PER_IP')
      .default(1000)
      .argParser(int('inbound per ip', 1)),
    new Option('--max-body <bytes>', 'largest request body (default: a 16 MiB input as base64url, about 21.4 MiB)')
      .env('ACN_MAX_BODY_BYTES')
      .default(MAX_API_BODY_BYTES)
      .argParser(int('max body', 1024)),
    new Option('--headers-timeout <ms>', 'most time a client may take to send request headers')
      .env('ACN_HEADERS_TIMEOUT_MS')
      .default(DEFAULT_HEADERS_TIMEOUT_MS)
      .argParser(int('headers timeout', 100, 600_000)),
    new Option('--request-timeout <ms>', 'most time a client may take to send a whole request, body included')
      .env('ACN_REQUEST_TIMEOUT_MS')
      .default(DEFAULT_REQUEST_TIMEOUT_MS)
      .argParser(int('request timeout', 100, 3_600_000)),
    new Option('--rate-ip <n>', 'requests per minute from one IP')
      .env('ACN_RATE_PER_IP')
      .default(6000)
      .argParser(int('rate per ip', 1)),
    new Option('--rate-account <n>', 'task submissions per minute from one account')
      .env('ACN_RATE_PER_ACCOUNT')
      .default(600)
      .argParser(int('rate per account', 1)),
    new Option('--canary-rate <share>', 'share (0 to 1) of dispatches to a worker joined by a known-answer canary')
      .env('ACN_CANARY_RATE')
      .default(DEFAULT_CANARY_RATE)
      .argParser(share('canary rate')),
    new Option('--recheck-rate <share>', 'share (0 to 1) of worker results re-run before settlement')
      .env('ACN_RECHECK_RATE')
      .default(DEFAULT_RECHECK_RATE)
      .argParser(share('recheck rate')),
    new Option('--log-level <level>', 'log level').env('ACN_LOG_LEVEL').choices(LOG_LEVELS).default('info'),
    new Option('--app-build <mode>', 'build the app at start when missing or stale (auto), or never (skip)')
      .env('ACN_APP_BUILD')
      .choices(APP_BUILD_MODES)
      .default('auto'),
  ];
}

interface ParsedOptions {
  host: string;
  port: number;
  p2pPort?: number;
  publicUrl?: string;
  dataDir: string;
  tlsCert?: string;
  tlsKey?: string;
  feeBps: number;
  grant: number;
  powDifficulty: number;
  minWorkerStake: number;
  unbonding?: number;
  blockInterval: number;
  maxReservations: number;
  reservationTtl: number;
  maxConnections: number;
  maxIncomingPending: number;
  inboundPerIp: number;
  maxBody: number;
  headersTimeout: number;
  requestTimeout: number;
  rateIp: number;
  rateAccount: number;
  canaryRate: number;
  recheckRate: number;
  logLevel: LogLevel;
  appBuild: AppBuildMode;
}

/** Builds the typed config from commander's parsed options. Throws InvalidArgumentError on inconsistent ones. */
export function toRelayConfig(options: ParsedOptions): RelayConfig {
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new InvalidArgumentError('--tls-cert and --tls-key go together.');
  }
  if (options.requestTimeout < options.headersTimeout) {
    throw new InvalidArgumentError('--request-timeout must be at least --headers-timeout.');
  }
  if (options.publicUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(options.publicUrl)) {
    throw new InvalidArgumentError('--public-url must be an http:// or https:// URL.');
  }
  return {
    host: options.host,
    port: options.port,
    p2pPort: options.p2pPort ?? (options.port === 0 ? 0 : options.port + 1),
    publicUrl: options.publicUrl,
    dataDir: options.dataDir,
    tls:
      options.tlsCert !== undefined && options.tlsKey !== undefined
        ? { cert: options.tlsCert, key: options.tlsKey }
        : undefined,
    ledger: {
      feeBps: options.feeBps,
      grantAmount: options.grant,
      powDifficulty: options.powDifficulty,
      minWorkerStake: options.minWorkerStake,
      unbondingMs: options.unbonding,
      blockIntervalMs: options.blockInterval,
    },
    p2p: {
      maxReservations: options.maxReservations,
      reservationTtlMs: options.reservationTtl,
      maxConnections: options.maxConnections,
      maxIncomingPending: options.maxIncomingPending,
      inboundPerIpPerSecond: options.inboundPerIp,
    },
    limits: {
      maxBodyBytes: options.maxBody,
      perIpPerMinute: options.rateIp,
      perAccountPerMinute: options.rateAccount,
      headersTimeoutMs: options.headersTimeout,
      requestTimeoutMs: options.requestTimeout,
    },
    trust: { canaryRate: options.canaryRate, recheckRate: options.recheckRate },
    logLevel: options.logLevel,
    appBuild: options.appBuild,
  };
}

/** Adds every relay option to a commander command. */
export function withRelayOptions(command: Command): Command {
  for (const option of relayOptions()) command.addOption(option);
  return command;
}

/** Parses argv (and the environment, through commander) into a config. For tests and embedding. */
export function parseRelayConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const saved = process.env;
  process.env = env;
  try {
    const command = withRelayOptions(new Command('relay'))
      .exitOverride()
      .configureOutput({ writeErr: () => undefined });
    command.parse([...argv], { from: 'user' });
    return toRelayConfig(command.opts<ParsedOptions>());
  } finally {
    process.env = saved;
  }
}
