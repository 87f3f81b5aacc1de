/** `airport_bind_status` (requests, Appendix A): whether the dock and its aircraft are bound, and where. */
import { isRecord, text } from '../envelope.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';
import type { OrganizationDeps } from './organization.ts';
import { WorkspaceRepo } from '../../features/workspaces/workspace.repo.ts';

export function airportBindStatusHandler({ db, devices }: OrganizationDeps): MethodHandler {
  const workspaces = new WorkspaceRepo(db);
  return {
    family: 'requests',
    method: 'airport_bind_status',
    async handle({ sn: gatewaySn, envelope }) {
      const asked = (Array.isArray(envelope.data.devices) ? envelope.data.devices : [])
        .filter(isRecord)
        .map((d) => text(d.sn))
        .filter((sn) => sn !== undefined);
      const bindStatus = [];
      for (const sn of asked) {
        // Only about the asking dock and its aircraft: other devices' organizations are not its business.
        const device = await devices.isOwnDevice(gatewaySn, sn);
        const workspace = device?.workspaceId ? await workspaces.findById(device.workspaceId) : undefined;
        bindStatus.push({
          sn,
          is_device_bind_organization: workspace !== undefined,
          organization_id: workspace?.id ?? '',
          organization_name: workspace?.name ?? '',
          device_callsign: device?.callsign ?? '',
        });
      }
      return { result: 0, output: { bind_status: bindStatus } };
    },
  };
}
