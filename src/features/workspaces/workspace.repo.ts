import type { Kysely, Selectable } from 'kysely';
import type { DB, WorkspacesTable } from '../../db/schema.ts';

export type Workspace = Selectable<WorkspacesTable>;

export class WorkspaceRepo {
  constructor(private readonly db: Kysely<DB>) {}

  findById(id: string): Promise<Workspace | undefined> {
    return this.db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByBindCode(bindCode: string): Promise<Workspace | undefined> {
    return this.db.selectFrom('workspaces').selectAll().where('bindCode', '=', bindCode).executeTakeFirst();
  }

  async insert(workspace: Workspace): Promise<void> {
    await this.db.insertInto('workspaces').values(workspace).execute();
  }

  /** Every workspace, oldest first, with how many users and devices it has. */
  async listWithCounts(): Promise<WorkspaceListItem[]> {
    const rows = await this.db
      .selectFrom('workspaces')
      .selectAll('workspaces')
      .select((eb) => [
        eb
          .selectFrom('users')
          .select((e) => e.fn.countAll<number | string>().as('n'))
          .whereRef('users.workspaceId', '=', 'workspaces.id')
          .as('userCount'),
        eb
          .selectFrom('devices')
          .select((e) => e.fn.countAll<number | string>().as('n'))
          .whereRef('devices.workspaceId', '=', 'workspaces.id')
          .as('deviceCount'),
      ])
      .orderBy('createdAt')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      ...r,
      userCount: Number(r.userCount ?? 0),
      deviceCount: Number(r.deviceCount ?? 0),
    }));
  }

  async update(
    id: string,
    fields: Partial<Pick<Workspace, 'name' | 'description' | 'bindCode' | 'deletingAt'>>,
    now: number,
  ): Promise<void> {
    await this.db
      .updateTable('workspaces')
      .set({ ...fields, updatedAt: now })
      .where('id', '=', id)
      .execute();
  }

  /** Removes the workspace's row; its users, media rows and log tasks go with it (foreign keys). */
  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('workspaces').where('id', '=', id).execute();
  }

  /** Workspaces whose deletion started and did not finish (resumed at start). */
  async listDeleting(): Promise<Workspace[]> {
    return this.db.selectFrom('workspaces').selectAll().where('deletingAt', 'is not', null).execute();
  }
}

export interface WorkspaceListItem extends Workspace {
  userCount: number;
  deviceCount: number;
}
