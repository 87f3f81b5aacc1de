/**
 * `airport_organization_bind` (requests, Appendix A): binds the dock and its aircraft with the binding
 * code, by the rules of DeviceService.bindFromGateway (its own devices only).
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
        const [domain, type, subType] = (text(device.device_model_key) ?? '')
          .split('-')
          .map((v) => integer(v));
        const outcome = await devices.bindFromGateway(sn, deviceSn, workspace.id, {
          callsign: text(device.device_callsign),
          ...(domain !== undefined && type !== undefined && subType !== undefined
            ? { model: { domain, type, subType } }
            : {}),
        });
        if (outcome === 'not-yours') {
          logger.warn(
            { gatewaySn: sn, sn: deviceSn },
            'airport_organization_bind refused: not this dock or its aircraft, or bound to another workspace',
          );
          errInfos.push({ sn: deviceSn, err_code: RESULT_NOT_YOURS });
          continue;
        }
        logger.info(
          { gatewaySn: sn, sn: deviceSn, workspaceId: workspace.id },
          'device bound to a workspace',
        );
      }
      return { result: 0, output: { err_infos: errInfos } };
    },
  };
}
