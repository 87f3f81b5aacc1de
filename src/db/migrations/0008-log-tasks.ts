/**
 * Remote device logs (docs/protocol.md §5): one `log_tasks` row per upload a user asked a dock for (its
 * id is the `fileupload_start` bid, decision §10.40), and one `log_task_files` row per module (the dock's
 * own logs, its aircraft's), holding the boot sessions chosen, the object key Skyvault assigned and the
 * one the dock reports, and the last progress. `rank` orders a file's progress so that duplicate and
 * out-of-order events never move it backwards (features/logs/log-progress.ts). `deadline_at` is when an
 * open task fails for silence: the database, not a timer per process, decides which instance times it out.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('log_tasks')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(36)', (c) =>
      c.notNull().references('workspaces.id').onDelete('cascade'),
    )
    .addColumn('gateway_sn', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(36)')
    .addColumn('username', 'varchar(100)', (c) => c.notNull())
    .addColumn('description', 'varchar(1000)', (c) => c.notNull())
    // The modules of its files, e.g. "3,0": a progress event naming them all needs no re-read.
    .addColumn('modules', 'varchar(8)', (c) => c.notNull())
    .addColumn('happen_at', 'bigint')
    // DJI's task status: 1 uploading, 2 done, 3 canceled, 4 failed (§5.1).
    .addColumn('status', 'smallint', (c) => c.notNull())
    // The last task-level upload status the dock reported (`file_zip`, `ok`…), null before any.
    .addColumn('upload_status', 'varchar(32)')
    .addColumn('result', 'integer', (c) => c.notNull().defaultTo(0))
    // Skyvault's own reason when it ended the task (silence, no answer), in plain words.
    .addColumn('failure', 'varchar(500)')
    .addColumn('deadline_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('log_tasks_gateway_idx')
    .on('log_tasks')
    .columns(['workspace_id', 'gateway_sn', 'created_at'])
    .execute();
  await db.schema
    .createIndex('log_tasks_open_idx')
    .on('log_tasks')
    .columns(['status', 'deadline_at'])
    .execute();

  await db.schema
    .createTable('log_task_files')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('task_id', 'varchar(64)', (c) => c.notNull().references('log_tasks.id').onDelete('cascade'))
    // "0" the aircraft, "3" the dock.
    .addColumn('module', 'varchar(1)', (c) => c.notNull())
    .addColumn('device_sn', 'varchar(64)', (c) => c.notNull())
    .addColumn('object_key', 'varchar(1024)', (c) => c.notNull())
    .addColumn('reported_key', 'varchar(1024)')
    // The boot sessions chosen, as JSON [{boot_index, start_time, end_time, size}] (sent back as listed).
    .addColumn('boot_logs', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(32)')
    .addColumn('rank', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('percent', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('current_step', 'integer')
    .addColumn('total_step', 'integer')
    .addColumn('upload_rate', 'double precision')
    .addColumn('result', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('size', 'bigint')
    .addColumn('fingerprint', 'varchar(64)')
    .addColumn('finish_time', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('log_task_files_module_uq', ['task_id', 'module'])
    .execute();
  await db.schema.createIndex('log_task_files_key_idx').on('log_task_files').column('object_key').execute();
  await db.schema
    .createIndex('log_task_files_reported_idx')
    .on('log_task_files')
    .column('reported_key')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('log_task_files').execute();
  await db.schema.dropTable('log_tasks').execute();
}
