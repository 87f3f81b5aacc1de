/**
 * Authentication and roles by default. Registered in the context that holds every API route: each route
 * needs a valid `x-auth-token` of a live session unless it declares `config: { public: true }`, and
 * declares the permission it needs (`config: { permission }`, features/users/roles.ts): a route that
 * declares neither is refused at registration, so none can be forgotten. A caller whose role lacks the
 * permission gets 403 RoleForbidden. Each route whose path has a `:workspace_id` parameter is refused
 * (403) when the token belongs to another workspace (docs/protocol.md §10.15), except for a server
 * administrator on the account-management permissions (roles.ts `allowsAcrossWorkspaces`). 401 is
 * reserved for a missing, invalid or expired token or an ended session, since Pilot 2 logs the pilot
 * out of the cloud on 401.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller, SessionService } from '../../features/auth/session.service.ts';
import { allows, allowsAcrossWorkspaces, type Permission } from '../../features/users/roles.ts';
import { AppError } from '../../shared/app-error.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller; null on public routes. */
    auth: Caller | null;
  }
  interface FastifyContextConfig {
    /** true = no token needed (login, token refresh). */
    public?: boolean;
    /** What the caller's role must allow (every route that is not public names one). */
    permission?: Permission;
    /**
     * true = a browser form may send the token as its `x-auth-token` field instead of the header (a
     * download the browser saves itself, such as a large zip). Checked once the body is parsed.
     */
    tokenInForm?: boolean;
  }
}

export const TOKEN_HEADER = 'x-auth-token';

export function tokenOf(request: FastifyRequest): string | undefined {
  const value = request.headers[TOKEN_HEADER];
  return Array.isArray(value) ? value[0] : value;
}

/** The caller, set by the auth hook on every non-public route. */
export function claimsOf(request: FastifyRequest): Caller {
  if (!request.auth) throw new AppError('TokenMissing');
  return request.auth;
}

export function installAuth(app: FastifyInstance, sessions: SessionService): void {
  app.decorateRequest('auth', null);

  // Paths name the workspace `:workspace_id` everywhere, so the check below cannot be sidestepped by a
  // route that spells it differently.
  app.addHook('onRoute', (route) => {
    const params = [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1] ?? '');
    const odd = params.find((p) => /workspace|^ws$/i.test(p) && p !== 'workspace_id');
    if (odd) throw new Error(`route ${route.url}: name the workspace parameter :workspace_id, not :${odd}`);
    if (params.includes('workspace_id') && route.config?.public) {
      throw new Error(`route ${route.url}: a workspace-scoped route cannot be public`);
    }
    if (!route.config?.public && !route.config?.permission) {
      throw new Error(`route ${route.method} ${route.url}: declare config.permission (or config.public)`);
    }
  });

  const authenticate = async (request: FastifyRequest, token: string | undefined) => {
    const caller = await sessions.authenticate(token);
    request.auth = caller;
    authorize(caller, request.routeOptions.config.permission!, request.params);
  };

  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    if (request.is404 || config.public) return;
    if (config.tokenInForm && tokenOf(request) === undefined && isForm(request)) return;
    await authenticate(request, tokenOf(request));
  });

  // A form's token is in its body, parsed only after onRequest: checked before validation and the handler.
  app.addHook('preValidation', async (request) => {
    if (request.auth || request.is404 || request.routeOptions.config.public) return;
    if (!request.routeOptions.config.tokenInForm) return;
    const field = (request.body as Record<string, unknown> | undefined)?.[TOKEN_HEADER];
    await authenticate(request, typeof field === 'string' ? field : undefined);
  });
}

/**
 * Role, then workspace: RoleForbidden when the role lacks the permission, WorkspaceForbidden when the
 * path names another workspace than the caller's (unless a server administrator manages accounts).
 */
export function authorize(caller: Caller, permission: Permission, params: unknown): void {
  const workspaceId = (params as Record<string, string | undefined> | undefined)?.workspace_id;
  if (workspaceId !== undefined && workspaceId !== caller.workspaceId) {
    if (allowsAcrossWorkspaces(caller, permission)) return;
    throw new AppError('WorkspaceForbidden');
  }
  if (!allows(caller, permission)) throw new AppError('RoleForbidden');
}

function isForm(request: FastifyRequest): boolean {
  return (request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
}
