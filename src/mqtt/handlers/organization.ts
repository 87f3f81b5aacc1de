/**
 * The dock's "organization" requests (dji-protocol.md Appendix A): while an installer connects a dock
 * through DJI Pilot 2, the dock asks whether it is bound, which organization (workspace) a binding code
 * names, and then binds itself and its aircraft. The binding code must be a workspace's `bind_code`, and an
 * `organization_id`, when given, must be that workspace's id. Stricter than DJI's demo, which falls back to
 * treating `organization_id` alone as the workspace: knowing a workspace id must not be enough to bind.
 * One handler file per method: airport-bind-status.ts, airport-organization-get.ts, airport-organization-bind.ts.
 */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { DeviceService } from '../../features/devices/device.service.ts';
import type { Workspace, WorkspaceRepo } from '../../features/workspaces/workspace.repo.ts';
import type { Logger } from '../../shared/logger.ts';

/** Non-zero results (DJI leaves the values to the cloud): the binding code names no workspace. */
export const RESULT_UNKNOWN_BINDING_CODE = 210_001;
export const RESULT_BAD_REQUEST = 210_002;
/** The device is not the requesting dock or its aircraft, or is bound to another workspace. */
export const RESULT_NOT_YOURS = 210_003;

export interface OrganizationDeps {
  db: Kysely<DB>;
  devices: DeviceService;
  logger: Logger;
}

/** The workspace a binding code names; an organization id, when given, must be that workspace. */
export async function workspaceFor(
  workspaces: WorkspaceRepo,
  bindingCode: string | undefined,
  organizationId: string | undefined,
): Promise<Workspace | undefined> {
  if (!bindingCode) return undefined;
  const workspace = await workspaces.findByBindCode(bindingCode);
  if (!workspace) return undefined;
  // An organization id, when given, must be the workspace the code names.
  return organizationId && organizationId !== workspace.id ? undefined : workspace;
}
