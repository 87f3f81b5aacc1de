/**
 * Who is logged in. The token lives in localStorage so that a reload or a second tab stays logged in;
 * it is refreshed before it expires, as DJI's own front end does (`token/refresh`).
 */
import { signal } from '@preact/signals';

/** A user's role in its workspace (docs/accounts.md); server administrators also manage workspaces. */
export type Role = 'administrator' | 'operator' | 'viewer' | 'device';

/** The login (and token/refresh) answer, as far as the app uses it. */
export interface LoginAnswer {
  user_id: string;
  username: string;
  workspace_id: string;
  access_token: string;
  expires_at: number;
  role: Role;
  server_admin: boolean;
}

export interface Session {
  token: string;
  username: string;
  workspaceId: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** As of the login (or refresh); the overview has the current one (roles.ts). */
  role?: Role;
  serverAdmin?: boolean;
}

const KEY = 'skyvault.session';

/** The session a login (or token refresh) answer opens. */
export function sessionOf(answer: LoginAnswer): Session {
  return {
    token: answer.access_token,
    username: answer.username,
    workspaceId: answer.workspace_id,
    expiresAt: answer.expires_at,
    role: answer.role,
    serverAdmin: answer.server_admin,
  };
}

function stored(): Session | null {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Session | null;
    return value && value.expiresAt * 1000 > Date.now() ? value : null;
  } catch {
    return null;
  }
}

export const session = signal<Session | null>(stored());
/** Why the user was sent back to the login page, if not by their own choice. */
export const signedOutReason = signal<string | null>(null);

export function signIn(value: Session): void {
  localStorage.setItem(KEY, JSON.stringify(value));
  signedOutReason.value = null;
  session.value = value;
}

export function signOut(reason: string | null = null): void {
  localStorage.removeItem(KEY);
  signedOutReason.value = reason;
  session.value = null;
}

/** Refreshes the token when less than an hour is left; checked every five minutes. */
export function keepSessionFresh(refresh: (token: string) => Promise<Session>): () => void {
  const check = async () => {
    const current = session.value;
    if (!current || current.expiresAt * 1000 - Date.now() > 3_600_000) return;
    try {
      signIn(await refresh(current.token));
    } catch {
      // The next API call answers 401 and sends the user to the login page with the reason.
    }
  };
  void check();
  const timer = setInterval(() => void check(), 300_000);
  return () => clearInterval(timer);
}
