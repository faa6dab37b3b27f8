/**
 * Why the browser worker refuses a task or cannot start. Each condition is
 * its own class, told apart by `name`; the `code` goes back to the relay in a
 * task answer (`{ error: { code, message } }`).
 */

/** A task this worker will not (or could not) run; the relay runs it elsewhere. Every desktop worker refuses with it. */
export { TaskRefusedError, type TaskRefusalCode } from '#client/worker-session/errors.ts';

/** The account holds too few tokens to stake what the relay requires of a paid worker. */
export class StakeUnavailableError extends Error {
  override readonly name = 'StakeUnavailableError';
  readonly code = 'insufficient-balance';
  /** Tokens still needed. */
  readonly missing: number;
  constructor(missing: number, message: string) {
    super(message);
    this.missing = missing;
  }
}

/** The relay's libp2p identity is not the network the app is pinned to. */
export class RelayIdentityError extends Error {
  override readonly name = 'RelayIdentityError';
  readonly code = 'relay-identity';
}
