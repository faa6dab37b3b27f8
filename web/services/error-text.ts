/**
 * What to tell the user when something fails: what happened and what to do,
 * chosen by the error's `name` and `code` (never its message text). The
 * message of an unexpected error is shown as a detail, so nothing is hidden.
 */

/** A failure put into words for people. */
export interface ErrorText {
  readonly message: string;
  /** The error's stable code, for tests and support. */
  readonly code: string | undefined;
  /** Whether trying again unchanged may work. */
  readonly retry: boolean;
}

export const UNREACHABLE_TEXT =
  'The relay is unreachable. Check your connection; queued tasks are sent when you are back online.';

const BY_CODE: Readonly<Record<string, { readonly message: string; readonly retry: boolean }>> = {
  'relay-unreachable': { message: UNREACHABLE_TEXT, retry: true },
  'relay-key-mismatch': {
    message:
      'This relay shows another key than the one you joined. It may be an impostor: do not use it, and ask its operator for a new join link.',
    retry: false,
  },
  'relay-key-changed': {
    message:
      'This relay shows another key than the one you joined. It may be an impostor: do not use it, and ask its operator for a new join link.',
    retry: false,
  },
  'invalid-join-url': {
    message: 'The join link is damaged. Open the link or QR code from the relay again.',
    retry: false,
  },
  'invalid-response': {
    message: 'The relay sent an answer the app cannot read (a proxy or captive portal may be in the way). Try again.',
    retry: true,
  },
  'insufficient-funds': {
    message: 'Your balance is too low for this. Lower the amount, or earn tokens by contributing compute.',
    retry: false,
  },
  'already-granted': { message: 'This account has already received its welcome grant.', retry: false },
  'invalid-proof-of-work': { message: 'The relay did not accept the proof of work. Try again.', retry: true },
  'clock-skew': {
    message: "Your device's clock is off. Turn on automatic date and time, then try again.",
    retry: false,
  },
  'price-too-low': {
    message: 'The price of this model changed. Reload the model list and try again.',
    retry: false,
  },
  'unknown-model': {
    message: 'The relay no longer offers this model. Reload the model list and pick another.',
    retry: false,
  },
  'model-unreachable': {
    message:
      'The model could not be downloaded to this device: the relay is out of reach. Check your connection and try again. Once downloaded, the model runs here offline too.',
    retry: true,
  },
  'invalid-model-input': { message: 'The model cannot use this input.', retry: false },
  'too-large': { message: 'The input is too large. Use a smaller picture or fewer rows.', retry: false },
  'rate-limited': { message: 'The relay is busy. Wait a minute, then try again.', retry: true },
  'not-ready': { message: 'The relay is starting or stopping. Try again in a moment.', retry: true },
  'pool-busy': { message: 'The relay is busy. Wait a minute, then try again.', retry: true },
  'not-cancellable': { message: 'The task has already started, so it can no longer be cancelled.', retry: false },
  'task-failed': { message: 'The task ended without a result; your tokens were refunded.', retry: false },
  'not-stoppable': { message: 'The answer had already finished, so there was nothing to stop.', retry: false },
  'too-many-streams': { message: 'The relay is busy. Wait a minute, then try again.', retry: true },
  'proof-unavailable': {
    message: 'The relay has not recorded this payment in a block yet. Blocks follow within seconds: try again.',
    retry: true,
  },
  'backup-passphrase': {
    message: 'The passphrase is wrong, or the backup file was changed. Check the passphrase and try again.',
    retry: false,
  },
  'backup-format': { message: 'This file is not a backup of this app. Choose the file you saved.', retry: false },
  'crypto-unavailable': {
    message: 'This page is not on a secure (https) address, so it cannot encrypt a backup. Open the app over https.',
    retry: false,
  },
  'no-account-key': { message: 'There is no account on this device yet.', retry: false },
  'unreadable-image': {
    message: 'This file is not a picture this browser can open. Try a JPEG or PNG photo.',
    retry: false,
  },
};

/** The words for `error`. */
export function errorText(error: unknown): ErrorText {
  if (error instanceof DOMException && error.name === 'AbortError') {
    return { message: 'Cancelled.', code: 'aborted', retry: true };
  }
  if (error instanceof DOMException && error.name === 'TimeoutError') {
    return {
      message: 'The relay took too long to answer. Check your connection and try again.',
      code: 'timeout',
      retry: true,
    };
  }
  if (error instanceof DOMException && error.name === 'QuotaExceededError') {
    return {
      message: 'This device is out of storage for the app. Free some space and try again.',
      code: 'quota',
      retry: false,
    };
  }
  const code = codeOf(error);
  const known = code === undefined ? undefined : BY_CODE[code];
  const detail = error instanceof Error ? error.message : String(error);
  if (known) {
    // Input errors carry the pipeline's own reason, which says what to fix.
    const message =
      code === 'invalid-model-input' || code === 'too-large' ? `${known.message} ${detail}` : known.message;
    return { message, code, retry: known.retry };
  }
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 500) {
    return { message: `The relay failed (${detail}). Try again in a moment.`, code, retry: true };
  }
  return { message: `Something went wrong: ${detail}`, code, retry: true };
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
