import type { Kysely, Selectable } from 'kysely';
import type { DB, UsersTable } from '../../db/schema.ts';

export type User = Selectable<UsersTable>;

export interface UserListItem extends User {
  workspaceName: string;
}

export class UserRepo {
  constructor(private readonly db: Kysely<DB>) {}

  findById(id: string): Promise<User | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByUsername(username: string): Promise<User | undefined> {
    return this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  }

  findByMqttUsername(mqttUsername: string): Promise<User | undefined> {
    return this.db
      .selectFrom('users')
      .selectAll()
      .where('mqttUsername', '=', mqttUsername)
      .executeTakeFirst();
  }

  async setPasswordHash(id: string, passwordHash: string, now: number): Promise<void> {
    await this.db.updateTable('users').set({ passwordHash, updatedAt: now }).where('id', '=', id).execute();
  }

  /** Whether any user exists at all. */
  async any(): Promise<boolean> {
    return (await this.db.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined;
  }

  async insert(user: User): Promise<void> {
    await this.db.insertInto('users').values(user).execute();
  }

  /** One page of a workspace's users, oldest first, with the total count. */
  async listByWorkspace(
    workspaceId: string,
    page: { offset: number; limit: number },
  ): Promise<{ items: UserListItem[]; total: number }> {
    const items = await this.db
      .selectFrom('users')
      .innerJoin('workspaces', 'workspaces.id', 'users.workspaceId')
      .selectAll('users')
      .select('workspaces.name as workspaceName')
      .where('users.workspaceId', '=', workspaceId)
      .orderBy('users.createdAt')
      .orderBy('users.id')
      .offset(page.offset)
      .limit(page.limit)
      .execute();
    const { total } = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number | string>().as('total'))
      .where('workspaceId', '=', workspaceId)
      .executeTakeFirstOrThrow();
    return { items, total: Number(total) };
  }
}
