/**
 * `state` on `thing/product/{sn}/state`: a device reports properties that changed. Only what the library
 * shows is read: `firmware_version`, which DJI's device pages list (docs/protocol.md §7.6). The message
 * has no method and gets no reply.
 */
import type { DeviceService } from '../../features/devices/device.service.ts';
import { text } from '../../dji/values.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';

export function stateHandler({ devices }: { devices: DeviceService }): MethodHandler {
  return {
    family: 'state',
    method: '',
    async handle({ sn, envelope }) {
      const firmware = text(envelope.data.firmware_version);
      if (firmware) await devices.recordFirmware(sn, firmware);
      return undefined;
    },
  };
}
