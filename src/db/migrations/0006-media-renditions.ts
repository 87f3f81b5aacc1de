/**
 * What the web library needs of each file beyond what devices report:
 * - `taken_at`, the time the library sorts and filters by: the capture time when the device placed it on
 *   the time line, else when Skyvault recorded the file. A generated column, so no code path can forget
 *   it (stored on PostgreSQL; virtual on SQLite, which cannot add a stored column to a table, and indexes
 *   a virtual one just as well).
 * - `preview_key`, a large JPEG rendition (images: the picture; videos: a frame), kept beside the
 *   thumbnail outside the prefix devices may write to.
 * - `duration_ms` of videos.
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  const stored = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .alterTable('media_files')
    .addColumn('taken_at', 'bigint', (c) => {
      const generated = c.generatedAlwaysAs(sql`coalesce(captured_at, created_at)`);
      return stored ? generated.stored() : generated;
    })
    .execute();
  await db.schema.alterTable('media_files').addColumn('preview_key', 'varchar(1024)').execute();
  await db.schema.alterTable('media_files').addColumn('duration_ms', 'integer').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('media_files').dropColumn('duration_ms').execute();
  await db.schema.alterTable('media_files').dropColumn('preview_key').execute();
  await db.schema.alterTable('media_files').dropColumn('taken_at').execute();
}
