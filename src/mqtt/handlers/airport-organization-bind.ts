/**
 * `airport_organization_bind` (requests, Appendix A): binds the dock and its aircraft with the binding
 * code. Only the requesting dock itself and aircraft that are new or already under it may be bound, and
 * never a device bound to another workspace (unbind it there first): a binding code must not let one
 * workspace take another's devices.
 */
import { integer, isRecord, text } from '../envelope.ts';
import { WorkspaceRepo } from '../../features/workspaces/workspace.repo.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';
import {
  type OrganizationDeps,
  RESULT_UNKNOWN_BINDING_CODE,
  RESULT_BAD_REQUEST,
  RESULT_NOT_YOURS,
  workspaceFor,
} from './organization.ts';

export function airportOrganizationBindHandler({ db, devices, logger }: OrganizationDeps): MethodHandler {
  const workspaces = new WorkspaceRepo(db);
  return {
    family: 'requests',
    method: 'airport_organization_bind',
    async handle({ sn, envelope }) {
      const requested = Array.isArray(envelope.data.bind_devices)
        ? envelope.data.bind_devices.filter(isRecord)
        : [];
      if (requested.length === 0) return { result: RESULT_BAD_REQUEST, output: { err_infos: [] } };
      const errInfos: { sn: string; err_code: number }[] = [];
      for (const device of requested) {
        const deviceSn = text(device.sn);
        if (!deviceSn) continue;
        const workspace = await workspaceFor(
          workspaces,
          text(device.device_binding_code),
          text(device.organization_id),
        );
        if (!workspace) {
          errInfos.push({ sn: deviceSn, err_code: RESULT_UNKNOWN_BINDING_CODE });
          continue;
        }
        const known = await devices.find(deviceSn);
        const ownDevice = deviceSn === sn || !known || known.parentSn === sn;
        if (!ownDevice || (known?.workspaceId && known.workspaceId !== workspace.id)) {
          logger.warn(
            { gatewaySn: sn, sn: deviceSn },
            'airport_organization_bind refused: not this dock or its aircraft, or bound to another workspace',
          );
          errInfos.push({ sn: deviceSn, err_code: RESULT_NOT_YOURS });
          continue;
        }
        const [domain, type, subType] = (text(device.device_model_key) ?? '')
          .split('-')
          .map((v) => integer(v));
        await devices.bind(deviceSn, workspace.id, {
          callsign: text(device.device_callsign),
          ...(domain !== undefined && type !== undefined && subType !== undefined
            ? { model: { domain, type, subType } }
            : {}),
        });
        logger.info(
          { gatewaySn: sn, sn: deviceSn, workspaceId: workspace.id },
          'device bound to a workspace',
        );
      }
      return { result: 0, output: { err_infos: errInfos } };
    },
  };
}
