/**
 * `airport_organization_bind` (requests, Appendix A): binds the dock and its aircraft with the binding
 * code, by the rules of DeviceService (workspaceForBindingCode, bindFromGateway: its own devices only).
 * Each refused device is listed in `err_infos` with the catalogue's result for the reason.
 */
import type { DeviceService } from '../../features/devices/device.service.ts';
import { AppError, mqttResultOf } from '../../shared/app-error.ts';
import type { Logger } from '../../shared/logger.ts';
import { integer, isRecord, text } from '../../dji/values.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';

export function airportOrganizationBindHandler(deps: {
  devices: DeviceService;
  logger: Logger;
}): MethodHandler {
  const { devices, logger } = deps;
  return {
    family: 'requests',
    method: 'airport_organization_bind',
    async handle({ sn, envelope }) {
      const requested = Array.isArray(envelope.data.bind_devices)
        ? envelope.data.bind_devices.filter(isRecord)
        : [];
      if (requested.length === 0) {
        throw new AppError('BindingRequestEmpty', undefined, { details: { err_infos: [] } });
      }
      const errInfos: { sn: string; err_code: number }[] = [];
      for (const device of requested) {
        const deviceSn = text(device.sn);
        if (!deviceSn) continue;
        const workspace = await devices.workspaceForBindingCode(
          text(device.device_binding_code),
          text(device.organization_id),
        );
        if (!workspace) {
          errInfos.push({ sn: deviceSn, err_code: mqttResultOf('BindingCodeUnknown') });
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
          errInfos.push({ sn: deviceSn, err_code: mqttResultOf('DeviceNotYours') });
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
