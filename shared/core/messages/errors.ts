import { AcnError } from '../errors.ts';

/** One problem found in a message: where (a dotted path) and what. */
export interface MessageIssue {
  readonly path: string;
  readonly message: string;
}

/** A decoded value does not match its message schema (missing field, wrong type, over a cap). */
export class InvalidMessageError extends AcnError {
  override readonly name = 'InvalidMessageError';
  readonly code = 'invalid-message';
  readonly issues: readonly MessageIssue[];

  constructor(family: string, issues: readonly MessageIssue[]) {
    const first = issues[0];
    super(`invalid ${family}${first ? `: ${first.path || '(root)'} ${first.message}` : ''}`);
    this.issues = issues;
  }
}
