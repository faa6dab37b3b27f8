/**
 * Who may change the relay itself (its resources today, any other control
 * later): only its operator. A request proves it is the operator in one of
 * two ways:
 *
 * - `Authorization: Bearer <token>`, the token the relay writes to
 *   `<dataDir>/operator.token` (32 random bytes as hex, mode 0600) on first
 *   start. Only someone who can read the data directory knows it, which is
 *   who runs the relay. Compared in constant time, so response times say
 *   nothing about how much of a guess was right.
 * - A body `{ control }`: a `relay/control` envelope signed with the relay's
 *   own key (`npm run relay -- resources set ...` makes one). It must name
 *   this relay and the change the endpoint makes, be fresh, and not have been
 *   accepted before: the relay keeps the ids it accepted for as long as their
 *   timestamp is fresh, and refuses anything signed before it started, so a
 *   copy of an old request cannot be sent again, even after a restart.
 *
 * Anything else is 401 `unauthorized`, checked before the change is decoded, so
 * an anonymous request learns nothing and changes nothing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import * as v from 'valibot';
import { equalBytes } from '#core/encoding/bytes.ts';
import { decodeEnvelope, MAX_ENVELOPE_BYTES, readMessage } from '#core/envelope/envelope.ts';
import { checkFreshness } from '#core/envelope/freshness.ts';
import type { AccountId, Hash } from '#core/identity/ids.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import {
  decodeRelayControlPayload,
  type RelayControlAction,
  type RelayControlPayload,
} from '#core/messages/relay-control.ts';
import { unwrap } from '#core/result.ts';
import { KeyFileError, loadOrCreateKeyFile } from '#node/key-file.ts';
import { HttpError } from './errors.ts';
import { base64Bytes, readBody } from './wire.ts';

/** The operator token's file inside the data directory. */
export const OPERATOR_TOKEN_FILE = 'operator.token';

/**
 * How far a signed control's timestamp may lie from the relay's clock. Short,
 * because the relay CLI signs just before it sends; the ids accepted within
 * it are what the relay remembers to refuse replays.
 */
export const CONTROL_WINDOW_MS = 2 * 60_000;

/** What an operator's request asks for: the raw body under the token, or the signed payload. */
export type OperatorChange<A extends RelayControlAction> =
  | { readonly via: 'token'; readonly body: unknown }
  | { readonly via: 'signed'; readonly payload: Extract<RelayControlPayload, { action: A }> };

export interface OperatorAuth {
  /**
   * The change `req` asks for when it comes from the operator; throws a typed
   * error (401 `unauthorized`, 409 `replayed`, 400 for a malformed control)
   * otherwise. A signed control is spent by this call.
   */
  authorize<A extends RelayControlAction>(req: Request, res: Response, action: A): OperatorChange<A>;
}

export interface OperatorAuthInit {
  /** The operator token (see {@link loadOrCreateOperatorToken}). */
  readonly token: string;
  /** The relay's public key: the only key whose controls count. */
  readonly relayPublicKey: Uint8Array;
  /** The network (the relay's account): controls signed for another relay are refused. */
  readonly network: AccountId;
  readonly verifier: Ed25519Verifier;
  /** When the relay started (ms): nothing signed before then is accepted. Default now. */
  readonly startedAt?: number;
  readonly now?: () => number;
}

const controlBody = v.strictObject({ control: base64Bytes(MAX_ENVELOPE_BYTES) });

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export function createOperatorAuth(init: OperatorAuthInit): OperatorAuth {
  if (!/^[0-9a-f]{64}$/.test(init.token))
    throw new TypeError('the operator token must be 64 lower-case hex characters');
  const now = init.now ?? Date.now;
  const startedAt = init.startedAt ?? now();
  // Hashing both sides gives equal lengths, which timingSafeEqual needs, whatever was sent.
  const tokenDigest = digest(init.token);
  /** Ids of accepted controls and their timestamps, kept while those stay fresh. */
  const spent = new Map<Hash, number>();

  function refuse(res: Response, message: string): never {
    res.setHeader('WWW-Authenticate', 'Bearer realm="acn-relay-operator"');
    throw new HttpError(401, 'unauthorized', message);
  }

  function signed<A extends RelayControlAction>(body: unknown, action: A): OperatorChange<A> {
    const bytes = readBody('relay control', controlBody, body).control;
    const envelope = unwrap(decodeEnvelope(bytes));
    // The key is compared before the signature is checked: strangers' envelopes cost no verification.
    if (!equalBytes(envelope.key, init.relayPublicKey)) {
      throw new HttpError(401, 'unauthorized', "the control is not signed with this relay's key");
    }
    const message = unwrap(readMessage(bytes, 'relay/control', decodeRelayControlPayload, init.verifier));
    const payload = message.payload;
    if (payload.net !== init.network) throw new HttpError(401, 'unauthorized', 'the control is for another network');
    // Widened to a string: with one action today the types say this never differs, but the next action makes it matter.
    const signedFor: string = payload.action;
    if (signedFor !== action) {
      throw new HttpError(401, 'unauthorized', `the control is for ${signedFor}, not ${action}`);
    }
    const at = now();
    unwrap(checkFreshness(payload.ts, at, { maxAgeMs: CONTROL_WINDOW_MS, maxFutureMs: CONTROL_WINDOW_MS }));
    if (payload.ts < startedAt) {
      throw new HttpError(409, 'replayed', 'the control was signed before this relay started; sign it again');
    }
    for (const [id, ts] of spent) if (ts < at - CONTROL_WINDOW_MS) spent.delete(id);
    if (spent.has(message.id)) throw new HttpError(409, 'replayed', 'this control was already applied');
    spent.set(message.id, payload.ts);
    return { via: 'signed', payload: payload as Extract<RelayControlPayload, { action: A }> };
  }

  return {
    authorize(req, res, action) {
      const header = req.headers.authorization;
      if (header !== undefined) {
        const match = /^Bearer +(\S+) *$/i.exec(header);
        const sent = match?.[1];
        if (sent === undefined) refuse(res, 'the Authorization header must be "Bearer <operator token>"');
        if (!timingSafeEqual(digest(sent), tokenDigest)) refuse(res, 'wrong operator token');
        return { via: 'token', body: req.body as unknown };
      }
      const body = req.body as unknown;
      if (typeof body === 'object' && body !== null && Object.hasOwn(body, 'control')) return signed(body, action);
      return refuse(
        res,
        `only the relay's operator can change it: send "Authorization: Bearer <${OPERATOR_TOKEN_FILE} in the data directory>", ` +
          'or use `npm run relay -- resources set ...`',
      );
    },
  };
}

/**
 * The operator token in `dataDir`, created on first start: 32 random bytes
 * as 64 hex characters, mode 0600. It has the same shape and the same safe
 * creation (temporary file, sync, link) as a key file, so it is made by the
 * same code. A file that holds something else is refused, not replaced: the
 * operator may have scripts that use it.
 */
export async function loadOrCreateOperatorToken(dataDir: string): Promise<{ token: string; path: string }> {
  const path = join(dataDir, OPERATOR_TOKEN_FILE);
  try {
    const { seed } = await loadOrCreateKeyFile(path, 'tighten');
    return { token: Buffer.from(seed).toString('hex'), path };
  } catch (error) {
    if (error instanceof KeyFileError) {
      throw new Error(
        `${path} is not an operator token (64 lower-case hex characters); delete it and restart to make a new one`,
        { cause: error },
      );
    }
    throw error;
  }
}
