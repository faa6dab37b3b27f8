/**
 * The REST API under /api. Request bodies are JSON; signed envelopes and other
 * bytes travel as base64url strings. Every failure is a typed error that the
 * app's error handler turns into `{ error: { code, message } }`.
 */
import express, { type RequestHandler, type Router } from 'express';
import { toBase64Url } from '#core/encoding/bytes.ts';
import type { AccountId } from '#core/identity/ids.ts';
import type { Catalogue } from '#core/models/catalogue.ts';

export interface ApiInit {
  readonly version: string;
  readonly catalogue: () => Promise<Catalogue>;
  readonly startedAt: number;
  /** The relay's key: clients compare it with the key they pinned from the join URL. */
  readonly relay: { readonly accountId: AccountId; readonly publicKey: Uint8Array };
  /** Largest JSON body in bytes. */
  readonly maxBodyBytes: number;
  /**
   * Handlers every API request passes after its body is read and before any
   * route, these first ones included (the per-IP rate limit). Default none.
   */
  readonly limits?: readonly RequestHandler[];
}

export function createApi(init: ApiInit): Router {
  const api = express.Router();
  api.use(express.json({ limit: init.maxBodyBytes }));
  for (const handler of init.limits ?? []) api.use(handler);
  const relayPublicKey = toBase64Url(init.relay.publicKey);

  api.get('/status', (_req, res) => {
    res.json({
      version: init.version,
      uptimeSeconds: Math.round((Date.now() - init.startedAt) / 1000),
      relay: { account: init.relay.accountId, publicKey: relayPublicKey },
    });
  });

  api.get('/models', async (_req, res) => {
    res.json(await init.catalogue());
  });

  return api;
}
