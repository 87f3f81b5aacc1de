/**
 * Why a file has no renditions or metadata from itself, and how often its enrichment started without
 * finishing:
 * - `enrichment_error`: the reason enrichment gave up on the file (an image over the pixel limits, a
 *   decoder error, a time limit, a video ffmpeg cannot read), in plain words; null when it succeeded.
 *   A failed file is done (`enriched_at` set) and is not tried again until its object is replaced.
 * - `enrichment_attempts`: counted up when enrichment of the file starts and back down when it ends,
 *   even by an error or a shutdown. It stays up only when the process died on the file (killed for its
 *   memory, a crash in a decoder): after a few such deaths the file fails without being opened again,
 *   instead of killing the server at every start (the queue resumes oldest first).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('media_files').addColumn('enrichment_error', 'varchar(500)').execute();
  await db.schema
    .alterTable('media_files')
    .addColumn('enrichment_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('media_files').dropColumn('enrichment_attempts').execute();
  await db.schema.alterTable('media_files').dropColumn('enrichment_error').execute();
}
