/** The relay's logger: JSON lines, pretty-printed on a terminal, secrets redacted. */
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.ts';

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
