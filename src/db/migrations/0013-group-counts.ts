/**
 * Kept group counts (issue 15): `media_group_counts` holds, per (workspace, file group), how many files
 * are recorded under the group, kept by triggers as media_counts is (0007). Every dock media report and
 * every Pilot group-upload-callback answers with its group's count; counted, that was a read of the
 * group index whose plan depended on the statistics: on a table not analyzed yet (a first start, a bulk
 * load, a small library) PostgreSQL read it through any index starting with workspace_id and filtered
 * every file of the workspace, on each report (a quarter of the counts in a dock-events run; about 1 ms
 * of the database's CPU per event at 2,000 files, growing with the library). Read from here, a count is
 * one primary-key lookup whatever the statistics.
 *
 * The files linked to a group without being recorded under it (file_group_members, a fast-upload's dedupe)
 * are still counted when read: they are few, and read through that table's primary key.
 *
 * SQLite: row triggers. PostgreSQL: the statement-level INSERT and DELETE functions of 0007 keep these
 * too (one grouped upsert per statement, so bulk loads stay grouped), and a row trigger fires on the
 * updates that move a file to another group (a re-report naming another group, a fast-upload putting a
 * file without a group into one).
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';
import { keptStatementFunctions } from './0007-library-indexes.ts';

const addGroups = (rows: string) => `insert into media_group_counts (workspace_id, file_group_id, file_count)
    select workspace_id, file_group_id, count(*) from ${rows} as src where file_group_id is not null group by 1, 2
    on conflict (workspace_id, file_group_id) do update
      set file_count = media_group_counts.file_count + excluded.file_count;`;
const removeGroups = (rows: string) => `update media_group_counts c set file_count = c.file_count - g.n
    from (select workspace_id, file_group_id, count(*) as n from ${rows} as src
          where file_group_id is not null group by 1, 2) g
    where c.workspace_id = g.workspace_id and c.file_group_id = g.file_group_id;
  delete from media_group_counts c using (select distinct workspace_id, file_group_id from ${rows} as src
          where file_group_id is not null) g
    where c.workspace_id = g.workspace_id and c.file_group_id = g.file_group_id and c.file_count <= 0;`;
const GROUP = ['workspace_id', 'file_group_id'];
const side = (row: 'old' | 'new') => `(${GROUP.map((c) => `${row}.${c}`).join(', ')})`;

export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const run = (text: string) => sql.raw(text).execute(db);
  const create = (on: Kysely<unknown>) =>
    on.schema
      .createTable('media_group_counts')
      .addColumn('workspace_id', 'varchar(36)', (c) =>
        c.notNull().references('workspaces.id').onDelete('cascade'),
      )
      .addColumn('file_group_id', 'varchar(128)', (c) => c.notNull())
      .addColumn('file_count', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('media_group_counts_pk', ['workspace_id', 'file_group_id']);
  if (postgres) {
    // The migrator runs PostgreSQL migrations in a transaction.
    await create(db).execute();
    await keptStatementFunctions(db, { added: addGroups('added'), removed: removeGroups('removed') });
    await run(`create function media_files_group_moved() returns trigger language plpgsql as $body$
      begin
        ${removeGroups('(select old.*)')}
        ${addGroups('(select new.*)')}
        return null;
      end $body$`);
    await run(`create trigger media_files_group_moved after update on media_files for each row
      when (${side('old')} is distinct from ${side('new')})
      execute function media_files_group_moved()`);
    await backfill(db);
    return;
  }
  // SQLite migrations run outside a transaction: this one is all or nothing.
  await db.transaction().execute(async (trx) => {
    const exec = (text: string) => sql.raw(text).execute(trx);
    await create(trx)
      .modifyEnd(sql`without rowid`)
      .execute();
    const add = (row: 'new') => `insert into media_group_counts (workspace_id, file_group_id, file_count)
      select ${row}.workspace_id, ${row}.file_group_id, 1 where ${row}.file_group_id is not null
      on conflict (workspace_id, file_group_id) do update set file_count = file_count + 1;`;
    const key = `workspace_id = old.workspace_id and file_group_id = old.file_group_id`;
    const remove = `update media_group_counts set file_count = file_count - 1 where ${key};
      delete from media_group_counts where ${key} and file_count <= 0;`;
    await exec(`create trigger media_files_group_insert after insert on media_files
      when new.file_group_id is not null begin ${add('new')} end`);
    await exec(`create trigger media_files_group_delete after delete on media_files
      when old.file_group_id is not null begin ${remove} end`);
    await exec(`create trigger media_files_group_update after update of workspace_id, file_group_id on media_files
      when old.workspace_id is not new.workspace_id or old.file_group_id is not new.file_group_id
      begin ${remove} ${add('new')} end`);
    await backfill(trx);
  });
}

async function backfill(db: Kysely<unknown>): Promise<void> {
  await sql`insert into media_group_counts (workspace_id, file_group_id, file_count)
    select workspace_id, file_group_id, count(*) from media_files where file_group_id is not null
    group by workspace_id, file_group_id`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`drop trigger media_files_group_moved on media_files`.execute(db);
    await sql`drop function media_files_group_moved()`.execute(db);
    await keptStatementFunctions(db);
  } else {
    for (const event of ['insert', 'delete', 'update']) {
      await sql.raw(`drop trigger media_files_group_${event}`).execute(db);
    }
  }
  await db.schema.dropTable('media_group_counts').execute();
}
