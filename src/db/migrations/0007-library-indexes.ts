/**
 * What keeps the web library fast with a million files in a workspace (docs/web-api.md):
 *
 * - Indexes in the library's order, newest `taken_at` first with `id` as the tie-break, alone and after
 *   each equality filter (device, type, file group), so a page of any of them is an index range read
 *   from its start or from a cursor, never a sort. The time window is a range of the first one, which
 *   also carries what facets and map clusters read (aircraft, type, coordinates): counting a window's
 *   files reads that index alone.
 * - The DJI paths' order (created_at, id) in one index, so their pages need no sort either.
 * - (workspace, latitude, longitude) for the map's small boxes at street zoom.
 * - Text search through a trigram index: SQLite FTS5 (`media_fts`, contentless, with its own document
 *   numbers in `media_search_docs`, because the implicit rowid of media_files may change on VACUUM);
 *   PostgreSQL pg_trgm GIN indexes on lower(name) and lower(path), when the extension can be installed.
 * - Kept counts (`media_counts`): files per (workspace, drone, type), so totals and facets read a few
 *   rows instead of counting a million.
 * - Kept map cells (`media_map_cells`): per grid cell at a few fixed levels, and per aircraft and type
 *   in it (so the map filtered by those is kept too), the number of geotagged files, the sums of their
 *   coordinates (centroid = sum / count) and one of their ids.
 *
 * Triggers keep the kept tables and the SQLite text index in step with media_files on every insert,
 * update (an upsert, enrichment) and delete, including cascades. SQLite runs them per row; PostgreSQL
 * per statement over transition tables, so a bulk insert adds one grouped upsert, not one per row.
 * Existing rows are backfilled here.
 */
import { type Kysely, PostgresAdapter, type RawBuilder, sql } from 'kysely';

/**
 * The grid levels of media_map_cells: cells are 360 / 2^level degrees square (90° at level 2, about
 * 0.022° or 2.4 km at 14). Three levels apart, so a web map zoom is never more than one step away from
 * a level whose cells are about 64 px wide (cell = 360 / 2^(zoom + 2)).
 */
export const MAP_CELL_LEVELS = [2, 5, 8, 11, 14] as const;

type DialectName = 'sqlite' | 'postgres';

/**
 * The SQL of a coordinate's cell number at `level`: floor((value + origin) / size), clamped to the grid
 * so that a coordinate on the edge (longitude 180) or out of range still lands in a cell. Clamped as a
 * float before the cast: PostgreSQL refuses to cast a huge float to integer.
 */
function cellOf(dialect: DialectName, value: string, axis: 'lon' | 'lat', level: number): string {
  const size = 360 / 2 ** level;
  const last = (axis === 'lon' ? 2 ** level : 2 ** (level - 1)) - 1;
  const origin = axis === 'lon' ? '180.0' : '90.0';
  const scaled = `(${value} + ${origin}) / ${size}`;
  return dialect === 'postgres'
    ? `floor(greatest(0, least(${scaled}, ${last})))::integer`
    : `cast(max(0, min(${scaled}, ${last})) as integer)`;
}

/**
 * A file of the kept cell row `cell` (level, cx, cy, aircraft, type) other than those deleted, found
 * through the (workspace, latitude, longitude) index: the latitude band of the cell (open-ended at a
 * clamped edge, with a margin for float rounding), then the exact cell test.
 */
function anyFileOfCell(dialect: DialectName, workspace: string, cell: string, level: number): string {
  const size = 360 / 2 ** level;
  const lastY = 2 ** (level - 1) - 1;
  const huge = '1e308';
  return `(select m.id from media_files m
    where m.workspace_id = ${workspace}
      and m.latitude >= case when ${cell}.cy = 0 then -${huge} else ${cell}.cy * ${size} - 90.0 - 1e-9 end
      and m.latitude <= case when ${cell}.cy = ${lastY} then ${huge} else (${cell}.cy + 1) * ${size} - 90.0 + 1e-9 end
      and m.longitude is not null
      and ${cellOf(dialect, 'm.latitude', 'lat', level)} = ${cell}.cy
      and ${cellOf(dialect, 'm.longitude', 'lon', level)} = ${cell}.cx
      and coalesce(m.drone_sn, '') = ${cell}.drone_sn and m.media_type = ${cell}.media_type
    limit 1)`;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    // The migrator already runs PostgreSQL migrations in a transaction.
    await createTables(db, 'postgres');
    await createIndexes(db, 'postgres');
    await textIndexPostgres(db);
    await triggersPostgres(db);
    await backfill(db, 'postgres');
  } else {
    // SQLite migrations run outside a transaction: this one is all or nothing (and the backfill quicker).
    await db.transaction().execute(async (trx) => {
      await createTables(trx, 'sqlite');
      await createIndexes(trx, 'sqlite');
      await textIndexSqlite(trx);
      await triggersSqlite(trx);
      await backfill(trx, 'sqlite');
    });
  }
}

