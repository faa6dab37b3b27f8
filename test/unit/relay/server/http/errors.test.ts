/**
 * The HTTP layer's one table of statuses: each typed error leaves with the
 * status of its code, the direct path's refusals included, and a 500 hides
 * its details.
 */
import { describe, expect, it } from 'vitest';
import { BadSignatureError } from '#core/envelope/errors.ts';
import { InsufficientFundsError } from '#core/ledger/errors.ts';
import { DirectMessageError } from '#core/messages/assignment.ts';
import { InferenceFailedError, PoolBusyError } from '#node/pool/errors.ts';
import { HttpError, STATUS_BY_CODE, toHttpError } from '#server/http/errors.ts';
import { CommitFailedError, StoreClosedError } from '#server/ledger/errors.ts';
import { DirectPathError, NotCancellableError, type DirectPathErrorCode } from '#server/task-service/errors.ts';

describe('toHttpError', () => {
  it.each([
    ['not-direct', 409],
    ['direct-closed', 409],
    ['already-answered', 409],
    ['assignment-expired', 409],
    ['bad-receipt', 400],
    ['wrong-signer', 403],
    ['output-mismatch', 400],
    ['worker-unstaked', 409],
    ['invalid-fallback', 400],
    ['forbidden', 403],
  ] as const)(
    'answers the direct path’s %s with %i and its own code and message',
    (code: DirectPathErrorCode, status) => {
      const error = new DirectPathError(code, 'why');
      expect(error).not.toHaveProperty('status');
      expect(toHttpError(error)).toEqual({ status, body: { error: { code, message: 'why' } } });
    },
  );

  it('answers typed errors of every family with the status of their code', () => {
    expect(toHttpError(new BadSignatureError('x')).status).toBe(401);
    expect(toHttpError(new InsufficientFundsError('x')).status).toBe(402);
    expect(toHttpError(new DirectMessageError('wrong-task', 'x')).status).toBe(400);
    expect(toHttpError(new NotCancellableError('x')).status).toBe(409);
    expect(toHttpError(new PoolBusyError('x'))).toEqual({
      status: 503,
      body: { error: { code: 'pool-busy', message: 'x' } },
    });
    expect(toHttpError(new CommitFailedError('x')).status).toBe(503);
    expect(toHttpError(new HttpError(429, 'rate-limited', 'x')).status).toBe(429);
  });

  it('hides the details of a 500', () => {
    for (const error of [new InferenceFailedError('secret'), new StoreClosedError('secret')]) {
      const { status, body } = toHttpError(error);
      expect(status).toBe(500);
      expect(body.error.code).toBe(error.code);
      expect(body.error.message).not.toContain('secret');
    }
    expect(toHttpError(new Error('secret'))).toMatchObject({ status: 500, body: { error: { code: 'internal' } } });
  });

  it('holds a status for every code', () => {
    for (const status of Object.values(STATUS_BY_CODE))
      expect([400, 401, 402, 403, 404, 409, 413, 500, 503]).toContain(status);
  });
});
