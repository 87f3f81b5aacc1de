/**
 * Wire shapes of the DJI `manage` module (docs/protocol.md §7.1), snake_case as DJI's clients expect,
 * and the mappers from domain rows to them.
 */
import { Type } from 'typebox';
import type { User, UserListItem } from '../../../features/users/user.repo.ts';
import { ROLES } from '../../../features/users/roles.ts';
import { deviceAccountOf } from '../../../features/users/user.service.ts';
import type { Workspace } from '../../../features/workspaces/workspace.repo.ts';
import { formatDjiDateTime } from '../../../shared/time.ts';

export function RoleSchema() {
  return Type.Union(
    ROLES.map((r) => Type.Literal(r)),
    { description: "the user's role in its workspace (docs/accounts.md)" },
  );
}

export const UserDto = Type.Object({
  user_id: Type.String(),
  username: Type.String(),
  workspace_id: Type.String({ format: 'uuid' }),
  user_type: Type.Integer({ description: '1 web user, 2 pilot' }),
  mqtt_username: Type.String(),
  mqtt_password: Type.String({ description: 'empty for viewers, who have no MQTT access' }),
  mqtt_addr: Type.String({ description: 'tcp|ssl|ws|wss://host:port the device logs in to' }),
  role: RoleSchema(),
  server_admin: Type.Boolean({ description: 'manages every workspace and its accounts' }),
});

export const SessionDto = Type.Object({
  ...UserDto.properties,
  access_token: Type.String({ description: 'send as the x-auth-token header' }),
  expires_at: Type.Integer({ description: 'token expiry, epoch seconds' }),
});

export const WorkspaceDto = Type.Object({
  workspace_id: Type.String({ format: 'uuid' }),
  workspace_name: Type.String(),
  workspace_desc: Type.String(),
  platform_name: Type.String(),
  bind_code: Type.String({ description: 'code an installer enters in Pilot 2 to bind a dock' }),
});

export const UserListItemDto = Type.Object({
  user_id: Type.String(),
  username: Type.String(),
  workspace_name: Type.String(),
  user_type: Type.Integer(),
  mqtt_username: Type.String(),
  mqtt_password: Type.Optional(Type.String({ description: 'only for administrators' })),
  role: RoleSchema(),
  disabled: Type.Boolean(),
  create_time: Type.String({ description: 'yyyy-MM-dd HH:mm:ss, server time zone' }),
});

export function userDto(user: User, mqttAddr: string) {
  return {
    user_id: user.id,
    username: user.username,
    workspace_id: user.workspaceId,
    user_type: user.userType,
    mqtt_username: user.mqttUsername,
    mqtt_password: deviceAccountOf(user).password ?? '',
    mqtt_addr: mqttAddr,
    role: user.role,
    server_admin: user.serverAdmin === 1,
  };
}

export function workspaceDto(workspace: Workspace) {
  return {
    workspace_id: workspace.id,
    workspace_name: workspace.name,
    workspace_desc: workspace.description,
    platform_name: workspace.platformName,
    bind_code: workspace.bindCode,
  };
}

/** A user as listed to the workspace; the MQTT password only for an administrator (UserService.list). */
export function userListItemDto(user: UserListItem, withMqttPassword: boolean) {
  return {
    user_id: user.id,
    username: user.username,
    workspace_name: user.workspaceName,
    user_type: user.userType,
    mqtt_username: user.mqttUsername,
    ...(withMqttPassword ? { mqtt_password: user.mqttPassword } : {}),
    role: user.role,
    disabled: user.disabledAt !== null,
    create_time: formatDjiDateTime(user.createdAt),
  };
}
