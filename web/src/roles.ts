/**
 * What the signed-in user may do, so that the pages offer only that (the server checks it anyway, and a
 * refusal reloads the overview: App.tsx). The same table as the server's (src/features/users/roles.ts);
 * device accounts never reach the web app.
 */
import { computed } from '@preact/signals';
import type { Role } from './api.ts';
import type { MessageKey } from './i18n.ts';
import { session } from './session.ts';
import { overview } from './state.ts';

export type Permission = 'library.write' | 'devices.write' | 'pilot' | 'users.manage' | 'workspaces.manage';

export const ROLES: readonly Role[] = ['administrator', 'operator', 'viewer', 'device'];

const GRANTS: Record<Role, readonly Permission[]> = {
  administrator: ['library.write', 'devices.write', 'pilot', 'users.manage'],
  operator: ['library.write', 'devices.write', 'pilot'],
  viewer: [],
  device: ['pilot'],
};

/** The role now: the overview's (read at each load), else the login's; viewer until known. */
export const role = computed<Role>(() => overview.value?.user.role ?? session.value?.role ?? 'viewer');
export const serverAdmin = computed(
  () => overview.value?.user.server_admin ?? session.value?.serverAdmin ?? false,
);

/** Whether the signed-in user holds the permission in their own workspace. */
export function can(permission: Permission): boolean {
  if (permission === 'workspaces.manage') return serverAdmin.value;
  return GRANTS[role.value].includes(permission);
}

/** Whether the Users page is theirs to open: their workspace's administrators, server administrators. */
export const managesUsers = () => can('users.manage') || serverAdmin.value;

export const roleLabel = (r: Role): MessageKey => `role.${r}`;
export const roleHelp = (r: Role): MessageKey => `role.${r}.help`;
