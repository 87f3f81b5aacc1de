/**
 * PostgreSQL: the kept counts and map cells (0007) follow an updated file row by row, and only when the
 * update moved what they keep (issue 15). 0007's UPDATE trigger ran once per statement over transition
 * tables, so every update paid for them: an upsert that inserted (PostgreSQL fires UPDATE statement
 * triggers for every `insert … on conflict do update`), and the updates of each file's enrichment,
 * which almost never move a file. Each ran a PL/pgSQL function and a join of the transition tables to
 * find nothing to do (in a scratch measure, about 0.1 ms of the database's CPU per file recorded and
 * enriched, of 1.2–1.3).
 *
 * A row-level trigger with a WHEN condition is tested by PostgreSQL itself, before any function runs, and
 * fires only for rows an update actually changed; `insert … on conflict` fires it only when it updated.
 * An update that moves many files at once (none does today) pays per row instead of per statement. The
 * INSERT and DELETE triggers stay per statement, so bulk loads and deletions still group their work.
 * SQLite's triggers were per row with the same conditions already.
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';
import {
  addCells,
  addCounts,
  keptUpdateStatementTrigger,
  removeCells,
  removeCounts,
} from './0007-library-indexes.ts';

/** The facts the kept tables depend on: counts on the first three, map cells on all five. */
const KEPT = ['workspace_id', 'drone_sn', 'media_type', 'latitude', 'longitude'];
const row = (side: 'old' | 'new', columns: string[]) => `(${columns.map((c) => `${side}.${c}`).join(', ')})`;

export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  const run = (text: string) => sql.raw(text).execute(db);
  await run('drop trigger media_files_kept_update on media_files');
  await run('drop function media_files_kept_update()');
  // The shared SQL reads a set of rows: here the one row before (OLD) or after (NEW) the update.
  await run(`create function media_files_kept_update_row() returns trigger language plpgsql as $body$
    begin
      if ${row('old', KEPT.slice(0, 3))} is distinct from ${row('new', KEPT.slice(0, 3))} then
        ${removeCounts('(select old.*)')}
        ${addCounts('(select new.*)')}
      end if;
      ${removeCells('(select old.*)')}
      ${addCells('(select new.*)')}
      return null;
    end $body$`);
  await run(`create trigger media_files_kept_update after update on media_files for each row
    when (${row('old', KEPT)} is distinct from ${row('new', KEPT)})
    execute function media_files_kept_update_row()`);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`drop trigger media_files_kept_update on media_files`.execute(db);
  await sql`drop function media_files_kept_update_row()`.execute(db);
  await keptUpdateStatementTrigger(db);
}
