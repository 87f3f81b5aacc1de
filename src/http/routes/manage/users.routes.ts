/** Current user, current workspace and the workspace's users (docs/protocol.md §7.1). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { UserService } from '../../../features/users/user.service.ts';
import { Envelope, ErrorResponses, ok, PageQuery, Pagination } from '../../envelope.ts';
import { claimsOf } from '../../plugins/auth.ts';
import type { PublicAddresses } from '../../public-address.ts';
import {
  UserDto,
  UserListItemDto,
  userDto,
  userListItemDto,
  WorkspaceDto,
  workspaceDto,
} from './manage.dto.ts';

export interface UserRoutesOptions {
  users: UserService;
  addresses: PublicAddresses;
}

const security = [{ token: [] }];

export const userRoutes: FastifyPluginAsyncTypebox<UserRoutesOptions> = async (app, { users, addresses }) => {
  app.get(
    '/manage/api/v1/users/current',
    {
      config: { permission: 'session' },
      schema: {
        tags: ['users'],
        summary: 'The logged-in user, with the MQTT address and credentials its devices use',
        security,
        response: { 200: Envelope(UserDto), ...ErrorResponses },
      },
    },
    async (request) => {
      const { user } = await users.current(claimsOf(request));
      return ok(userDto(user, addresses.mqttAddress(request)));
    },
  );

  app.get(
    '/manage/api/v1/workspaces/current',
    {
      config: { permission: 'session' },
      schema: {
        tags: ['workspaces'],
        summary: "The logged-in user's workspace",
        security,
        response: { 200: Envelope(WorkspaceDto), ...ErrorResponses },
      },
    },
    async (request) => ok(workspaceDto(await users.currentWorkspace(claimsOf(request)))),
  );

  app.get(
    '/manage/api/v1/users/:workspace_id/users',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['users'],
        summary: "One page of the workspace's users, oldest first",
        security,
        params: Type.Object({ workspace_id: Type.String() }),
        querystring: PageQuery,
        response: {
          200: Envelope(Type.Object({ list: Type.Array(UserListItemDto), pagination: Pagination })),
          ...ErrorResponses,
        },
      },
    },
    async (request) => {
      const { page, page_size: pageSize } = request.query;
      const { items, total, showMqttPasswords } = await users.list(
        claimsOf(request),
        request.params.workspace_id,
        { page, pageSize },
      );
      return ok({
        list: items.map((u) => userListItemDto(u, showMqttPasswords)),
        pagination: { page, page_size: pageSize, total },
      });
    },
  );
};