async function createTables(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  // Small tables read by primary key: SQLite stores them in key order (WITHOUT ROWID).
  const clustered = <T extends { modifyEnd(modifier: RawBuilder<unknown>): T }>(builder: T): T =>
    dialect === 'sqlite' ? builder.modifyEnd(sql`without rowid`) : builder;
  await clustered(
    db.schema
      .createTable('media_counts')
      .addColumn('workspace_id', 'varchar(36)', (c) =>
        c.notNull().references('workspaces.id').onDelete('cascade'),
      )
      // '' for files that name no aircraft: a primary key column cannot be NULL.
      .addColumn('drone_sn', 'varchar(64)', (c) => c.notNull())
      .addColumn('media_type', 'varchar(16)', (c) => c.notNull())
      .addColumn('file_count', 'bigint', (c) => c.notNull())
      // The aircraft model its files last named: the facet's name when the device is not registered.
      .addColumn('drone_model_key', 'varchar(32)')
      .addPrimaryKeyConstraint('media_counts_pk', ['workspace_id', 'drone_sn', 'media_type']),
  ).execute();
  await clustered(
    db.schema
      .createTable('media_map_cells')
      .addColumn('workspace_id', 'varchar(36)', (c) =>
        c.notNull().references('workspaces.id').onDelete('cascade'),
      )
      .addColumn('level', 'integer', (c) => c.notNull())
      .addColumn('cx', 'integer', (c) => c.notNull())
      .addColumn('cy', 'integer', (c) => c.notNull())
      // As in media_counts: '' for files that name no aircraft.
      .addColumn('drone_sn', 'varchar(64)', (c) => c.notNull())
      .addColumn('media_type', 'varchar(16)', (c) => c.notNull())
      .addColumn('file_count', 'bigint', (c) => c.notNull())
      .addColumn('sum_lat', 'double precision', (c) => c.notNull())
      .addColumn('sum_lon', 'double precision', (c) => c.notNull())
      .addColumn('sample_id', 'varchar(36)')
      .addPrimaryKeyConstraint('media_map_cells_pk', [
        'workspace_id',
        'level',
        'cx',
        'cy',
        'drone_sn',
        'media_type',
      ]),
  ).execute();
}

async function createIndexes(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const index = (name: string, columns: string[]) =>
    db.schema.createIndex(name).on('media_files').columns(columns).execute();
  // What a time window's facets and map clusters read rides along, so that they never read the table:
  // with 1,000,000 files, clustering 20,000 files of a year took 37 ms on SQLite without these columns,
  // 12 ms with them (SQLite reads them from the index and never seeks the row). PostgreSQL can carry
  // them outside the key (INCLUDE), which keeps the index's inner pages as small as without them.
  if (dialect === 'postgres') {
    await sql`create index media_files_taken_idx on media_files (workspace_id, taken_at, id)
      include (drone_sn, media_type, latitude, longitude)`.execute(db);
  } else {
    await index('media_files_taken_idx', [
      'workspace_id',
      'taken_at',
      'id',
      'drone_sn',
      'media_type',
      'latitude',
      'longitude',
    ]);
  }
  await index('media_files_drone_taken_idx', ['workspace_id', 'drone_sn', 'taken_at', 'id']);
  await index('media_files_type_taken_idx', ['workspace_id', 'media_type', 'taken_at', 'id']);
  // Replaces (workspace, file group), with the same prefix. Only grouped files (dock flights, a few
  // percent): a tenth of the size. created_at makes the group counts (count, last arrival) read it alone;
  // without it PostgreSQL scanned the whole table for them (470 ms with 1,000,000 files).
  await db.schema
    .createIndex('media_files_group_taken_idx')
    .on('media_files')
    .columns(['workspace_id', 'file_group_id', 'taken_at', 'id', 'created_at'])
    .where(sql.ref('file_group_id'), 'is not', null)
    .execute();
  await db.schema.dropIndex('media_files_group_idx').execute();
  // Replaces (workspace, created_at): with id, the DJI order (created_at desc, id desc) needs no sort.
  await index('media_files_created_idx', ['workspace_id', 'created_at', 'id']);
  await db.schema.dropIndex('media_files_list_idx').execute();
  await db.schema
    .createIndex('media_files_geo_idx')
    .on('media_files')
    .columns(['workspace_id', 'latitude', 'longitude'])
    .where(sql.ref('latitude'), 'is not', null)
    .execute();
}

