/**
 * Accounts (issue 13): roles, disabled users, server administrators, sessions that can be revoked, and
 * workspaces being deleted.
 * - `users.role`: the user's role in its workspace (features/users/roles.ts). Existing web users
 *   (user_type 1) become administrators, Pilot users (user_type 2) operators, so no one loses access.
 * - `users.server_admin`: 1 for a server administrator (manages workspaces); the first admin is one,
 *   so the oldest web user of the default workspace becomes one.
 * - `users.disabled_at`: set while the user may not log in nor connect devices.
 * - `sessions`: one row per login; a token names its session (`sid`), and a session ends at logout,
 *   at its absolute lifetime, or when its user's password changes or the user is removed.
 * - `workspaces.deleting_at`: set when deletion starts; the workspace's objects go first, then its rows.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('role', 'varchar(16)', (c) => c.notNull().defaultTo('operator'))
    .execute();
  await db.schema
    .alterTable('users')
    .addColumn('server_admin', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('users').addColumn('disabled_at', 'bigint').execute();
  await sql`update users set role = 'administrator' where user_type = 1`.execute(db);
  await sql`update users set server_admin = 1 where id = (
      select u.id from users u
      where u.user_type = 1
        and u.workspace_id = (select value from server_settings where key = 'default_workspace_id')
      order by u.created_at, u.id limit 1)`.execute(db);

  await db.schema.alterTable('workspaces').addColumn('deleting_at', 'bigint').execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(36)', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('client', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('refreshed_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_user_idx').on('sessions').column('user_id').execute();
  await db.schema.createIndex('sessions_expires_idx').on('sessions').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('sessions').execute();
  await db.schema.alterTable('workspaces').dropColumn('deleting_at').execute();
  await db.schema.alterTable('users').dropColumn('disabled_at').execute();
  await db.schema.alterTable('users').dropColumn('server_admin').execute();
  await db.schema.alterTable('users').dropColumn('role').execute();
}
