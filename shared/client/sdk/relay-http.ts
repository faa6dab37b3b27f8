/**
 * One JSON request to the relay's REST API: a timeout joined with the
 * caller's signal, the answer read with a schema, and every failure turned
 * into a typed error: {@link RelayUnreachableError} when nothing came back,
 * {@link RelayApiError} for the relay's own `{ error: { code, message } }`,
 * {@link InvalidRelayResponseError} for anything else.
 */
import * as v from 'valibot';
import { InvalidRelayResponseError, RelayApiError, RelayUnreachableError } from './errors.ts';
import { errorBodySchema } from '#core/api/responses.ts';

/** The subset of `fetch` the SDK uses; any spec-compliant fetch fits. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface RelayRequest {
  readonly method?: 'GET' | 'POST' | 'DELETE';
  /** Sent as JSON. */
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
  /** Statuses (besides 200 and 201) answered with a body the schema reads, e.g. 202. */
  readonly accept?: readonly number[];
}

export interface RelayAnswer<T> {
  readonly status: number;
  readonly body: T;
}

export interface RelayHttp {
  request<S extends v.GenericSchema>(
    path: string,
    schema: S,
    request?: RelayRequest,
  ): Promise<RelayAnswer<v.InferOutput<S>>>;
}

export interface RelayHttpInit {
  /** The relay's base URL, e.g. `https://relay.example.org`. */
  readonly relayUrl: string;
  readonly fetch: FetchLike;
  /** Longest wait for one request. */
  readonly timeoutMs: number;
}

export function createRelayHttp(init: RelayHttpInit): RelayHttp {
  const base = init.relayUrl.replace(/\/+$/, '');
  return {
    async request(path, schema, request = {}) {
      const timeout = AbortSignal.timeout(init.timeoutMs);
      const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
      let response: Response;
      let text: string;
      try {
        response = await init.fetch(base + path, {
          method: request.method ?? (request.body === undefined ? 'GET' : 'POST'),
          headers: {
            accept: 'application/json',
            ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
          signal,
        });
        text = await response.text();
      } catch (error) {
        // The caller's own abort keeps its reason; a relay that does not answer in time is unreachable.
        if (request.signal?.aborted) throw request.signal.reason;
        if (timeout.aborted) {
          throw new RelayUnreachableError(`the relay at ${base} did not answer within ${init.timeoutMs} ms`, {
            cause: error,
          });
        }
        throw new RelayUnreachableError(`cannot reach the relay at ${base}: ${describe(error)}`, { cause: error });
      }
      const json = parseJson(text);
      if (response.ok || request.accept?.includes(response.status)) {
        const parsed = v.safeParse(schema, json);
        if (parsed.success) return { status: response.status, body: parsed.output };
        const [issue] = parsed.issues;
        throw new InvalidRelayResponseError(
          `unexpected answer from ${request.method ?? 'GET'} ${path} (${response.status}): ` +
            `${v.getDotPath(issue) ?? '(root)'} ${issue.message}`,
        );
      }
      const error = v.safeParse(errorBodySchema, json);
      if (error.success) throw new RelayApiError(response.status, error.output.error.code, error.output.error.message);
      throw new InvalidRelayResponseError(
        `${request.method ?? 'GET'} ${path} failed with HTTP ${response.status} and no relay error body` +
          ' (a proxy in the way, or not an AI Compute Network relay)',
      );
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // Node's fetch hides the reason (ECONNREFUSED...) in `cause`.
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return error.message + cause;
}
