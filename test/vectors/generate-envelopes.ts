/**
 * Rewrites the signed bytes and ids of test/vectors/envelopes.json from its
 * payloads: the task first, then the receipt (which names the task by its
 * id), then the transfer, each signed with the RFC 8032 TEST 1 key. Run it
 * when the envelope format or the id changes, then review the diff:
 *
 *   node test/vectors/generate-envelopes.ts
 *
 * The test (test/unit/shared/core/envelope/envelope.test.ts) also checks every vector
 * independently, with WebCrypto's verify and digest.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  createNobleSigner,
  encodeEnvelope,
  messageId,
  signEnvelope,
  type MessageType,
} from '#core/index.ts';
import { hex, unhex } from '#test/network.ts';
import { fromJsonValue } from '#test/values.ts';

interface Vector {
  name: string;
  type: string;
  payload: Record<string, unknown>;
  hex: string;
  id: string;
}

const path = new URL('envelopes.json', import.meta.url);
const file = JSON.parse(readFileSync(path, 'utf8')) as { secretKey: string; envelopes: Vector[] };
const signer = createNobleSigner(unhex(file.secretKey));
const ids = new Map<string, string>();
for (const vector of file.envelopes) {
  // A payload that names an earlier vector's message by its old id gets the new one.
  for (const [key, value] of Object.entries(vector.payload)) {
    if (typeof value === 'string' && ids.has(value)) vector.payload[key] = ids.get(value);
  }
  const envelope = await signEnvelope(signer, vector.type as MessageType, fromJsonValue(vector.payload));
  const id = messageId(envelope);
  ids.set(vector.id, id);
  vector.hex = hex(encodeEnvelope(envelope));
  vector.id = id;
}
writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