async function textIndexPostgres(db: Kysely<unknown>): Promise<void> {
  // pg_trgm ships with PostgreSQL and is a trusted extension (PostgreSQL 13+), but the role may still
  // lack the right to install it. Then searches scan, which is slower but right: the migration must not
  // fail for it. A savepoint keeps the failed statement from aborting the migration's transaction.
  await sql`savepoint media_trgm`.execute(db);
  try {
    await sql`create extension if not exists pg_trgm`.execute(db);
    await sql`create index media_files_name_trgm_idx on media_files using gin (lower(name) gin_trgm_ops)`.execute(
      db,
    );
    await sql`create index media_files_path_trgm_idx on media_files using gin (lower(path) gin_trgm_ops)`.execute(
      db,
    );
    await sql`release savepoint media_trgm`.execute(db);
  } catch {
    await sql`rollback to savepoint media_trgm`.execute(db);
  }
}

async function textIndexSqlite(db: Kysely<unknown>): Promise<void> {
  // Stable document numbers for the text index (INTEGER PRIMARY KEY survives VACUUM).
  await db.schema
    .createTable('media_search_docs')
    .addColumn('doc', 'integer', (c) => c.primaryKey())
    .addColumn('file_id', 'varchar(36)', (c) => c.notNull().unique())
    .execute();
  // Contentless: the names stay in media_files only. Trigram: a phrase query matches any substring of
  // 3 characters or more, case-insensitively. No column sizes: nothing ranks results.
  await sql`create virtual table media_fts using fts5(name, path, content='', columnsize=0, tokenize='trigram')`.execute(
    db,
  );
}

