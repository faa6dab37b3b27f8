/**
 * Request lanes: a hot route answered straight from node:http, ahead of
 * express. Express costs about 0.15 ms of CPU per request before a handler
 * runs (prototype swaps, the router's layer walk, body-parser's machinery,
 * `res.json`'s ETag), as much as the rest of a signed submission; a lane
 * costs a few microseconds.
 *
 * A lane must answer exactly as the express route would (status, JSON body,
 * the app's security headers, rate limits, metrics) and takes only the
 * requests it can answer alike: anything unusual (another content type, a
 * compressed body, no body) it leaves to express by returning false before it
 * touches the request. The app gives each lane a {@link LaneContext} with
 * the parts the express app would have applied.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './errors.ts';

/** What the app lends its lanes: the same client address, headers and error answers as its express routes. */
export interface LaneContext {
  /** The client's address, as express's `req.ip` gives it (honouring the app's `trust proxy`). */
  clientIp(req: IncomingMessage): string;
  /** Answers `body` as JSON with the app's security headers (and any header already set on `res`). */
  sendJson(res: ServerResponse, status: number, body: unknown): void;
  /** Answers an error as the app's error handler does: its status and `{ error: { code, message } }`, 5xx logged. */
  fail(req: IncomingMessage, res: ServerResponse, error: unknown): void;
}

/** Answers the request and returns true, or returns false, untouched, for express to answer. */
export type RequestLane = (req: IncomingMessage, res: ServerResponse, context: LaneContext) => boolean;

/**
 * True for a request whose body express's JSON parser would read as plain
 * UTF-8 JSON: `Content-Type: application/json` (optionally `; charset=utf-8`),
 * no content encoding, and a body (a length or chunked).
 */
export function isPlainJsonRequest(req: IncomingMessage): boolean {
  const type = req.headers['content-type']?.toLowerCase().replaceAll(' ', '');
  if (type !== 'application/json' && type !== 'application/json;charset=utf-8') return false;
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  return req.headers['transfer-encoding'] !== undefined || !Number.isNaN(Number(req.headers['content-length']));
}

/**
 * Reads a JSON body as express's JSON parser (body-parser, strict) does for a
 * {@link isPlainJsonRequest}: at most `limitBytes` (else the rest is read off
 * and it rejects with a 413), a leading byte-order mark dropped, an empty body
 * read as `{}`, and anything but an object or array refused (400). The errors
 * carry the codes and messages the app's error handler gives body-parser's.
 */
export function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let tooLarge = Number(req.headers['content-length']) > limitBytes;
    let received = 0;
    let chunks: Buffer[] = [];
    let ended = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      received += chunk.length;
      if (received > limitBytes) {
        tooLarge = true;
        chunks = [];
      } else chunks.push(chunk);
    });
    req.once('end', () => {
      ended = true;
      if (tooLarge) {
        reject(new HttpError(413, 'payload-too-large', 'the request body is too large'));
        return;
      }
      try {
        resolve(parseJson(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    // The client went away before the end (body-parser answers that with a 400 too; nobody reads it).
    const aborted = () => {
      if (!ended) reject(unreadable());
    };
    req.once('error', aborted);
    req.once('close', aborted);
  });
}

function parseJson(bytes: Buffer): unknown {
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) return {};
  const first = /[^ \t\n\r]/.exec(text)?.[0]; // after JSON's whitespace
  if (first !== '{' && first !== '[') throw unreadable();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw unreadable();
  }
}

function unreadable(): HttpError {
  return new HttpError(400, 'bad-request', 'the request body could not be read');
}
