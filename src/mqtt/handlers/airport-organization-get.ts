/**
 * `airport_organization_get` (requests, Appendix A): the workspace a binding code names, by the rule of
 * DeviceService.workspaceForBindingCode.
 */
import type { DeviceService } from '../../features/devices/device.service.ts';
import { AppError } from '../../shared/app-error.ts';
import { text } from '../../dji/values.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';

export function airportOrganizationGetHandler({ devices }: { devices: DeviceService }): MethodHandler {
  return {
    family: 'requests',
    method: 'airport_organization_get',
    async handle({ envelope }) {
      const workspace = await devices.workspaceForBindingCode(
        text(envelope.data.device_binding_code),
        text(envelope.data.organization_id),
      );
      if (!workspace) throw new AppError('BindingCodeUnknown');
      return { result: 0, output: { organization_name: workspace.name } };
    },
  };
}
