/**
 * A worker advert: a desktop worker's signed offer to the scheduler: which
 * models it has cached, on which backend, within which resource limits, at
 * which price, and where it can be dialled. A higher `seq` replaces an older one.
 */
import * as v from 'valibot';
import { resourceAllocationSchema, validateAllocation } from '../resources/allocation.ts';
import { BACKENDS } from './receipt.ts';
import { decoderFor, amount, accountId, modelId, sequence, text, timestamp, version } from './fields.ts';

export const MAX_ADVERT_MODELS = 64;
export const MAX_ADVERT_ADDRS = 16;

export const workerAdvertPayloadSchema = v.strictObject({
  v: version,
  net: accountId,
  models: v.pipe(v.array(modelId), v.maxLength(MAX_ADVERT_MODELS)),
  backend: v.picklist(BACKENDS),
  /** Shares must match the preset or lie within the custom ranges, as `decodeResourceAllocation` requires. */
  allocation: v.pipe(
    resourceAllocationSchema,
    v.check((allocation) => validateAllocation(allocation).ok, 'must match its preset or lie within the custom ranges'),
  ),
  /** Price per unit of work, in base units. */
  pricePerUnit: amount,
  /** libp2p multiaddrs the worker listens on (for example `/p2p-circuit/webrtc`). */
  addrs: v.pipe(v.array(text(256)), v.maxLength(MAX_ADVERT_ADDRS)),
  seq: sequence,
  ts: timestamp,
});

export type WorkerAdvertPayload = v.InferOutput<typeof workerAdvertPayloadSchema>;
export const decodeWorkerAdvertPayload = decoderFor('worker advert', workerAdvertPayloadSchema);
