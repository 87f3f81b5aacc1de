/**
 * DJI's DeviceDTO (docs/protocol.md §7.6), the shape DJI's web front end and Pilot's H5 page read:
 * snake_case, absent keys left out rather than null, the model's dictionary name as `device_name`, times
 * as `yyyy-MM-dd HH:mm:ss` strings (the page shows and sorts them as text), and a gateway's aircraft as
 * one object in `children` (the page wraps it in an array itself). `device_model_key` is Skyvault's.
 */
import { type Static, type TSchema, Type } from 'typebox';
import type { DeviceView } from '../../../features/devices/device.service.ts';
import { formatDjiDateTime } from '../../../shared/time.ts';

const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);

const DeviceFields = {
  device_sn: Type.String(),
  device_name: Type.String({ description: 'the model’s name (device dictionary), else its model key' }),
  device_model_key: Type.String({ description: 'domain-type-sub_type, e.g. 3-1-0 (Dock), 0-67-0 (M30)' }),
  nickname: Type.String({ description: 'callsign given at binding, else the SN' }),
  workspace_id: Opt(Type.String()),
  workspace_name: Opt(Type.String()),
  domain: Type.Integer(),
  type: Type.Integer(),
  sub_type: Type.Integer(),
  parent_sn: Opt(Type.String({ description: 'a sub-device: the gateway it was last seen under' })),
  child_device_sn: Opt(Type.String({ description: 'a gateway: its aircraft' })),
  control_source: Opt(Type.String({ description: 'a sub-device: the control channel, A or B' })),
  thing_version: Opt(Type.String()),
  firmware_version: Opt(Type.String()),
  status: Type.Boolean({ description: 'online' }),
  bound_status: Type.Boolean(),
  bound_time: Opt(Type.String({ description: 'yyyy-MM-dd HH:mm:ss, server time zone' })),
  login_time: Opt(Type.String({ description: 'last seen, yyyy-MM-dd HH:mm:ss, server time zone' })),
};
export const ChildDeviceDto = Type.Object(DeviceFields);
export const DeviceDto = Type.Object({
  ...DeviceFields,
  children: Opt(Type.Object(DeviceFields, { description: 'a gateway’s aircraft (one object)' })),
});
export type DeviceDto = Static<typeof DeviceDto>;

/** Leaves out what is null, as DJI's server does. */
function present<T extends Record<string, unknown>>(fields: T): T {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null && v !== undefined)) as T;
}

function deviceFields(d: DeviceView): Static<typeof ChildDeviceDto> {
  return present({
    device_sn: d.sn,
    device_name: d.modelName ?? d.modelKey,
    device_model_key: d.modelKey,
    nickname: d.callsign ?? d.sn,
    workspace_id: d.workspaceId ?? undefined,
    workspace_name: d.workspaceName ?? undefined,
    domain: d.domain,
    type: d.type,
    sub_type: d.subType,
    parent_sn: d.parentSn ?? undefined,
    control_source: d.controlIndex ?? undefined,
    thing_version: d.thingVersion ?? undefined,
    firmware_version: d.firmwareVersion ?? undefined,
    status: d.online === 1,
    bound_status: d.workspaceId !== null,
    bound_time: d.boundAt === null ? undefined : formatDjiDateTime(d.boundAt),
    login_time: d.lastSeenAt === null ? undefined : formatDjiDateTime(d.lastSeenAt),
  });
}

/** A device, and for a gateway its aircraft (the online one first, else the last seen). */
export function deviceDto(d: DeviceView, children: DeviceView[] = []): DeviceDto {
  const child = children.find((c) => c.online === 1) ?? children[0];
  const dto: DeviceDto = deviceFields(d);
  if (child) {
    dto.child_device_sn = child.sn;
    dto.children = deviceFields(child);
  }
  return dto;
}
