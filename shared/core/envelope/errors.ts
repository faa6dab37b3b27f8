import { AcnError } from '../errors.ts';

/** A signature does not verify for the claimed key, message type and bytes. */
export class BadSignatureError extends AcnError {
  override readonly name = 'BadSignatureError';
  readonly code = 'bad-signature';
}

/** An envelope of one message type was offered where another was expected. */
export class WrongMessageTypeError extends AcnError {
  override readonly name = 'WrongMessageTypeError';
  readonly code = 'wrong-message-type';
}

/** A timestamp lies outside the accepted clock-skew window. */
export class ClockSkewError extends AcnError {
  override readonly name = 'ClockSkewError';
  readonly code = 'clock-skew';
}
