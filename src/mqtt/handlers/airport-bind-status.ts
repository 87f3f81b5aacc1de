/** `airport_bind_status` (requests, Appendix A): whether the dock and its aircraft are bound, and where. */
import type { DeviceService } from '../../features/devices/device.service.ts';
import { isRecord, text } from '../../dji/values.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';

export function airportBindStatusHandler({ devices }: { devices: DeviceService }): MethodHandler {
  return {
    family: 'requests',
    method: 'airport_bind_status',
    async handle({ sn: gatewaySn, envelope }) {
      const asked = (Array.isArray(envelope.data.devices) ? envelope.data.devices : [])
        .filter(isRecord)
        .map((d) => text(d.sn))
        .filter((sn) => sn !== undefined);
      const statuses = await devices.bindStatus(gatewaySn, asked);
      return {
        result: 0,
        output: {
          bind_status: statuses.map((s) => ({
            sn: s.sn,
            is_device_bind_organization: s.workspace !== undefined,
            organization_id: s.workspace?.id ?? '',
            organization_name: s.workspace?.name ?? '',
            device_callsign: s.callsign ?? '',
          })),
        },
      };
    },
  };
}
