/**
 * The `users` table. SQL only, plus how one column is kept at rest: device MQTT passwords are sealed
 * with the server's secret key (shared/secret-box.ts) when written and opened when read, so rows leave
 * this repository with the password in clear and the database never holds it so.
 */
import type { Kysely, Selectable } from 'kysely';
import type { DB, UsersTable } from '../../db/schema.ts';
import { isSealed, type SecretBox } from '../../shared/secret-box.ts';

export type User = Selectable<UsersTable>;

export interface UserListItem extends User {
  workspaceName: string;
}

export class UserRepo {
  /**
   * `box` seals MQTT passwords. Without one (test factories writing rows directly), they are written as
   * given; reading opens sealed values and passes plain ones through.
   */
  constructor(
    private readonly db: Kysely<DB>,
    private readonly box?: SecretBox,
  ) {}

  async findById(id: string): Promise<User | undefined> {
    return this.opened(await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst());
  }

  async findByUsername(username: string): Promise<User | undefined> {
    return this.opened(
      await this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst(),
    );
  }

  async findByMqttUsername(mqttUsername: string): Promise<User | undefined> {
    return this.opened(
      await this.db
        .selectFrom('users')
        .selectAll()
        .where('mqttUsername', '=', mqttUsername)
        .executeTakeFirst(),
    );
  }

  /** Seals the MQTT passwords stored in clear (by a version before encryption); returns how many. */
  async sealPlainMqttPasswords(now: number): Promise<number> {
    if (!this.box) return 0;
    const rows = await this.db.selectFrom('users').select(['id', 'mqttPassword']).execute();
    let sealed = 0;
    for (const row of rows.filter((r) => !isSealed(r.mqttPassword))) {
      await this.db
        .updateTable('users')
        .set({ mqttPassword: this.box.seal(row.mqttPassword), updatedAt: now })
        .where('id', '=', row.id)
        .where('mqttPassword', '=', row.mqttPassword)
        .execute();
      sealed += 1;
    }
    return sealed;
  }

  async setPasswordHash(id: string, passwordHash: string, now: number): Promise<void> {
    await this.db.updateTable('users').set({ passwordHash, updatedAt: now }).where('id', '=', id).execute();
  }

  /** Changes a user's role, type or state (never its MQTT password: setMqttPassword seals that). */
  async update(
    id: string,
    fields: Partial<Pick<User, 'role' | 'userType' | 'disabledAt' | 'serverAdmin'>>,
    now: number,
  ): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ ...fields, updatedAt: now })
      .where('id', '=', id)
      .execute();
  }

  async setMqttPassword(id: string, mqttPassword: string, now: number): Promise<void> {
    const stored = this.box ? this.box.seal(mqttPassword) : mqttPassword;
    await this.db
      .updateTable('users')
      .set({ mqttPassword: stored, updatedAt: now })
      .where('id', '=', id)
      .execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('users').where('id', '=', id).execute();
  }

  /** The MQTT usernames of a workspace's users (to disconnect them when it goes). */
  async mqttUsernamesOf(workspaceId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('users')
      .select('mqttUsername')
      .where('workspaceId', '=', workspaceId)
      .execute();
    return rows.map((r) => r.mqttUsername);
  }

  /** Whether any user exists at all. */
  async any(): Promise<boolean> {
    return (await this.db.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined;
  }

  async insert(user: User): Promise<void> {
    const mqttPassword = this.box ? this.box.seal(user.mqttPassword) : user.mqttPassword;
    await this.db
      .insertInto('users')
      .values({ ...user, mqttPassword })
      .execute();
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
      .execute()
      .then((rows) => rows.map((row) => this.opened(row)!));
    const { total } = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number | string>().as('total'))
      .where('workspaceId', '=', workspaceId)
      .executeTakeFirstOrThrow();
    return { items, total: Number(total) };
  }

  private opened<T extends User>(row: T | undefined): T | undefined {
    if (!row || !this.box || !isSealed(row.mqttPassword)) return row;
    return { ...row, mqttPassword: this.box.open(row.mqttPassword) };
  }
}
