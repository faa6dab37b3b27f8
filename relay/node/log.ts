/** The relay's logger: JSON lines, pretty-printed on a terminal, secrets redacted. */
import { pino, type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function createLogger(level: LogLevel, pretty = process.stdout.isTTY): Logger {
  return pino({
    level,
    redact: {
      paths: ['secretKey', '*.secretKey', 'privateKey', '*.privateKey', 'req.headers.authorization'],
      censor: '[redacted]',
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } } } : {}),
  });
}
