/**
 * The REST API under /api. Request bodies are JSON; signed envelopes and other
 * bytes travel as base64url strings. Every failure is a typed error that the
 * app's error handler turns into `{ error: { code, message } }`.
 */
import express, { type Router } from 'express';
import type { Catalogue } from '../../shared/models/catalogue.ts';

export interface ApiInit {
  readonly version: string;
  readonly catalogue: () => Promise<Catalogue>;
  readonly startedAt: number;
  /** Largest JSON body in bytes. */
  readonly maxBodyBytes: number;
}

export function createApi(init: ApiInit): Router {
  const api = express.Router();
  api.use(express.json({ limit: init.maxBodyBytes }));

  api.get('/status', (_req, res) => {
    res.json({ version: init.version, uptimeSeconds: Math.round((Date.now() - init.startedAt) / 1000) });
  });

  api.get('/models', async (_req, res) => {
    res.json(await init.catalogue());
  });

  return api;
}
