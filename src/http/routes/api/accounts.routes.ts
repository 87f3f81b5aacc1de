/**
 * Accounts (issue 13, docs/accounts.md): the caller's own session (logout, password), a workspace's users
 * as its administrators manage them, and workspaces as server administrators manage them. Roles are
 * checked by the auth hook from each route's `permission`; a server administrator reaches another
 * workspace's users (never its content) by roles.ts `allowsAcrossWorkspaces`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { retryAfterOf } from '../../../features/auth/login-limiter.ts';
import type { SessionService } from '../../../features/auth/session.service.ts';
import type { AccountService, Actor } from '../../../features/users/account.service.ts';
import type { UserService } from '../../../features/users/user.service.ts';
import type { WorkspaceService } from '../../../features/workspaces/workspace.service.ts';
import { Envelope, ErrorResponses, ok } from '../../envelope.ts';
import { claimsOf } from '../../plugins/auth.ts';
import { WorkspaceDto, workspaceDto } from '../manage/manage.dto.ts';
import {
  AccountChangeBody,
  AccountDto,
  accountDto,
  NewAccountBody,
  WorkspaceBody,
  WorkspaceChangeBody,
  WorkspaceItemDto,
  workspaceItemDto,
} from './accounts.dto.ts';

export interface AccountRoutesOptions {
  users: UserService;
  accounts: AccountService;
  sessions: SessionService;
  workspaces: WorkspaceService;
  defaultWorkspaceId: string;
}

const security = [{ token: [] }];
const WorkspaceParams = Type.Object({ workspace_id: Type.String() });
const UserParams = Type.Object({ workspace_id: Type.String(), user_id: Type.String() });

export const accountRoutes: FastifyPluginAsyncTypebox<AccountRoutesOptions> = async (
  app,
  { users, accounts, sessions, workspaces, defaultWorkspaceId },
) => {
  // --- the caller's own session -------------------------------------------------------------------
  app.post(
    '/api/v1/session/logout',
    {
      config: { permission: 'session' },
      schema: {
        tags: ['accounts'],
        summary: 'Log out: this session ends and its tokens stop working',
        security,
        response: { 200: Envelope(Type.Null()), ...ErrorResponses },
      },
    },
    async (request) => {
      await users.logout(claimsOf(request));
      return ok(null);
    },
  );

  app.post(
    '/api/v1/session/password',
    {
      config: { permission: 'session' },
      schema: {
        tags: ['accounts'],
        summary: 'Change your own password; your other sessions end',
        description:
          'Wrong current passwords count against the same limits as failed logins (HTTP 429 with Retry-After past them).',
        security,
        body: Type.Object({
          current_password: Type.String({ minLength: 1, maxLength: 1024 }),
          new_password: Type.String({ minLength: 10, maxLength: 1024 }),
        }),
        response: { 200: Envelope(Type.Object({ ended_sessions: Type.Integer() })), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const { current_password: current, new_password: next } = request.body;
      const { endedSessions } = await users
        .changePassword(claimsOf(request), current, next, { address: request.ip })
        .catch((error: unknown) => {
          const seconds = retryAfterOf(error);
          if (seconds !== undefined) void reply.header('retry-after', String(seconds));
          throw error;
        });
      return ok({ ended_sessions: endedSessions });
    },
  );

  // --- a workspace's users (its administrators, server administrators) ----------------------------
  app.get(
    '/api/v1/workspaces/:workspace_id/users',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['accounts'],
        summary: "The workspace's users, oldest first",
        security,
        params: WorkspaceParams,
        response: { 200: Envelope(Type.Object({ list: Type.Array(AccountDto) })), ...ErrorResponses },
      },
    },
    async (request) => {
      const list = await accounts.list(request.params.workspace_id);
      const open = await sessions.openCounts(list.map((u) => u.id));
      return ok({ list: list.map((u) => accountDto(u, open.get(u.id) ?? 0)) });
    },
  );

  app.post(
    '/api/v1/workspaces/:workspace_id/users',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['accounts'],
        summary: 'Create a user with a role; the password (generated unless given) is answered once',
        security,
        params: WorkspaceParams,
        body: NewAccountBody,
        response: {
          200: Envelope(Type.Object({ user: AccountDto, password: Type.String() })),
          ...ErrorResponses,
        },
      },
    },
    async (request) => {
      // Only the fields the schema names: nothing else in a body reaches the service.
      const { username, role, password: chosen } = request.body;
      const { user, password } = await accounts.create(request.params.workspace_id, {
        username,
        role,
        password: chosen,
      });
      return ok({ user: accountDto({ ...user, workspaceName: '' }, 0), password });
    },
  );

  app.patch(
    '/api/v1/workspaces/:workspace_id/users/:user_id',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['accounts'],
        summary: "Change a user's role, or disable / enable them (disabling ends their sessions)",
        security,
        params: UserParams,
        body: AccountChangeBody,
        response: { 200: Envelope(AccountDto), ...ErrorResponses },
      },
    },
    async (request) => {
      const { workspace_id: workspaceId, user_id: userId } = request.params;
      const { role, disabled } = request.body;
      const user = await accounts.update(actorOf(request), workspaceId, userId, { role, disabled });
      const open = await sessions.openCounts([user.id]);
      return ok(accountDto({ ...user, workspaceName: '' }, open.get(user.id) ?? 0));
    },
  );

  app.delete(
    '/api/v1/workspaces/:workspace_id/users/:user_id',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['accounts'],
        summary: 'Remove a user; their sessions and MQTT connections end',
        security,
        params: UserParams,
        response: { 200: Envelope(Type.Null()), ...ErrorResponses },
      },
    },
    async (request) => {
      const { workspace_id: workspaceId, user_id: userId } = request.params;
      await accounts.remove(actorOf(request), workspaceId, userId);
      return ok(null);
    },
  );

  app.post(
    '/api/v1/workspaces/:workspace_id/users/:user_id/password',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['accounts'],
        summary: "Reset a user's password to a generated one (answered once); their sessions end",
        security,
        params: UserParams,
        response: { 200: Envelope(Type.Object({ password: Type.String() })), ...ErrorResponses },
      },
    },
    async (request) => {
      const { workspace_id: workspaceId, user_id: userId } = request.params;
      return ok({ password: await accounts.resetPassword(actorOf(request), workspaceId, userId) });
    },
  );

  app.post(
    '/api/v1/workspaces/:workspace_id/users/:user_id/mqtt-password',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['accounts'],
        summary: "Rotate a user's MQTT password; devices connected with the old one are disconnected",
        security,
        params: UserParams,
        response: {
          200: Envelope(Type.Object({ mqtt_username: Type.String(), mqtt_password: Type.String() })),
          ...ErrorResponses,
        },
      },
    },
    async (request) => {
      const { workspace_id: workspaceId, user_id: userId } = request.params;
      const { username, password } = await accounts.rotateMqttPassword(actorOf(request), workspaceId, userId);
      return ok({ mqtt_username: username, mqtt_password: password });
    },
  );

  app.post(
    '/api/v1/workspaces/:workspace_id/bind-code',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['accounts'],
        summary: 'A new dock bind code for the workspace; the old one stops working',
        security,
        params: WorkspaceParams,
        response: { 200: Envelope(WorkspaceDto), ...ErrorResponses },
      },
    },
    async (request) => ok(workspaceDto(await accounts.regenerateBindCode(request.params.workspace_id))),
  );

  // --- workspaces (server administrators) ---------------------------------------------------------
  app.get(
    '/api/v1/workspaces',
    {
      config: { permission: 'workspaces.manage' },
      schema: {
        tags: ['accounts'],
        summary: 'Every workspace, with its numbers of users and devices',
        security,
        response: { 200: Envelope(Type.Object({ list: Type.Array(WorkspaceItemDto) })), ...ErrorResponses },
      },
    },
    async () => ok({ list: (await workspaces.list()).map((w) => workspaceItemDto(w, defaultWorkspaceId)) }),
  );

  app.post(
    '/api/v1/workspaces',
    {
      config: { permission: 'workspaces.manage' },
      schema: {
        tags: ['accounts'],
        summary: 'Create a workspace (a tenant), with its own bind code; then create its users',
        security,
        body: WorkspaceBody,
        response: { 200: Envelope(WorkspaceItemDto), ...ErrorResponses },
      },
    },
    async (request) => {
      const { name, description } = request.body;
      return ok(workspaceItemDto(await workspaces.create({ name, description }), defaultWorkspaceId));
    },
  );

  app.patch(
    '/api/v1/workspaces/:workspace_id',
    {
      config: { permission: 'workspaces.manage' },
      schema: {
        tags: ['accounts'],
        summary: 'Rename a workspace or change its description',
        security,
        params: WorkspaceParams,
        body: WorkspaceChangeBody,
        response: { 200: Envelope(WorkspaceItemDto), ...ErrorResponses },
      },
    },
    async (request) =>
      ok(
        workspaceItemDto(
          await workspaces.update(request.params.workspace_id, request.body),
          defaultWorkspaceId,
        ),
      ),
  );

  app.delete(
    '/api/v1/workspaces/:workspace_id',
    {
      config: { permission: 'workspaces.manage' },
      schema: {
        tags: ['accounts'],
        summary: 'Delete a workspace with all its objects and records, confirmed by its name',
        description:
          'Answers 202 once the workspace is shut (its users can no longer log in, their devices are disconnected); its objects are deleted in the background, and once the upload credentials handed out before have expired (SKYVAULT_CREDENTIAL_TTL) its prefix is swept again and its rows go; it is listed with deleting=true until then. The default workspace and your own cannot be deleted.',
        security,
        params: WorkspaceParams,
        querystring: Type.Object({
          confirm: Type.String({ description: "the workspace's name, exactly" }),
        }),
        response: { 202: Envelope(WorkspaceItemDto), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const caller = claimsOf(request);
      const workspace = await workspaces.delete(
        caller.workspaceId,
        request.params.workspace_id,
        request.query.confirm,
      );
      return reply.code(202).send(ok(workspaceItemDto(workspace, defaultWorkspaceId)));
    },
  );
};

function actorOf(request: Parameters<typeof claimsOf>[0]): Actor {
  const caller = claimsOf(request);
  return { userId: caller.userId, sessionId: caller.sessionId, serverAdmin: caller.serverAdmin };
}
