/**
 * Ledger endpoints: onboarding (proof-of-work for a grant), balances, signed
 * transactions, block headers and Merkle inclusion proofs for light clients;
 * and the signed-transaction route again as a request lane, for throughput.
 */
import express, { type Router } from 'express';
import * as v from 'valibot';
import { MAX_ENVELOPE_BYTES } from '#core/envelope/envelope.ts';
import { accountIdFromPublicKey, parseAccountId, parseTxId } from '#core/identity/ids.ts';
import { unwrap } from '#core/result.ts';
import type { LedgerService, Submitted } from '../ledger/ledger-service.ts';
import { HttpError } from './errors.ts';
import { NO_ROUTE, type RelayMetrics } from './metrics.ts';
import { enforceRateLimit, ipRateKey, type RateLimiter } from './rate-limit.ts';
import { isPlainJsonRequest, readJsonBody, type RequestLane } from './request-lane.ts';
import { b64, base64Bytes, readBody } from './wire.ts';

const onboardSchema = v.strictObject({
  publicKey: base64Bytes(32),
  pow: v.strictObject({
    nonce: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
    difficulty: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(64)),
  }),
});

const txSchema = v.strictObject({ tx: base64Bytes(MAX_ENVELOPE_BYTES) });

export function createLedgerApi(ledger: LedgerService): Router {
  const api = express.Router();

  /** The puzzle a new account solves (see shared/pow). */
  api.get('/onboard', (_req, res) => {
    res.json({ network: ledger.network, difficulty: ledger.params.minPowDifficulty, grant: ledger.params.grantAmount });
  });

  api.post('/onboard', async (req, res) => {
    const body = readBody('onboarding', onboardSchema, req.body);
    if (body.publicKey.length !== 32) throw new HttpError(400, 'bad-request', 'publicKey must be 32 bytes');
    const account = accountIdFromPublicKey(body.publicKey);
    const submitted = unwrap(
      await ledger.submitSigned('tx/grant', { to: account, amount: ledger.params.grantAmount, pow: body.pow }),
    );
    res.status(201).json({ account, balance: ledger.balance(account), tx: submitted.id });
  });

  api.post('/ledger/tx', async (req, res) => {
    const submitted = await submitTx(ledger, req.body);
    res.status(201).json({ id: submitted.id, seq: submitted.seq });
  });

  api.get('/ledger/balance/:account', (req, res) => {
    const account = unwrap(parseAccountId(req.params.account));
    const record = ledger.account(account);
    res.json({
      account,
      balance: record.balance,
      stake: record.stake,
      seq: record.seq,
      reputation: record.reputation,
      granted: record.granted,
      unbonding: ledger.unbonding(account),
    });
  });

  api.get('/ledger/blocks', async (req, res) => {
    const from = pageNumber(req.query.from, 1, 'from');
    const limit = Math.min(pageNumber(req.query.limit, 100, 'limit'), 1000);
    const blocks = await ledger.blocks({ fromHeight: from, limit });
    const last = blocks.at(-1);
    res.json({
      height: ledger.height,
      blocks: blocks.map((b) => ({ height: b.height, id: b.id, txCount: b.txCount, header: b64(b.header) })),
      next: last && last.height < ledger.height ? last.height + 1 : null,
    });
  });

  api.get('/ledger/tx/:id', async (req, res) => {
    const id = unwrap(parseTxId(req.params.id));
    const tx = await ledger.tx(id);
    if (!tx) throw new HttpError(404, 'not-found', 'no such transaction');
    res.json({ id: tx.id, type: tx.type, seq: tx.seq, block: tx.block ?? null, tx: b64(tx.bytes) });
  });

  api.get('/ledger/proof/:tx', async (req, res) => {
    const id = unwrap(parseTxId(req.params.tx));
    const proof = await ledger.proof(id);
    if (!proof) {
      throw new HttpError(
        404,
        'not-found',
        'the transaction is unknown or not in a block yet; blocks follow within seconds',
      );
    }
    res.json({ height: proof.height, header: b64(proof.header), tx: b64(proof.tx), proof: proof.proof });
  });

  return api;
}

export interface TxSubmitLaneInit {
  readonly ledger: LedgerService;
  /** Largest request body in bytes: the API router's JSON limit (`--max-body`). */
  readonly maxBodyBytes: number;
  /** The API router's per-IP limiter, so both paths draw on the same buckets. Default: no IP limit. */
  readonly ipLimiter?: RateLimiter;
  /** Times the lane's requests like the metrics middleware. Default: untimed. */
  readonly metrics?: Pick<RelayMetrics, 'timeRequest'>;
}

/** Where the API router answers signed submissions, and the metrics label express gives that route. */
const TX_PATH = '/api/ledger/tx';

/**
 * `POST /api/ledger/tx`, the hottest route, as a request lane: the steps the
 * express path takes for it (the API router's JSON parser, then its per-IP
 * limit, then the route above), without express's cost. A middleware added to
 * the API router ahead of the ledger routes must be added here too.
 */
export function createTxSubmitLane(init: TxSubmitLaneInit): RequestLane {
  const { ledger, maxBodyBytes, ipLimiter, metrics } = init;
  return (req, res, http) => {
    if (req.method !== 'POST' || req.url !== TX_PATH || !isPlainJsonRequest(req)) return false;
    let route = NO_ROUTE;
    metrics?.timeRequest(req, res, () => route);
    void (async () => {
      try {
        const body = await readJsonBody(req, maxBodyBytes);
        if (ipLimiter !== undefined) enforceRateLimit(ipLimiter, ipRateKey(http.clientIp(req)), res);
        route = TX_PATH;
        const submitted = await submitTx(ledger, body);
        http.sendJson(res, 201, { id: submitted.id, seq: submitted.seq });
      } catch (error) {
        http.fail(req, res, error);
      }
    })();
    return true;
  };
}

/** Reads `{ tx }` and submits it: the route's work, on either path. Throws the typed error of a refusal. */
async function submitTx(ledger: LedgerService, body: unknown): Promise<Submitted> {
  const { tx } = readBody('transaction', txSchema, body);
  return unwrap(await ledger.submit(tx));
}

function pageNumber(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isSafeInteger(n) || n < 1) {
    throw new HttpError(400, 'bad-request', `${name} must be a whole number from 1`);
  }
  return n;
}
