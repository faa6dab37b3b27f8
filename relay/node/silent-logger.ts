/**
 * A libp2p logger that logs nothing and allocates nothing per connection.
 *
 * libp2p names a logger for every connection and every stream
 * (`…:connection:inbound:<id>:yamux:inbound:3`); its default `debug`-based
 * logger builds three `debug` instances and their namespace strings for each,
 * whether or not debugging is on: several KiB per idle peer on a relay. The
 * relay uses this logger unless `DEBUG` is set, when libp2p's own takes over.
 */
import type { ComponentLogger, Logger } from '@libp2p/interface';

const silent: Logger = Object.assign(() => undefined, {
  error: () => undefined,
  trace: () => undefined,
  enabled: false,
  newScope: () => silent,
});

export const silentLogger: ComponentLogger = {
  forComponent: () => silent,
};
