/**
 * The one parser of DJI MQTT envelopes (docs/protocol.md §1.1): `{tid, bid, timestamp, method, gateway,
 * need_reply, data}`. Lenient where devices differ: numbers may come as strings, `timestamp` may be
 * missing (or misspelled `"timestamp:"` as in the Dock 3 docs), `gateway` may be empty, `data` may be
 * absent on replies. Strict where replying depends on it: a message needs a `tid` and, except osd/state,
 * a `method`. Anything else is refused with a reason the caller logs; nothing here throws.
 */
import { integer, isRecord, text } from '../dji/values.ts';

export interface Envelope {
  tid: string;
  bid: string;
  timestamp: number;
  method: string;
  /** SN of the gateway that sent it; '' when absent. */
  gateway: string;
  needReply: boolean;
  data: Record<string, unknown>;
}

export type ParseResult = { ok: true; envelope: Envelope } | { ok: false; reason: string };

/** Largest payload parsed; DJI messages are a few KB, a dock's osd some tens of KB. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

export function parseEnvelope(payload: Buffer | string, requireMethod = true): ParseResult {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size === 0) return { ok: false, reason: 'empty payload' };
  if (size > MAX_PAYLOAD_BYTES) return { ok: false, reason: `payload of ${size} bytes is over the limit` };
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
  if (!isRecord(value)) return { ok: false, reason: 'payload is not a JSON object' };
  const tid = text(value.tid);
  if (!tid) return { ok: false, reason: 'no tid' };
  const method = text(value.method) ?? '';
  if (requireMethod && !method) return { ok: false, reason: 'no method' };
  const data = value.data;
  return {
    ok: true,
    envelope: {
      tid,
      bid: text(value.bid) ?? '',
      timestamp: integer(value.timestamp) ?? integer(value['timestamp:']) ?? 0,
      method,
      gateway: text(value.gateway) ?? '',
      needReply: integer(value.need_reply) === 1,
      data: isRecord(data) ? data : {},
    },
  };
}
