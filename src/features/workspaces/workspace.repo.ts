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
}