async function triggersSqlite(db: Kysely<unknown>): Promise<void> {
  const run = (text: string) => sql.raw(text).execute(db);
  const countKey = (row: 'new' | 'old') =>
    `workspace_id = ${row}.workspace_id and drone_sn = coalesce(${row}.drone_sn, '') and media_type = ${row}.media_type`;
  const addCount = `insert into media_counts (workspace_id, drone_sn, media_type, file_count, drone_model_key)
    values (new.workspace_id, coalesce(new.drone_sn, ''), new.media_type, 1, new.drone_model_key)
    on conflict (workspace_id, drone_sn, media_type) do update set file_count = file_count + 1,
      drone_model_key = coalesce(excluded.drone_model_key, drone_model_key);`;
  const removeCount = `update media_counts set file_count = file_count - 1 where ${countKey('old')};
    delete from media_counts where ${countKey('old')} and file_count <= 0;`;

  const cellKey = (row: 'new' | 'old', level: number) =>
    `workspace_id = ${row}.workspace_id and level = ${level} and cx = ${cellOf('sqlite', `${row}.longitude`, 'lon', level)} and cy = ${cellOf('sqlite', `${row}.latitude`, 'lat', level)} and drone_sn = coalesce(${row}.drone_sn, '') and media_type = ${row}.media_type`;
  const addCells = MAP_CELL_LEVELS.map(
    (
      level,
    ) => `insert into media_map_cells (workspace_id, level, cx, cy, drone_sn, media_type, file_count, sum_lat, sum_lon, sample_id)
    values (new.workspace_id, ${level}, ${cellOf('sqlite', 'new.longitude', 'lon', level)}, ${cellOf('sqlite', 'new.latitude', 'lat', level)},
      coalesce(new.drone_sn, ''), new.media_type, 1, new.latitude, new.longitude, new.id)
    on conflict (workspace_id, level, cx, cy, drone_sn, media_type) do update set file_count = file_count + 1,
      sum_lat = sum_lat + excluded.sum_lat, sum_lon = sum_lon + excluded.sum_lon,
      sample_id = max(coalesce(sample_id, ''), excluded.sample_id);`,
  ).join('\n');
  // The removed file may have been its cells' sample: another file of the cell takes its place.
  const removeCells = MAP_CELL_LEVELS.map(
    (level) => `update media_map_cells set file_count = file_count - 1,
      sum_lat = sum_lat - old.latitude, sum_lon = sum_lon - old.longitude,
      sample_id = case when sample_id = old.id then ${anyFileOfCell('sqlite', 'old.workspace_id', 'media_map_cells', level)} else sample_id end
    where ${cellKey('old', level)};
    delete from media_map_cells where ${cellKey('old', level)} and file_count <= 0;`,
  ).join('\n');
  const geotagged = (row: 'new' | 'old') => `${row}.latitude is not null and ${row}.longitude is not null`;

  await run(`create trigger media_files_kept_insert after insert on media_files begin
    ${addCount}
    insert into media_search_docs (file_id) values (new.id);
    insert into media_fts (rowid, name, path)
      select doc, new.name, new.path from media_search_docs where file_id = new.id;
  end`);
  await run(`create trigger media_files_cells_insert after insert on media_files when ${geotagged('new')} begin
    ${addCells}
  end`);
  await run(`create trigger media_files_kept_delete after delete on media_files begin
    ${removeCount}
    insert into media_fts (media_fts, rowid, name, path)
      select 'delete', doc, old.name, old.path from media_search_docs where file_id = old.id;
    delete from media_search_docs where file_id = old.id;
  end`);
  await run(`create trigger media_files_cells_delete after delete on media_files when ${geotagged('old')} begin
    ${removeCells}
  end`);
  // Updates: only when what a kept row depends on changed (an upsert rewrites every column).
  await run(`create trigger media_files_counts_update after update of workspace_id, drone_sn, media_type on media_files
    when old.workspace_id is not new.workspace_id or old.drone_sn is not new.drone_sn or old.media_type is not new.media_type
  begin
    ${removeCount}
    ${addCount}
  end`);
  await run(`create trigger media_files_search_update after update of name, path on media_files
    when old.name is not new.name or old.path is not new.path
  begin
    insert into media_fts (media_fts, rowid, name, path)
      select 'delete', doc, old.name, old.path from media_search_docs where file_id = old.id;
    insert into media_fts (rowid, name, path)
      select doc, new.name, new.path from media_search_docs where file_id = new.id;
  end`);
  const moved = `old.workspace_id is not new.workspace_id or old.latitude is not new.latitude or old.longitude is not new.longitude
    or old.drone_sn is not new.drone_sn or old.media_type is not new.media_type`;
  const cellColumns = 'workspace_id, latitude, longitude, drone_sn, media_type';
  await run(`create trigger media_files_cells_update_old after update of ${cellColumns} on media_files
    when (${moved}) and ${geotagged('old')}
  begin
    ${removeCells}
  end`);
  await run(`create trigger media_files_cells_update_new after update of ${cellColumns} on media_files
    when (${moved}) and ${geotagged('new')}
  begin
    ${addCells}
  end`);
}

/*
 * The SQL that keeps media_counts and media_map_cells in step on PostgreSQL, over a set of rows
 * (`rows`: a transition table, or a row's OLD or NEW): shared by the triggers below and by later
 * migrations that change how they fire (0012).
 */
const levels = `unnest(array[${MAP_CELL_LEVELS.join(', ')}])`;
const cellCase = (column: 'longitude' | 'latitude', axis: 'lon' | 'lat', rows: string) =>
  `case ${MAP_CELL_LEVELS.map((level) => `when l.level = ${level} then ${cellOf('postgres', `${rows}.${column}`, axis, level)}`).join(' ')} end`;

export const addCounts = (
  rows: string,
) => `insert into media_counts (workspace_id, drone_sn, media_type, file_count, drone_model_key)
    select workspace_id, coalesce(drone_sn, ''), media_type, count(*), max(drone_model_key)
    from ${rows} as src group by 1, 2, 3
    on conflict (workspace_id, drone_sn, media_type) do update
      set file_count = media_counts.file_count + excluded.file_count,
          drone_model_key = coalesce(excluded.drone_model_key, media_counts.drone_model_key);`;
export const removeCounts = (rows: string) => `update media_counts c set file_count = c.file_count - g.n
    from (select workspace_id, coalesce(drone_sn, '') as drone_sn, media_type, count(*) as n
          from ${rows} as src group by 1, 2, 3) g
    where c.workspace_id = g.workspace_id and c.drone_sn = g.drone_sn and c.media_type = g.media_type;
  delete from media_counts c using (select distinct workspace_id from ${rows} as src) g
    where c.workspace_id = g.workspace_id and c.file_count <= 0;`;
