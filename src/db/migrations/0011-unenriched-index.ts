/**
 * The files left to enrich, in their own partial index (issue 15): every start resumes enrichment with
 * `where enriched_at is null order by created_at` (MediaRepo.unenrichedIds), which without it read the
 * whole of media_files, about 90 MB of pages at 200,000 files, before the first new file was enriched.
 * The index holds only the files not yet enriched, so it stays a few entries long and costs an upload
 * one small insert. On PostgreSQL it has a price: with enriched_at in an index's predicate, the update
 * that marks a file enriched is no longer heap-only (HOT) and adds entries to every index of the table,
 * about 0.1 ms more of the database's CPU per file in a scratch measure; reading every file at every
 * start costs more as the library grows. Keyed by id, not by created_at: a file's claim
 * (`where id = ? and enriched_at is null`, MediaRepo.beginEnrichment) matches its predicate too, and
 * PostgreSQL without statistics picked it over the primary key, so keyed otherwise each claim would read
 * the whole backlog. Keyed by id, either index is a seek; the start sorts the backlog by age itself.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('media_files_unenriched_idx')
    .on('media_files')
    .column('id')
    .where(sql.ref('enriched_at'), 'is', null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('media_files_unenriched_idx').execute();
}
