/**
 * Who may do what (issue 13, docs/accounts.md). A user has one role in its workspace; every route
 * declares the permission it needs (http/plugins/auth.ts refuses to register one that does not), and the
 * role is read from the database at each request, so a change applies at once.
 *
 * | permission         | administrator | operator | viewer | device |
 * |--------------------|:-:|:-:|:-:|:-:|
 * | session            | ✓ | ✓ | ✓ | ✓ |  the caller's own session, user and workspace
 * | pilot              | ✓ | ✓ |   | ✓ |  Pilot 2's upload API and setup, binding an RC
 * | library.read       | ✓ | ✓ | ✓ |   |  the library, downloads, live updates
 * | library.write      | ✓ | ✓ |   |   |  deleting media
 * | devices.read       | ✓ | ✓ | ✓ |   |  devices and their log history
 * | devices.write      | ✓ | ✓ |   |   |  unbinding, asking a dock for its logs, dock priorities
 * | users.manage       | ✓ |   |   |   |  the workspace's users, the bind code
 * | workspaces.manage  | server administrators only   |  every workspace
 *
 * A server administrator also holds users.manage, in every workspace (its own included), whatever its
 * role.
 *
 * Logins: a viewer may not log in from Pilot 2, a device account only from Pilot 2 (and MQTT); viewers
 * have no MQTT access.
 */
import type { Role, UserType } from '../../db/schema.ts';

export type { Role } from '../../db/schema.ts';

export const ROLES: readonly Role[] = ['administrator', 'operator', 'viewer', 'device'];

export type Permission =
  | 'session'
  | 'pilot'
  | 'library.read'
  | 'library.write'
  | 'devices.read'
  | 'devices.write'
  | 'users.manage'
  | 'workspaces.manage';

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  administrator: new Set<Permission>([
    'session',
    'pilot',
    'library.read',
    'library.write',
    'devices.read',
    'devices.write',
    'users.manage',
  ]),
  operator: new Set<Permission>([
    'session',
    'pilot',
    'library.read',
    'library.write',
    'devices.read',
    'devices.write',
  ]),
  viewer: new Set<Permission>(['session', 'library.read', 'devices.read']),
  device: new Set<Permission>(['session', 'pilot']),
};

export interface Grantee {
  role: Role;
  serverAdmin: boolean;
}

/** Whether a user with this role (and server-admin flag) holds the permission in its own workspace. */
export function allows(who: Grantee, permission: Permission): boolean {
  if (permission === 'workspaces.manage') return who.serverAdmin;
  if (permission === 'users.manage' && who.serverAdmin) return true;
  return GRANTS[who.role].has(permission);
}

/**
 * Permissions a server administrator holds in every workspace, not only its own: managing workspaces and
 * their accounts, never their content (media, devices, logs stay behind the workspace's wall).
 */
export function allowsAcrossWorkspaces(who: Grantee, permission: Permission): boolean {
  return who.serverAdmin && (permission === 'workspaces.manage' || permission === 'users.manage');
}

/** Whether the role may log in from this client (`flag`: 1 web, 2 Pilot 2). */
export function mayLogInFrom(role: Role, client: UserType): boolean {
  if (role === 'viewer') return client === WEB;
  if (role === 'device') return client === PILOT;
  return true;
}

/** Whether the role's MQTT credentials open the broker (Pilot's `thing` module, docks). */
export function hasMqttAccess(role: Role): boolean {
  return role !== 'viewer';
}

/** DJI's user_type for a role: 2 (pilot) for device accounts, 1 (web user) otherwise. */
export function userTypeOf(role: Role): UserType {
  return role === 'device' ? PILOT : WEB;
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

const WEB = 1;
const PILOT = 2;