const cellsOf = (rows: string) => `(select src.workspace_id, l.level,
      ${cellCase('longitude', 'lon', 'src')} as cx, ${cellCase('latitude', 'lat', 'src')} as cy,
      coalesce(src.drone_sn, '') as drone_sn, src.media_type,
      count(*) as n, sum(src.latitude) as sum_lat, sum(src.longitude) as sum_lon, max(src.id) as sample_id,
      array_agg(src.id) as ids
    from ${rows} as src cross join ${levels} as l(level)
    where src.latitude is not null and src.longitude is not null
    group by 1, 2, 3, 4, 5, 6)`;
export const addCells = (rows: string) => `insert into media_map_cells
      (workspace_id, level, cx, cy, drone_sn, media_type, file_count, sum_lat, sum_lon, sample_id)
    select workspace_id, level, cx, cy, drone_sn, media_type, n, sum_lat, sum_lon, sample_id from ${cellsOf(rows)} g
    on conflict (workspace_id, level, cx, cy, drone_sn, media_type) do update
      set file_count = media_map_cells.file_count + excluded.file_count,
          sum_lat = media_map_cells.sum_lat + excluded.sum_lat,
          sum_lon = media_map_cells.sum_lon + excluded.sum_lon,
          sample_id = greatest(media_map_cells.sample_id, excluded.sample_id);`;
// A cell whose sample was removed takes another of its files (the removed rows are already gone).
const sampleCase = MAP_CELL_LEVELS.map(
  (level) => `when c.level = ${level} then ${anyFileOfCell('postgres', 'c.workspace_id', 'c', level)}`,
).join(' ');
export const removeCells = (rows: string) => `update media_map_cells c
    set file_count = c.file_count - g.n, sum_lat = c.sum_lat - g.sum_lat, sum_lon = c.sum_lon - g.sum_lon,
        sample_id = case when c.sample_id = any(g.ids) then (case ${sampleCase} end) else c.sample_id end
    from ${cellsOf(rows)} g
    where c.workspace_id = g.workspace_id and c.level = g.level and c.cx = g.cx and c.cy = g.cy
      and c.drone_sn = g.drone_sn and c.media_type = g.media_type;
  delete from media_map_cells c using ${cellsOf(rows)} g
    where c.workspace_id = g.workspace_id and c.level = g.level and c.cx = g.cx and c.cy = g.cy
      and c.drone_sn = g.drone_sn and c.media_type = g.media_type and c.file_count <= 0;`;

/**
 * PostgreSQL: one trigger function per event, run once per statement over its transition tables
 * (`added`, `removed`), so a bulk insert costs one grouped upsert per kept table. Updates count only
 * the rows whose kept facts changed (joined by id, which never changes).
 */
async function triggersPostgres(db: Kysely<unknown>): Promise<void> {
  await keptStatementFunctions(db);
  const run = (text: string) => sql.raw(text).execute(db);
  await run(`create trigger media_files_kept_insert after insert on media_files
    referencing new table as added for each statement execute function media_files_kept_insert()`);
  await run(`create trigger media_files_kept_delete after delete on media_files
    referencing old table as removed for each statement execute function media_files_kept_delete()`);
  await keptUpdateStatementTrigger(db);
}

/**
 * (Re)creates the functions of the statement-level INSERT and DELETE triggers, with what later
 * migrations keep too (`more`: SQL over the transition table `added` or `removed`; 0013's group counts).
 */
export async function keptStatementFunctions(
  db: Kysely<unknown>,
  more: { added?: string; removed?: string } = {},
): Promise<void> {
  const run = (text: string) => sql.raw(text).execute(db);
  // Each function returns at once when its statement changed nothing it keeps: every upsert fires the
  // UPDATE trigger too, even when it inserted, and most updates (enrichment) move nothing kept.
  const fn = (name: string, unchanged: string, body: string) =>
    run(`create or replace function ${name}() returns trigger language plpgsql as $body$
    begin
      if ${unchanged} then return null; end if;
      ${body}
      return null;
    end $body$`);

  await fn(
    'media_files_kept_insert',
    'not exists (select 1 from added)',
    [addCounts('added'), addCells('added'), more.added ?? ''].join('\n'),
  );
  await fn(
    'media_files_kept_delete',
    'not exists (select 1 from removed)',
    [removeCounts('removed'), removeCells('removed'), more.removed ?? ''].join('\n'),
  );
}

