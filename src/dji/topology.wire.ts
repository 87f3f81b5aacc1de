/**
 * `update_topo` (status, docs/protocol.md §1.5): a gateway's model and the sub-devices (its aircraft)
 * online under it. Parsed here once for everyone who reads it: the embedded broker opens the announced
 * aircraft's topics to the dock's connection, the MQTT handler records the topology. Lenient as devices
 * are: numbers as strings, `version` for `thing_version`, entries without an SN skipped.
 */
import type { Topology, TopologyDevice } from '../features/devices/device.service.ts';
import { integer, isRecord, text } from './values.ts';

export function topologyOf(data: Record<string, unknown>): Topology {
  const subDevices = (Array.isArray(data.sub_devices) ? data.sub_devices : [])
    .filter(isRecord)
    .map((d): TopologyDevice | undefined => {
      const sn = text(d.sn);
      if (!sn) return undefined;
      return {
        sn,
        domain: integer(d.domain) ?? 0,
        type: integer(d.type) ?? -1,
        subType: integer(d.sub_type) ?? 0,
        thingVersion: text(d.thing_version),
        controlIndex: text(d.index),
      };
    })
    .filter((d) => d !== undefined);
  return {
    domain: integer(data.domain) ?? -1,
    type: integer(data.type) ?? -1,
    subType: integer(data.sub_type) ?? 0,
    thingVersion: text(data.thing_version) ?? text(data.version),
    subDevices,
  };
}
