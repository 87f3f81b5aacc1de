/** Wire shapes of Skyvault's account API (docs/accounts.md): users of a workspace, workspaces, sessions. */
import { Type } from 'typebox';
import type { UserListItem } from '../../../features/users/user.repo.ts';
import type { WorkspaceListItem } from '../../../features/workspaces/workspace.repo.ts';
import type { Workspace } from '../../../features/workspaces/workspace.repo.ts';
import { RoleSchema } from '../manage/manage.dto.ts';

export const AccountDto = Type.Object({
  user_id: Type.String(),
  username: Type.String(),
  role: RoleSchema(),
  disabled: Type.Boolean(),
  server_admin: Type.Boolean(),
  mqtt_username: Type.String({ description: 'the device account docks and Pilot 2 log in to MQTT with' }),
  sessions: Type.Integer({ description: 'logins open now' }),
  created_at: Type.Integer({ description: 'epoch ms' }),
});

export const NewAccountBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]*$' }),
    role: RoleSchema(),
    password: Type.Optional(
      Type.String({ minLength: 10, maxLength: 1024, description: 'omit to generate one (answered once)' }),
    ),
  },
  // Anything else is dropped (Fastify removes what the schema does not name), never passed on: no body
  // makes a server administrator.
  { additionalProperties: false },
);

export const AccountChangeBody = Type.Object(
  { role: Type.Optional(RoleSchema()), disabled: Type.Optional(Type.Boolean()) },
  { minProperties: 1, additionalProperties: false },
);

export const WorkspaceItemDto = Type.Object({
  workspace_id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  bind_code: Type.String(),
  users: Type.Integer(),
  devices: Type.Integer(),
  deleting: Type.Boolean({ description: 'its objects and rows are being deleted' }),
  default: Type.Boolean({ description: 'the workspace created on first start (cannot be deleted)' }),
  created_at: Type.Integer({ description: 'epoch ms' }),
});

export const WorkspaceBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
});

export const WorkspaceChangeBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { minProperties: 1 },
);

export function accountDto(user: UserListItem, sessions: number) {
  return {
    user_id: user.id,
    username: user.username,
    role: user.role,
    disabled: user.disabledAt !== null,
    server_admin: user.serverAdmin === 1,
    mqtt_username: user.mqttUsername,
    sessions,
    created_at: Number(user.createdAt),
  };
}

export function workspaceItemDto(
  workspace: Workspace & Partial<Pick<WorkspaceListItem, 'userCount' | 'deviceCount'>>,
  defaultWorkspaceId: string,
) {
  return {
    workspace_id: workspace.id,
    name: workspace.name,
    description: workspace.description,
    bind_code: workspace.bindCode,
    users: workspace.userCount ?? 0,
    devices: workspace.deviceCount ?? 0,
    deleting: workspace.deletingAt !== null,
    default: workspace.id === defaultWorkspaceId,
    created_at: Number(workspace.createdAt),
  };
}