/**
 * The statement-level UPDATE trigger this migration made; since 0012 a row-level one fires instead, and
 * 0012's `down` puts this one back.
 */
export async function keptUpdateStatementTrigger(db: Kysely<unknown>): Promise<void> {
  const run = (text: string) => sql.raw(text).execute(db);
  // Transition tables cannot be referenced from a CTE of another statement: each statement selects the
  // changed rows again (cheap: an update statement changes one row, or a handful).
  const changed = (side: 'a' | 'r', test: string) =>
    `(select ${side}.* from removed r join added a on a.id = r.id where ${test})`;
  const countsMoved = `(r.workspace_id, r.drone_sn, r.media_type) is distinct from (a.workspace_id, a.drone_sn, a.media_type)`;
  // Cells depend on all that counts depend on, and more: no change here, no change at all.
  const cellsMoved = `(r.workspace_id, r.latitude, r.longitude, r.drone_sn, r.media_type)
    is distinct from (a.workspace_id, a.latitude, a.longitude, a.drone_sn, a.media_type)`;
  await run(`create function media_files_kept_update() returns trigger language plpgsql as $body$
    begin
      if not exists ${changed('r', cellsMoved)} then return null; end if;
      ${[
        removeCounts(changed('r', countsMoved)),
        addCounts(changed('a', countsMoved)),
        removeCells(changed('r', cellsMoved)),
        addCells(changed('a', cellsMoved)),
      ].join('\n')}
      return null;
    end $body$`);
  await run(`create trigger media_files_kept_update after update on media_files
    referencing old table as removed new table as added for each statement execute function media_files_kept_update()`);
}

/** The kept tables and the text index for the files recorded before this migration. */
async function backfill(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const run = (text: string) => sql.raw(text).execute(db);
  await run(`insert into media_counts (workspace_id, drone_sn, media_type, file_count, drone_model_key)
    select workspace_id, coalesce(drone_sn, ''), media_type, count(*), max(drone_model_key)
    from media_files group by 1, 2, 3`);
  for (const level of MAP_CELL_LEVELS) {
    const cx = cellOf(dialect, 'longitude', 'lon', level);
    const cy = cellOf(dialect, 'latitude', 'lat', level);
    await run(`insert into media_map_cells
        (workspace_id, level, cx, cy, drone_sn, media_type, file_count, sum_lat, sum_lon, sample_id)
      select workspace_id, ${level}, ${cx}, ${cy}, coalesce(drone_sn, ''), media_type,
        count(*), sum(latitude), sum(longitude), max(id)
      from media_files where latitude is not null and longitude is not null
      group by workspace_id, ${cx}, ${cy}, coalesce(drone_sn, ''), media_type`);
  }
  if (dialect === 'sqlite') {
    await run(`insert into media_search_docs (file_id) select id from media_files`);
    await run(`insert into media_fts (rowid, name, path)
      select s.doc, m.name, m.path from media_search_docs s join media_files m on m.id = s.file_id`);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    for (const event of ['insert', 'update', 'delete']) {
      await sql.raw(`drop trigger if exists media_files_kept_${event} on media_files`).execute(db);
      await sql.raw(`drop function if exists media_files_kept_${event}()`).execute(db);
    }
    await sql`drop index if exists media_files_name_trgm_idx`.execute(db);
    await sql`drop index if exists media_files_path_trgm_idx`.execute(db);
  } else {
    for (const name of [
      'kept_insert',
      'cells_insert',
      'kept_delete',
      'cells_delete',
      'counts_update',
      'search_update',
      'cells_update_old',
      'cells_update_new',
    ]) {
      await sql.raw(`drop trigger if exists media_files_${name}`).execute(db);
    }
    await sql`drop table if exists media_fts`.execute(db);
    await db.schema.dropTable('media_search_docs').ifExists().execute();
  }
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
  for (const name of [
    'media_files_taken_idx',
    'media_files_drone_taken_idx',
    'media_files_type_taken_idx',
    'media_files_group_taken_idx',
    'media_files_created_idx',
    'media_files_geo_idx',
  ]) {
    await db.schema.dropIndex(name).ifExists().execute();
  }
  await db.schema.dropTable('media_map_cells').ifExists().execute();
  await db.schema.dropTable('media_counts').ifExists().execute();
}
