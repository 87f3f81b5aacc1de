/**
 * Devices for the web and Pilot's H5 page at the DJI demo paths (docs/protocol.md §7.1): the workspace's
 * bound devices with their aircraft and online state, one device, the RC binding call and unbinding; and
 * the wayline call that asks a dock to upload one flight's media first (§4.4).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import type { Device, DeviceService, DeviceWithChildren } from '../../../features/devices/device.service.ts';
import type { DockMediaService } from '../../../features/media/dock-media.service.ts';
import { Envelope, ErrorResponses, ok, PageQuery, Pagination } from '../../envelope.ts';
import { claimsOf } from '../../plugins/auth.ts';

export interface DeviceRoutesOptions {
  devices: DeviceService;
  dockMedia: DockMediaService;
}

const security = [{ token: [] }];
const tags = ['devices'];

const DeviceFields = {
  device_sn: Type.String(),
  device_name: Type.String({ description: 'the model key until a model dictionary exists' }),
  nickname: Type.String({ description: 'callsign given at binding, else the SN' }),
  workspace_id: Type.String(),
  device_model_key: Type.String({ description: 'domain-type-sub_type, e.g. 3-1-0 (Dock), 0-67-0 (M30)' }),
  domain: Type.Integer(),
  type: Type.Integer(),
  sub_type: Type.Integer(),
  parent_sn: Type.Union([Type.String(), Type.Null()]),
  child_device_sn: Type.String(),
  control_source: Type.String({ description: 'a sub-device: the control channel, A or B' }),
  thing_version: Type.String(),
  status: Type.Boolean({ description: 'online' }),
  bound_status: Type.Boolean(),
  bound_time: Type.Union([Type.Integer(), Type.Null()]),
  login_time: Type.Union([Type.Integer(), Type.Null()], { description: 'last seen, epoch ms' }),
};
const ChildDto = Type.Object(DeviceFields);
const DeviceDto = Type.Object({ ...DeviceFields, children: Type.Array(ChildDto) });

function deviceFields(d: Device, children: Device[] = []): Static<typeof ChildDto> {
  return {
    device_sn: d.sn,
    device_name: d.modelKey,
    nickname: d.callsign ?? d.sn,
    workspace_id: d.workspaceId ?? '',
    device_model_key: d.modelKey,
    domain: d.domain,
    type: d.type,
    sub_type: d.subType,
    parent_sn: d.parentSn,
    child_device_sn: children.find((c) => c.online === 1)?.sn ?? children[0]?.sn ?? '',
    control_source: d.controlIndex ?? '',
    thing_version: d.thingVersion ?? '',
    status: d.online === 1,
    bound_status: d.workspaceId !== null,
    bound_time: d.boundAt,
    login_time: d.lastSeenAt,
  };
}

const deviceDto = (d: DeviceWithChildren): Static<typeof DeviceDto> => ({
  ...deviceFields(d, d.children),
  children: d.children.map((c) => deviceFields(c)),
});

export const deviceRoutes: FastifyPluginAsyncTypebox<DeviceRoutesOptions> = async (
  app,
  { devices, dockMedia },
) => {
  app.get(
    '/manage/api/v1/devices/:workspace_id/devices/bound',
    {
      schema: {
        tags,
        security,
        summary: "The workspace's gateways with their aircraft (or, with domain, its devices of that domain)",
        params: Type.Object({ workspace_id: Type.String() }),
        querystring: Type.Object({
          ...PageQuery.properties,
          domain: Type.Optional(
            Type.Integer({ description: '0 aircraft, 1 payload, 2 remote controller, 3 dock' }),
          ),
        }),
        response: {
          200: Envelope(Type.Object({ list: Type.Array(DeviceDto), pagination: Pagination })),
          ...ErrorResponses,
        },
      },
    },
    async (request) => {
      const { page, page_size: pageSize, domain } = request.query;
      const { items, total } = await devices.listBound(
        request.params.workspace_id,
        { domain },
        { offset: (page - 1) * pageSize, limit: pageSize },
      );
      return ok({ list: items.map(deviceDto), pagination: { page, page_size: pageSize, total } });
    },
  );

  app.get(
    '/manage/api/v1/devices/:workspace_id/devices/:device_sn',
    {
      schema: {
        tags,
        security,
        summary: 'One device of the workspace, with its aircraft',
        params: Type.Object({ workspace_id: Type.String(), device_sn: Type.String() }),
        response: { 200: Envelope(DeviceDto), ...ErrorResponses },
      },
    },
    async (request) => {
      const device = await devices.getInWorkspace(request.params.workspace_id, request.params.device_sn);
      return ok(deviceDto(device));
    },
  );

  app.post(
    '/manage/api/v1/devices/:device_sn/binding',
    {
      schema: {
        tags,
        security,
        summary: "Binds a device (Pilot's RC, from the H5 page) to the caller's workspace",
        description:
          'The device must have connected over MQTT once. workspace_id, when sent, must be the caller’s (403 otherwise).',
        params: Type.Object({ device_sn: Type.String({ minLength: 1, maxLength: 64 }) }),
        body: Type.Object({
          device_sn: Type.Optional(Type.String()),
          user_id: Type.Optional(Type.String()),
          workspace_id: Type.Optional(Type.String()),
        }),
        response: { 200: Envelope(Type.Object({})), ...ErrorResponses },
      },
    },
    async (request) => {
      const { workspaceId } = claimsOf(request);
      await devices.bindForUser(request.params.device_sn, workspaceId, request.body.workspace_id);
      return ok({});
    },
  );

  app.delete(
    '/manage/api/v1/devices/:device_sn/unbinding',
    {
      schema: {
        tags,
        security,
        summary: "Unbinds a device of the caller's workspace",
        params: Type.Object({ device_sn: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: Envelope(Type.Object({})), ...ErrorResponses },
      },
    },
    async (request) => {
      await devices.unbindInWorkspace(claimsOf(request).workspaceId, request.params.device_sn);
      return ok({});
    },
  );

  app.post(
    '/wayline/api/v1/workspaces/:workspace_id/jobs/:job_id/media-highest',
    {
      schema: {
        tags,
        security,
        summary: "Asks the dock to upload this flight task's media first",
        params: Type.Object({
          workspace_id: Type.String(),
          job_id: Type.String({ minLength: 1, maxLength: 128 }),
        }),
        response: { 200: Envelope(Type.Object({})), ...ErrorResponses },
      },
    },
    async (request) => {
      await dockMedia.requestPriority(request.params.workspace_id, request.params.job_id);
      return ok({});
    },
  );
};
