/**
 * Devices for the web and Pilot's H5 page at the DJI demo paths (docs/protocol.md §7.1, §7.6): the
 * workspace's aircraft with their gateways (the map), its bound devices with their aircraft and online
 * state, one device, the RC binding call and unbinding; and
 * the wayline call that asks a dock to upload one flight's media first (§4.4).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { DeviceService } from '../../../features/devices/device.service.ts';
import type { DockMediaService } from '../../../features/media/dock-media.service.ts';
import { Envelope, ErrorResponses, ok, PageQuery, Pagination } from '../../envelope.ts';
import { claimsOf } from '../../plugins/auth.ts';
import { DeviceDto, deviceDto } from './device.dto.ts';

export interface DeviceRoutesOptions {
  devices: DeviceService;
  dockMedia: DockMediaService;
}

const security = [{ token: [] }];
const tags = ['devices'];

export const deviceRoutes: FastifyPluginAsyncTypebox<DeviceRoutesOptions> = async (
  app,
  { devices, dockMedia },
) => {
  app.get(
    '/manage/api/v1/devices/:workspace_id/devices',
    {
      config: { permission: 'devices.read' },
      schema: {
        tags,
        security,
        summary: "The workspace's aircraft, each with its gateway (DJI's map and device panel)",
        description:
          'One DeviceDTO per aircraft, with the dock or remote controller it was last seen under in gateways_list (as DJI’s server splices them). Payloads are not tracked yet: payloads_list is empty.',
        params: Type.Object({ workspace_id: Type.String() }),
        response: {
          200: Envelope(
            Type.Array(
              Type.Object({
                ...DeviceDto.properties,
                gateways_list: Type.Array(DeviceDto),
                payloads_list: Type.Array(Type.Object({})),
              }),
            ),
          ),
          ...ErrorResponses,
        },
      },
    },
    async (request) => {
      const topology = await devices.aircraftTopology(request.params.workspace_id);
      return ok(
        topology.map(({ aircraft, gateway }) => ({
          ...deviceDto(aircraft),
          gateways_list: gateway ? [deviceDto(gateway, [aircraft])] : [],
          payloads_list: [],
        })),
      );
    },
  );

  app.get(
    '/manage/api/v1/devices/:workspace_id/devices/bound',
    {
      config: { permission: 'devices.read' },
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
      return ok({
        list: items.map((d) => deviceDto(d, d.children)),
        pagination: { page, page_size: pageSize, total },
      });
    },
  );

  app.get(
    '/manage/api/v1/devices/:workspace_id/devices/:device_sn',
    {
      config: { permission: 'devices.read' },
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
      return ok(deviceDto(device, device.children));
    },
  );

  app.post(
    '/manage/api/v1/devices/:device_sn/binding',
    {
      config: { permission: 'pilot' },
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
      config: { permission: 'devices.write' },
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
      config: { permission: 'devices.write' },
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
