/** `update_topo` on `sys/product/{gateway}/status` (docs/protocol.md §1.5): the gateway and its aircraft. */
import { topologyOf } from '../../dji/topology.wire.ts';
import type { DeviceService } from '../../features/devices/device.service.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';

export function updateTopoHandler(deps: {
  devices: DeviceService;
  /** The workspace of the MQTT account the gateway logged in with, when the broker knows it. */
  accountWorkspaceOf: (gatewaySn: string) => string | undefined;
}): MethodHandler {
  return {
    family: 'status',
    method: 'update_topo',
    async handle({ sn, envelope }) {
      await deps.devices.updateTopology(sn, topologyOf(envelope.data), deps.accountWorkspaceOf(sn));
      return { result: 0 };
    },
  };
}
