/**
 * The dock's "organization" requests (dji-protocol.md Appendix A): while an installer connects a dock
 * through DJI Pilot 2, the dock asks whether it is bound, which organization (workspace) a binding code
 * names, and then binds itself and its aircraft. The binding code must be a workspace's `bind_code`, and an
 * `organization_id`, when given, must be that workspace's id. Stricter than DJI's demo, which falls back to
 * treating `organization_id` alone as the workspace: knowing a workspace id must not be enough to bind.
 */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { DeviceService } from '../../features/devices/device.service.ts';
import { type Workspace, WorkspaceRepo } from '../../features/workspaces/workspace.repo.ts';
import type { Logger } from '../../shared/logger.ts';
import { integer, isRecord, text } from '../envelope.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';

/** Non-zero results (DJI leaves the values to the cloud): the binding code names no workspace. */
export const RESULT_UNKNOWN_BINDING_CODE = 210_001;
export const RESULT_BAD_REQUEST = 210_002;

interface Deps {
  db: Kysely<DB>;
  devices: DeviceService;
  logger: Logger;
}

async function workspaceFor(
  workspaces: WorkspaceRepo,
  bindingCode: string | undefined,
  organizationId: string | undefined,
): Promise<Workspace | undefined> {
  if (!bindingCode) return undefined;
  const workspace = await workspaces.findByBindCode(bindingCode);
  if (!workspace) return undefined;
  // An organization id, when given, must be the workspace the code names.
  return organizationId && organizationId !== workspace.id ? undefined : workspace;
}

export function organizationHandlers({ db, devices, logger }: Deps): MethodHandler[] {
  const workspaces = new WorkspaceRepo(db);
  return [
    {
      family: 'requests',
      method: 'airport_bind_status',
      async handle({ envelope }) {
        const asked = (Array.isArray(envelope.data.devices) ? envelope.data.devices : [])
          .filter(isRecord)
          .map((d) => text(d.sn))
          .filter((sn) => sn !== undefined);
        const bindStatus = [];
        for (const sn of asked) {
          const device = await devices.find(sn);
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
    },
    {
      family: 'requests',
      method: 'airport_organization_get',
      async handle({ sn, envelope }) {
        const workspace = await workspaceFor(
          workspaces,
          text(envelope.data.device_binding_code),
          text(envelope.data.organization_id),
        );
        if (!workspace) {
          logger.warn({ gatewaySn: sn }, 'airport_organization_get: the binding code names no workspace');
          return { result: RESULT_UNKNOWN_BINDING_CODE, output: {} };
        }
        return { result: 0, output: { organization_name: workspace.name } };
      },
    },
    {
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
    },
  ];
}
