/** The `sessions` table: one row per login (features/auth/session.service.ts). SQL only. */
import type { Kysely, Selectable } from 'kysely';
import type { DB, Role, SessionsTable, UserType } from '../../db/schema.ts';

export type SessionRow = Selectable<SessionsTable>;

/** A session with what a request needs to know of its user and workspace, read in one query. */
export interface SessionState {
  sessionId: string;
  userId: string;
  workspaceId: string;
  role: Role;
  serverAdmin: boolean;
  /** The client the session logged in from (1 web, 2 Pilot 2). */
  client: UserType;
  /** Epoch ms: the session's absolute end. */
  expiresAt: number;
  userDisabled: boolean;
  workspaceDeleting: boolean;
}

export class SessionRepo {
  constructor(private readonly db: Kysely<DB>) {}

  async insert(row: SessionRow): Promise<void> {
    await this.db.insertInto('sessions').values(row).execute();
  }

  async state(sessionId: string): Promise<SessionState | undefined> {
    const row = await this.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.userId')
      .innerJoin('workspaces', 'workspaces.id', 'users.workspaceId')
      .select([
        'sessions.id',
        'sessions.userId',
        'sessions.client',
        'sessions.expiresAt',
        'users.workspaceId',
        'users.role',
        'users.serverAdmin',
        'users.disabledAt',
        'workspaces.deletingAt',
      ])
      .where('sessions.id', '=', sessionId)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      sessionId: row.id,
      userId: row.userId,
      workspaceId: row.workspaceId,
      role: row.role,
      serverAdmin: Number(row.serverAdmin) === 1,
      client: Number(row.client) as UserType,
      expiresAt: Number(row.expiresAt),
      userDisabled: row.disabledAt !== null,
      workspaceDeleting: row.deletingAt !== null,
    };
  }

  async touch(sessionId: string, now: number): Promise<void> {
    await this.db.updateTable('sessions').set({ refreshedAt: now }).where('id', '=', sessionId).execute();
  }

  async delete(sessionId: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id', '=', sessionId).execute();
  }

  /** Ends every session of the user but `except`; returns the ids ended. */
  async deleteByUser(userId: string, except?: string): Promise<string[]> {
    let query = this.db.deleteFrom('sessions').where('userId', '=', userId);
    if (except !== undefined) query = query.where('id', '!=', except);
    return (await query.returning('id').execute()).map((r) => r.id);
  }

  async deleteExpired(now: number): Promise<void> {
    await this.db.deleteFrom('sessions').where('expiresAt', '<=', now).execute();
  }

  /** How many sessions a user has open (the admin pages show it). */
  async countByUser(userIds: readonly string[]): Promise<Map<string, number>> {
    if (userIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('sessions')
      .select(['userId', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('userId', 'in', userIds)
      .groupBy('userId')
      .execute();
    return new Map(rows.map((r) => [r.userId, Number(r.n)]));
  }
}
