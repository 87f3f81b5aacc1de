/**
 * DJI Cloud API topic names (docs/protocol.md §1.2). `{sn}` is a gateway (dock, RC) or, for osd/state/
 * events, one of its sub-devices (the aircraft). A reply topic is the request topic plus `_reply`.
 */

/** Message families a device publishes and Skyvault consumes. */
export type InboundFamily = 'status' | 'requests' | 'events' | 'services_reply' | 'osd' | 'state';

export interface ParsedTopic {
  family: InboundFamily;
  sn: string;
}

const INBOUND = /^(thing|sys)\/product\/([^/#+$]+)\/(status|requests|events|services_reply|osd|state)$/;

/** The family and SN of an inbound topic; undefined for any other topic. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const match = INBOUND.exec(topic);
  if (!match) return undefined;
  const [, root, sn, family] = match as unknown as [string, string, string, InboundFamily];
  // status lives under sys/, everything else under thing/.
  if ((family === 'status') !== (root === 'sys')) return undefined;
  return { family, sn };
}

export const topics = {
  status: (sn: string) => `sys/product/${sn}/status`,
  statusReply: (sn: string) => `sys/product/${sn}/status_reply`,
  requests: (sn: string) => `thing/product/${sn}/requests`,
  requestsReply: (sn: string) => `thing/product/${sn}/requests_reply`,
  events: (sn: string) => `thing/product/${sn}/events`,
  eventsReply: (sn: string) => `thing/product/${sn}/events_reply`,
  services: (sn: string) => `thing/product/${sn}/services`,
  servicesReply: (sn: string) => `thing/product/${sn}/services_reply`,
};

/** Filters Skyvault subscribes to: every gateway's device-initiated messages, and service replies. */
export const DEVICE_INITIATED_FILTERS = [
  'sys/product/+/status',
  'thing/product/+/requests',
  'thing/product/+/events',
  // Property changes (firmware_version, …); osd, which repeats every second, is not read.
  'thing/product/+/state',
] as const;
export const SERVICES_REPLY_FILTER = 'thing/product/+/services_reply';

/** The SN a device topic is about (`thing/product/{sn}/…`, `sys/product/{sn}/…`), else undefined. */
export function snOfTopic(topic: string): string | undefined {
  const match = /^(?:thing|sys)\/product\/([^/]+)(?:\/|$)/.exec(topic);
  return match?.[1];
}
