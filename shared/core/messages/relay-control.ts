/**
 * An operator's signed change to the relay itself (`relay/control`), made
 * with the relay's own key by `npm run relay -- resources set ...`. Its own
 * message type keeps the signature from ever passing as a block or a
 * transaction the relay key also signs, and the other way round.
 *
 * `action` names the change and carries its parameters, so a signature for
 * one change cannot be used for another; the nonce and timestamp let the
 * relay refuse the same message twice (it keeps the ids it has accepted for
 * as long as a timestamp stays fresh).
 */
import * as v from 'valibot';
import { resourceAllocationSchema } from '../resources/allocation.ts';
import { accountId, bytes, decoderFor, timestamp, version } from './fields.ts';

export const RELAY_CONTROL_NONCE_BYTES = 16;

const common = {
  v: version,
  /** The network, which is the relay's account: a change signed for one relay means nothing to another. */
  net: accountId,
  /** Random bytes: two identical changes are two messages with two ids. */
  nonce: bytes(RELAY_CONTROL_NONCE_BYTES, RELAY_CONTROL_NONCE_BYTES),
  ts: timestamp,
};

export const relayControlPayloadSchema = v.variant('action', [
  /** Resize the relay's own inference pool (what `POST /api/resources` takes). */
  v.strictObject({ ...common, action: v.literal('resources/set'), allocation: resourceAllocationSchema }),
]);

export type RelayControlPayload = v.InferOutput<typeof relayControlPayloadSchema>;
export type RelayControlAction = RelayControlPayload['action'];
export const decodeRelayControlPayload = decoderFor('relay control', relayControlPayloadSchema);
