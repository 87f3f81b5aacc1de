/**
 * What the web app shows before anything else: the workspace, and what a person types into a Pilot 2 or
 * a dock's configuration to connect it (the empty library explains this), plus the map's tile template.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Envelope, ErrorResponses, Nullable, ok } from '../../envelope.ts';
import { claimsOf } from '../../plugins/auth.ts';
import type { Config } from '../../../config/config.ts';
import type { UserService } from '../../../features/users/user.service.ts';
import type { PublicAddresses } from '../../public-address.ts';
import { RoleSchema } from '../manage/manage.dto.ts';

export interface OverviewRoutesOptions {
  users: UserService;
  addresses: PublicAddresses;
  config: Config;
  version: string;
}

const OverviewDto = Type.Object({
  workspace: Type.Object({
    id: Type.String({ description: 'DJI organization id, typed into a dock’s configuration' }),
    name: Type.String(),
    description: Type.String(),
    platform_name: Type.String(),
    bind_code: Type.String({ description: 'device binding code, typed into a dock’s configuration' }),
  }),
  user: Type.Object({
    username: Type.String(),
    user_type: Type.Integer(),
    role: RoleSchema(),
    server_admin: Type.Boolean({ description: 'may manage every workspace' }),
  }),
  pilot_url: Type.String({ description: 'the URL to type into Pilot 2 → Cloud Service → Open Platforms' }),
  mqtt_address: Type.String({ description: 'the MQTT address devices reach' }),
  mqtt_username: Type.String({ description: 'the device account (this user’s MQTT credentials)' }),
  mqtt_password: Nullable(Type.String({ description: 'null for viewers, who have no MQTT access' })),
  map_tiles: Nullable(Type.String({ description: 'SKYVAULT_MAP_TILES; null = plain background' })),
  version: Type.String(),
});

export const overviewRoutes: FastifyPluginAsyncTypebox<OverviewRoutesOptions> = async (
  app,
  { users, addresses, config, version },
) => {
  app.get(
    '/api/v1/workspaces/:workspace_id/overview',
    {
      config: { permission: 'library.read' },
      schema: {
        tags: ['web library'],
        security: [{ token: [] }],
        summary: 'The workspace and what devices need to connect to it',
        params: Type.Object({ workspace_id: Type.String() }),
        response: { 200: Envelope(OverviewDto), ...ErrorResponses },
      },
    },
    async (request) => {
      const claims = claimsOf(request);
      const { user, workspace } = await users.current(claims);
      const account = users.deviceAccount(user);
      return ok({
        workspace: {
          id: workspace.id,
          name: workspace.name,
          description: workspace.description,
          platform_name: workspace.platformName,
          bind_code: workspace.bindCode,
        },
        user: {
          username: user.username,
          user_type: user.userType,
          role: user.role,
          server_admin: user.serverAdmin === 1,
        },
        pilot_url: `${addresses.baseUrl(request).replace(/\/+$/, '')}/pilot`,
        mqtt_address: addresses.mqttAddress(request),
        mqtt_username: account.username,
        mqtt_password: account.password,
        map_tiles: config.web.mapTiles ?? null,
        version,
      });
    },
  );
};
