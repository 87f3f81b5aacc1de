/** `airport_organization_get` (requests, Appendix A): the workspace a binding code names. */
import { text } from '../envelope.ts';
import { WorkspaceRepo } from '../../features/workspaces/workspace.repo.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';
import { type OrganizationDeps, RESULT_UNKNOWN_BINDING_CODE, workspaceFor } from './organization.ts';

export function airportOrganizationGetHandler({ db, logger }: OrganizationDeps): MethodHandler {
  const workspaces = new WorkspaceRepo(db);
  return {
    family: 'requests',
    method: 'airport_organization_get',
    async handle({ sn, envelope }) {
      const workspace = await workspaceFor(
        workspaces,
        text(envelope.data.device_binding_code),
        text(envelope.data.organization_id),
      );
      if (!workspace) {
        logger.warn({ gatewaySn: sn }, 'airport_organization_get: the binding code names no workspace');
        return { result: RESULT_UNKNOWN_BINDING_CODE, output: {} };
      }
      return { result: 0, output: { organization_name: workspace.name } };
    },
  };
}
