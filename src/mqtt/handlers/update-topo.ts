/** `update_topo` on `sys/product/{gateway}/status` (dji-protocol.md §1.5): the gateway and its aircraft. */
import type { DeviceService, TopologyDevice } from '../../features/devices/device.service.ts';
import type { Logger } from '../../shared/logger.ts';
import { integer, isRecord, text } from '../envelope.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';

export function updateTopoHandler(deps: {
  devices: DeviceService;
  /** The workspace of the MQTT account the gateway logged in with, when the broker knows it. */
  accountWorkspaceOf: (gatewaySn: string) => string | undefined;
  logger: Logger;
}): MethodHandler {
  return {
    family: 'status',
    method: 'update_topo',
    async handle({ sn, envelope }) {
      const data = envelope.data;
      const subDevices = (Array.isArray(data.sub_devices) ? data.sub_devices : [])
        .filter(isRecord)
        .map((d): TopologyDevice | undefined => {
          const subSn = text(d.sn);
          if (!subSn) return undefined;
          return {
            sn: subSn,
            domain: integer(d.domain) ?? 0,
            type: integer(d.type) ?? -1,
            subType: integer(d.sub_type) ?? 0,
            thingVersion: text(d.thing_version),
            controlIndex: text(d.index),
          };
        })
        .filter((d) => d !== undefined);
      await deps.devices.updateTopology(
        sn,
        {
          domain: integer(data.domain) ?? -1,
          type: integer(data.type) ?? -1,
          subType: integer(data.sub_type) ?? 0,
          thingVersion: text(data.thing_version) ?? text(data.version),
          subDevices,
        },
        deps.accountWorkspaceOf(sn),
      );
      return { result: 0 };
    },
  };
}
