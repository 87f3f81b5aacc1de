/**
 * Files that belong to a file group without being recorded under it: Pilot's fast-upload of a file the
 * library already holds, for another wayline's group (decision §10.6). The file is kept once; the group
 * counts it, so its completeness is right when media were deduplicated. Removing the file removes the
 * membership.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('file_group_members')
    .addColumn('workspace_id', 'varchar(36)', (c) =>
      c.notNull().references('workspaces.id').onDelete('cascade'),
    )
    .addColumn('file_group_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('file_id', 'varchar(36)', (c) => c.notNull().references('media_files.id').onDelete('cascade'))
    .addColumn('linked_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('file_group_members_pk', ['workspace_id', 'file_group_id', 'file_id'])
    .execute();
  await db.schema
    .createIndex('file_group_members_file_idx')
    .on('file_group_members')
    .column('file_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('file_group_members').execute();
}
