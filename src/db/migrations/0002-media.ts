/**
 * Media files (Pilot 2 uploads now, dock uploads later), failed upload reports, and file groups (the
 * media of one wayline task). Dedupe is the database's job: one file per (workspace, object key) and per
 * (workspace, fingerprint); tiny fingerprints are indexed for the batch lookup.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('media_files')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(36)', (c) =>
      c.notNull().references('workspaces.id').onDelete('cascade'),
    )
    .addColumn('object_key', 'varchar(1024)', (c) => c.notNull())
    .addColumn('name', 'varchar(512)', (c) => c.notNull())
    .addColumn('path', 'varchar(1024)', (c) => c.notNull().defaultTo(''))
    .addColumn('source', 'varchar(16)', (c) => c.notNull())
    .addColumn('media_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('fingerprint', 'varchar(128)')
    .addColumn('tiny_fingerprint', 'varchar(256)')
    .addColumn('is_original', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('sub_file_type', 'integer')
    .addColumn('file_group_id', 'varchar(128)')
    .addColumn('drone_sn', 'varchar(64)')
    .addColumn('drone_model_key', 'varchar(32)')
    .addColumn('payload_model_key', 'varchar(32)')
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('content_type', 'varchar(255)', (c) => c.notNull())
    .addColumn('etag', 'varchar(128)', (c) => c.notNull())
    .addColumn('latitude', 'double precision')
    .addColumn('longitude', 'double precision')
    .addColumn('absolute_altitude', 'double precision')
    .addColumn('relative_altitude', 'double precision')
    .addColumn('gimbal_yaw_degree', 'double precision')
    .addColumn('captured_at', 'bigint')
    .addColumn('captured_at_raw', 'varchar(64)')
    .addColumn('thumbnail_key', 'varchar(1024)')
    .addColumn('enriched_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('media_files_key_uq')
    .unique()
    .on('media_files')
    .columns(['workspace_id', 'object_key'])
    .execute();
  // NULL fingerprints (dock media) do not collide: both dialects treat NULLs as distinct in unique indexes.
  await db.schema
    .createIndex('media_files_fingerprint_uq')
    .unique()
    .on('media_files')
    .columns(['workspace_id', 'fingerprint'])
    .execute();
  await db.schema
    .createIndex('media_files_tiny_idx')
    .on('media_files')
    .columns(['workspace_id', 'tiny_fingerprint'])
    .execute();
  await db.schema
    .createIndex('media_files_list_idx')
    .on('media_files')
    .columns(['workspace_id', 'created_at'])
    .execute();
  await db.schema
    .createIndex('media_files_group_idx')
    .on('media_files')
    .columns(['workspace_id', 'file_group_id'])
    .execute();

  await db.schema
    .createTable('media_upload_failures')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(36)', (c) =>
      c.notNull().references('workspaces.id').onDelete('cascade'),
    )
    .addColumn('object_key', 'varchar(1024)', (c) => c.notNull())
    .addColumn('name', 'varchar(512)', (c) => c.notNull())
    .addColumn('source', 'varchar(16)', (c) => c.notNull())
    .addColumn('result', 'integer', (c) => c.notNull())
    .addColumn('fingerprint', 'varchar(128)')
    .addColumn('reported_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('media_upload_failures_idx')
    .on('media_upload_failures')
    .columns(['workspace_id', 'reported_at'])
    .execute();

  await db.schema
    .createTable('file_groups')
    .addColumn('workspace_id', 'varchar(36)', (c) =>
      c.notNull().references('workspaces.id').onDelete('cascade'),
    )
    .addColumn('id', 'varchar(128)', (c) => c.notNull())
    .addColumn('expected_count', 'integer')
    .addColumn('reported_uploaded_count', 'integer')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('file_groups_pk', ['workspace_id', 'id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('file_groups').execute();
  await db.schema.dropTable('media_upload_failures').execute();
  await db.schema.dropTable('media_files').execute();
}
