import {
  type ExpressionBuilder,
  type Expression,
  type Insertable,
  type Kysely,
  PostgresAdapter,
  type Selectable,
  type SqlBool,
  sql,
} from 'kysely';
import { MAP_CELL_LEVELS } from '../../db/migrations/0007-library-indexes.ts';
import { prepareQuery } from '../../db/prepared.ts';
import type { DB, MediaFilesTable, MediaType, MediaUploadFailuresTable } from '../../db/schema.ts';

export type MediaFile = Selectable<MediaFilesTable>;
export type NewMediaFile = Omit<Insertable<MediaFilesTable>, 'thumbnailKey' | 'enrichedAt'> & {
  [K in KeptWhenMissing | Replaced]: MediaFilesTable[K];
};

/**
 * How a report of an object key already recorded updates its row. What describes the bytes is replaced;
 * optional facts a report lacks are kept while the object is unchanged (same ETag), so a retried report
 * without metadata never erases what an earlier report or enrichment (EXIF) filled in. When the object
 * changed, the report's values replace them all and enrichment runs again.
 */
const REPLACED = [
  'name',
  'path',
  'source',
  'mediaType',
  'isOriginal',
  'size',
  'contentType',
  'etag',
] as const satisfies readonly (keyof MediaFilesTable)[];
const KEPT_WHEN_MISSING = [
  'fingerprint',
  'tinyFingerprint',
  'subFileType',
  'fileGroupId',
  'droneSn',
  'droneModelKey',
  'payloadModelKey',
  'latitude',
  'longitude',
  'absoluteAltitude',
  'relativeAltitude',
  'gimbalYawDegree',
  'capturedAt',
  'capturedAtRaw',
] as const satisfies readonly (keyof MediaFilesTable)[];
type Replaced = (typeof REPLACED)[number];
type KeptWhenMissing = (typeof KEPT_WHEN_MISSING)[number];

/** Whether recording `file` over `current` (same workspace and object key) would change the row. */
export function changesRecordedFile(current: MediaFile, file: NewMediaFile): boolean {
  if (REPLACED.some((column) => current[column] !== file[column])) return true;
  return KEPT_WHEN_MISSING.some((column) => file[column] !== null && current[column] !== file[column]);
}

/** What enrichment may fill in: capture metadata the report lacked, and the thumbnail. */
export type EnrichmentFacts = Partial<
  Pick<
    MediaFile,
    | 'latitude'
    | 'longitude'
    | 'absoluteAltitude'
    | 'relativeAltitude'
    | 'gimbalYawDegree'
    | 'capturedAt'
    | 'capturedAtRaw'
    | 'thumbnailKey'
    | 'previewKey'
    | 'durationMs'
    | 'enrichmentError'
  >
>;

/** A file as the library lists it: with its aircraft's and payload's model names (device dictionary). */
export type LibraryFile = MediaFile & { payloadName: string | null; droneName: string | null };

export interface MediaFilter {
  droneSn?: string | undefined;
  mediaType?: MediaType | undefined;
  /** Epoch ms, inclusive, on the capture time (or, when unknown, the time it was recorded). */
  from?: number | undefined;
  to?: number | undefined;
  fileGroupId?: string | undefined;
  /** Case-insensitive substring of the name or path. */
  text?: string | undefined;
}

/** Where a page of the web library starts: after this file, in its order (taken_at desc, id desc). */
export interface LibraryCursor {
  takenAt: number;
  id: string;
}

/** How many files of an aircraft (null: none named) and type match. */
export interface CountCell {
  droneSn: string | null;
  mediaType: MediaType;
  count: number;
}

/** What the device dictionary calls an aircraft that has files. */
export interface DroneName {
  droneSn: string;
  name: string | null;
  modelKey: string | null;
}

/** A map marker: files of one grid cell, at their centroid. */
export interface MapCluster {
  latitude: number;
  longitude: number;
  count: number;
  /** One file of the cluster: the file itself when count is 1. */
  fileId: string | null;
}

/** A map area in grid cells of one level (cx from longitude -180, cy from latitude -90), inclusive. */
export interface CellRange {
  level: number;
  /** x0 > x1 when the area crosses the antimeridian. */
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** Degrees, inclusive; west > east crosses the antimeridian. */
export interface BoundingBox {
  west: number;
  south: number;
  east: number;
  north: number;
}

/** The kept grid levels of media_map_cells (migration 0007). */
export const KEPT_MAP_LEVELS: readonly number[] = MAP_CELL_LEVELS;

/** Texts shorter than this (in characters) cannot use a trigram index: they are matched by a scan. */
export const TEXT_INDEX_MIN_CHARS = 3;

/**
 * SQLite: a text matching more files than this is searched by walking the library's order, testing each
 * file, instead of through the text index. The index gives its matches in document order, and all of
 * them must be read and sorted by taken_at before the first page; a text that common (0.5% of a million
 * files) finds a page's worth a few ten thousand files into the order.
 */
const TEXT_INDEX_MAX_HITS = 5000;

/**
 * How a text filter is run: through SQLite's FTS5 table, through PostgreSQL's trigram indexes (a LIKE
 * the planner may serve with them), or by testing each file of a scan.
 */
type TextMatch =
  { kind: 'fts'; query: string } | { kind: 'like'; pattern: string } | { kind: 'scan'; needle: string };

export interface GroupCount {
  fileGroupId: string;
  stored: number;
  lastAt: number;
}

/** Largest IN (…) list per query: far below SQLite's and PostgreSQL's bound-parameter limits. */
const LOOKUP_CHUNK = 1000;

export class MediaRepo {
  // The queries of every Pilot report and fast-upload, compiled once (db/prepared.ts).
  private readonly byFingerprint;
  private readonly byObjectKey;
  private readonly reportTargets;
  private readonly upsert;
  private readonly upsertChangedQuery;
  private readonly linkGroup;
  private readonly groupCount;
  private readonly groupProgressQuery;

  constructor(private readonly db: Kysely<DB>) {
    // Each lookup seeks its unique index: "the first row at or after (workspace, value) in the index's
    // order", checked for equality by the caller (sameAs). Written as `workspace = ? and value = ?`,
    // PostgreSQL picks whichever index starts with workspace_id while the table has no statistics yet
    // (after a first start or a bulk load): they all look alike to it then, and it filtered every file of
    // the workspace on each report. A row comparison ordered by the index's columns can be served by
    // that index only, whatever the statistics say.
    const seek = (workspaceId: string, column: 'objectKey' | 'fingerprint', value: string | null) =>
      db
        .selectFrom('mediaFiles')
        .where((eb) => eb(eb.refTuple('workspaceId', column), '>=', eb.tuple(workspaceId, value)))
        .orderBy('workspaceId')
        .orderBy(column)
        .limit(1);
    this.byFingerprint = prepareQuery(
      db,
      ['workspaceId', 'fingerprint'],
      (a: { workspaceId: string; fingerprint: string }) =>
        seek(a.workspaceId, 'fingerprint', a.fingerprint).select([
          'id',
          'objectKey',
          'fileGroupId',
          'workspaceId',
          'fingerprint',
        ]),
    );
    this.byObjectKey = prepareQuery(
      db,
      ['workspaceId', 'objectKey'],
      (a: { workspaceId: string; objectKey: string }) =>
        seek(a.workspaceId, 'objectKey', a.objectKey).selectAll(),
    );
    // What a report needs before it writes, in one round trip: the row of its key, and the row holding
    // its fingerprint (none without a fingerprint: a comparison with NULL matches nothing).
    this.reportTargets = prepareQuery(
      db,
      ['workspaceId', 'objectKey', 'fingerprint'],
      (a: { workspaceId: string; objectKey: string; fingerprint: string | null }) =>
        db
          .selectFrom(seek(a.workspaceId, 'objectKey', a.objectKey).selectAll().as('k'))
          .selectAll()
          .select(sql<'key' | 'fingerprint'>`'key'`.as('hit'))
          .unionAll(
            db
              .selectFrom(seek(a.workspaceId, 'fingerprint', a.fingerprint).selectAll().as('f'))
              .selectAll()
              .select(sql<'key' | 'fingerprint'>`'fingerprint'`.as('hit')),
          ),
    );
    // References go through sql.ref so that CamelCasePlugin names the columns, as everywhere else.
    const excluded = (c: string) => sql.ref(`excluded.${c}`);
    const recorded = (c: string) => sql.ref(`mediaFiles.${c}`);
    const sameObject = sql`${recorded('etag')} = ${excluded('etag')}`;
    const updates = {
      ...Object.fromEntries(REPLACED.map((c) => [c, excluded(c)])),
      ...Object.fromEntries(
        KEPT_WHEN_MISSING.map((c) => [
          c,
          sql`CASE WHEN ${sameObject} THEN coalesce(${excluded(c)}, ${recorded(c)}) ELSE ${excluded(c)} END`,
        ]),
      ),
      updatedAt: sql<number>`excluded.updated_at`,
      // Enrichment (metadata from the file, thumbnail) stays valid unless the object changed.
      enrichedAt: sql<number | null>`CASE WHEN ${sameObject} THEN media_files.enriched_at ELSE NULL END`,
      // A new object is a new file to enrich: why the old one failed, and how often, no longer apply.
      enrichmentError: sql<
        string | null
      >`CASE WHEN ${sameObject} THEN ${recorded('enrichmentError')} ELSE NULL END`,
      // Recording a new object counts as the first start of its enrichment (MediaEnricher.enqueue).
      enrichmentAttempts: sql<number>`CASE WHEN ${sameObject} THEN ${recorded('enrichmentAttempts')} ELSE 1 END`,
    };
    const columns = [
      'id',
      'workspaceId',
      'objectKey',
      'createdAt',
      'updatedAt',
      ...REPLACED,
      ...KEPT_WHEN_MISSING,
    ] as const;
    const linkGroup = (a: { workspaceId: string; id: string; gatewaySn: string; now: number }) =>
      db
        .insertInto('fileGroups')
        .values({
          workspaceId: a.workspaceId,
          id: a.id,
          expectedCount: null,
          reportedUploadedCount: null,
          gatewaySn: a.gatewaySn,
          prioritizedAt: null,
          createdAt: a.now,
          updatedAt: a.now,
        })
        .onConflict((oc) =>
          oc.columns(['workspaceId', 'id']).doUpdateSet({
            gatewaySn: (eb) => eb.ref('excluded.gatewaySn'),
            updatedAt: (eb) => eb.ref('excluded.updatedAt'),
          }),
        )
        .returning('expectedCount');
    type GroupArgs = { workspaceId: string; id: string };
    this.linkGroup = prepareQuery(db, ['workspaceId', 'id', 'gatewaySn', 'now'], linkGroup);
    this.groupCount = prepareQuery(db, ['workspaceId', 'id'], (a: GroupArgs) =>
      db.selectNoFrom((eb) => this.groupCountOf(eb, a.workspaceId, a.id).as('n')),
    );
    // A flight's expected count and how many files it holds, in one round trip.
    this.groupProgressQuery = prepareQuery(db, ['workspaceId', 'id'], (a: GroupArgs) =>
      db.selectNoFrom((eb) => [
        eb
          .selectFrom('fileGroups')
          .select('expectedCount')
          .where('workspaceId', '=', a.workspaceId)
          .where('id', '=', a.id)
          .as('expectedCount'),
        this.groupCountOf(eb, a.workspaceId, a.id).as('n'),
      ]),
    );
    const insert = (file: NewMediaFile) =>
      db.insertInto('mediaFiles').values({ ...file, enrichmentAttempts: 1 });
    this.upsert = prepareQuery(db, columns, (file: NewMediaFile) =>
      insert(file)
        .onConflict((oc) => oc.columns(['workspaceId', 'objectKey']).doUpdateSet(updates))
        .returningAll(),
    );
    // changesRecordedFile in SQL: whether `report`'s values would change the `row`'s.
    type Column = (typeof REPLACED)[number] | (typeof KEPT_WHEN_MISSING)[number];
    const changes = (row: (c: Column) => Expression<unknown>, report: (c: Column) => Expression<unknown>) =>
      sql<SqlBool>`(${sql.join(
        [
          ...REPLACED.map((c) => sql`${row(c)} is distinct from ${report(c)}`),
          // A value the report lacks (null) changes nothing: compared with the row's own.
          ...KEPT_WHEN_MISSING.map((c) => sql`${row(c)} is distinct from coalesce(${report(c)}, ${row(c)})`),
        ],
        sql` or `,
      )})`;
    // PostgreSQL, in one round trip: the file of the key as it was (`current`, read from the statement's
    // snapshot), and the row written unless the report changes nothing. A repeated report (the common
    // retry) inserts nothing, so it neither locks nor writes the row; a report that conflicts with a
    // row recorded meanwhile updates it only if it changes it.
    this.upsertChangedQuery = prepareQuery(db, columns, (file: NewMediaFile) =>
      db
        .with('current', () => seek(file.workspaceId, 'objectKey', file.objectKey).selectAll())
        .with('written', (qc) =>
          qc
            .insertInto('mediaFiles')
            .columns([...columns, 'enrichmentAttempts'])
            .expression(
              qc
                .selectNoFrom((eb) => [
                  ...columns.map((c) => eb.val(file[c]).as(c)),
                  eb.lit(1).as('enrichmentAttempts'),
                ])
                .where(({ not, exists, selectFrom }) =>
                  not(
                    exists(
                      selectFrom('current')
                        .select(sql.lit(1).as('one'))
                        .where('current.workspaceId', '=', file.workspaceId)
                        .where('current.objectKey', '=', file.objectKey)
                        .where(
                          sql<SqlBool>`not ${changes(
                            (c) => sql.ref(`current.${c}`),
                            (c) => sql.val(file[c]),
                          )}`,
                        ),
                    ),
                  ),
                ),
            )
            .onConflict((oc) =>
              oc
                .columns(['workspaceId', 'objectKey'])
                .doUpdateSet(updates)
                .where(() => changes(recorded, excluded)),
            )
            .returningAll(),
        )
        .selectFrom('current')
        .selectAll()
        .select(sql<'key' | 'written'>`'key'`.as('hit'))
        .unionAll((eb) =>
          eb
            .selectFrom('written')
            .selectAll()
            .select(sql<'key' | 'written'>`'written'`.as('hit')),
        ),
    );
  }

  /** Files not enriched yet, oldest first (the enricher's queue after a restart). */
  async unenrichedIds(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('mediaFiles')
      .select('id')
      .where('enrichedAt', 'is', null)
      .orderBy('createdAt')
      .execute();
    return rows.map((r) => r.id);
  }

  /**
   * Stores what enrichment found, only if the file still holds the object examined (same ETag: a
   * re-upload resets enrichment and queues it again). Returns whether the row was updated. The file is
   * done, failed (`enrichmentError`) or not: its attempt is over.
   */
  async saveEnrichment(
    id: string,
    etag: string,
    found: EnrichmentFacts,
    enrichedAt: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('mediaFiles')
      .set({ enrichmentError: null, ...found, enrichedAt, enrichmentAttempts: 0 })
      .where('id', '=', id)
      .where('etag', '=', etag)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Counts an enrichment of the file as started, before its object is opened, and returns the file as
   * it is now (its attempts include this one); undefined when it is gone or already enriched.
   * endEnrichment or saveEnrichment counts it as over. What stays counted is the process dying on the file.
   */
  beginEnrichment(id: string): Promise<MediaFile | undefined> {
    return this.db
      .updateTable('mediaFiles')
      .set((eb) => ({ enrichmentAttempts: eb('enrichmentAttempts', '+', 1) }))
      .where('id', '=', id)
      .where('enrichedAt', 'is', null)
      .returningAll()
      .executeTakeFirst();
  }

  /** An enrichment that ended without a result (storage failed, shutdown): not the file's fault. */
  async endEnrichment(id: string, etag: string): Promise<void> {
    await this.db
      .updateTable('mediaFiles')
      .set((eb) => ({ enrichmentAttempts: eb('enrichmentAttempts', '-', 1) }))
      .where('id', '=', id)
      .where('etag', '=', etag)
      .where('enrichmentAttempts', '>', 0)
      .execute();
  }

  /** The file with this fingerprint (only what dedupe needs). */
  async findByFingerprint(
    workspaceId: string,
    fingerprint: string,
  ): Promise<Pick<MediaFile, 'id' | 'objectKey' | 'fileGroupId'> | undefined> {
    const [row] = await this.byFingerprint({ workspaceId, fingerprint });
    return row && sameAs(row, workspaceId, 'fingerprint', fingerprint) ? row : undefined;
  }

  /**
   * In one statement, what recording a report needs to know: the file recorded for its object key, and
   * the file holding its fingerprint (`twin`; the same row when both match it).
   */
  async findReportTargets(
    workspaceId: string,
    objectKey: string,
    fingerprint: string | undefined,
  ): Promise<{ current: MediaFile | undefined; twin: MediaFile | undefined }> {
    const rows = await this.reportTargets({ workspaceId, objectKey, fingerprint: fingerprint ?? null });
    const pick = (
      hit: 'key' | 'fingerprint',
      column: 'objectKey' | 'fingerprint',
      value: string | undefined,
    ) => {
      const row = rows.find((r) => r.hit === hit);
      if (!row || value === undefined || !sameAs(row, workspaceId, column, value)) return undefined;
      const { hit: _, ...file } = row;
      return file satisfies MediaFile;
    };
    return {
      current: pick('key', 'objectKey', objectKey),
      twin: pick('fingerprint', 'fingerprint', fingerprint),
    };
  }

  /** Puts a file that has no group into one; false when it has one by now. */
  async setGroupIfNone(id: string, fileGroupId: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('mediaFiles')
      .set({ fileGroupId, updatedAt: now })
      .where('id', '=', id)
      .where('fileGroupId', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Counts a file in a group it is not recorded under (once, however often Pilot asks). */
  async addGroupMember(workspaceId: string, fileGroupId: string, fileId: string, now: number): Promise<void> {
    await this.db
      .insertInto('fileGroupMembers')
      .values({ workspaceId, fileGroupId, fileId, linkedAt: now })
      .onConflict((oc) => oc.columns(['workspaceId', 'fileGroupId', 'fileId']).doNothing())
      .execute();
  }

  /**
   * A group holds the files recorded under it, plus the files linked to it (file_group_members) that
   * are not recorded under it (those are counted with the first). These two queries are the one rule
   * for every group count; one group's recorded files are also kept counted (groupCountOf).
   */
  private recordedInGroups(workspaceId: string) {
    return this.db
      .selectFrom('mediaFiles')
      .where('workspaceId', '=', workspaceId)
      .where('fileGroupId', 'is not', null);
  }

  private linkedToGroups(workspaceId: string) {
    return this.db
      .selectFrom('fileGroupMembers as g')
      .innerJoin('mediaFiles as f', 'f.id', 'g.fileId')
      .where('g.workspaceId', '=', workspaceId)
      .where((eb) =>
        eb.or([eb('f.fileGroupId', 'is', null), eb('f.fileGroupId', '!=', eb.ref('g.fileGroupId'))]),
      );
  }

  /** The file recorded for this object key. */
  async findByObjectKey(workspaceId: string, objectKey: string): Promise<MediaFile | undefined> {
    const [row] = await this.byObjectKey({ workspaceId, objectKey });
    return row && sameAs(row, workspaceId, 'objectKey', objectKey) ? row : undefined;
  }

  /** Which of `tinyFingerprints` the workspace holds, through the (workspace, tiny_fingerprint) index. */
  async existingTinyFingerprints(workspaceId: string, tinyFingerprints: string[]): Promise<Set<string>> {
    const unique = [...new Set(tinyFingerprints)];
    const found = new Set<string>();
    if (unique.length === 0) return found;
    if (this.db.getExecutor().adapter instanceof PostgresAdapter) {
      // One index probe per value (a LATERAL … LIMIT 1 cannot become a hash join), whatever the planner
      // statistics say. IN lists are planned from them: right after a bulk load (no ANALYZE yet) they
      // became sequential scans, 3 s for 10,000 values against 1,000,000 files; this takes 65 ms, with or
      // without statistics (bench/tiny-fingerprints, BENCH_SKIP_ANALYZE=1). Each probe is a seek of the
      // (workspace, tiny_fingerprint) index, the first entry at or after the value, as in the lookups
      // above: written as two equalities it was planned on any index starting with workspace_id while
      // the table had no statistics, reading every file of the workspace per value. The values go in
      // sorted, so consecutive probes walk the index in its order: 20–25% less time against 10,000,000
      // files, where each probe was about 7 µs (bench/tiny-fingerprints; docs/performance.md).
      const { rows } = await sql<{ tinyFingerprint: string }>`
        select wanted.value as tiny_fingerprint from unnest(${unique.sort()}::text[]) as wanted(value),
        lateral (select m.workspace_id, m.tiny_fingerprint from media_files m
                 where (m.workspace_id, m.tiny_fingerprint) >= (${workspaceId}, wanted.value)
                 order by m.workspace_id, m.tiny_fingerprint limit 1) as hit
        where hit.workspace_id = ${workspaceId} and hit.tiny_fingerprint = wanted.value`.execute(this.db);
      for (const row of rows) found.add(row.tinyFingerprint);
      return found;
    }
    for (let i = 0; i < unique.length; i += LOOKUP_CHUNK) {
      const rows = await this.db
        .selectFrom('mediaFiles')
        .select('tinyFingerprint')
        .where('workspaceId', '=', workspaceId)
        .where('tinyFingerprint', 'in', unique.slice(i, i + LOOKUP_CHUNK))
        .execute();
      for (const row of rows) if (row.tinyFingerprint !== null) found.add(row.tinyFingerprint);
    }
    return found;
  }

  /**
   * Inserts the file, or updates the row already recorded for its (workspace, object key) by the rules
   * of REPLACED and KEPT_WHEN_MISSING above.
   */
  async upsertByObjectKey(file: NewMediaFile): Promise<MediaFile> {
    const [row] = await this.upsert(file);
    if (!row) throw new Error('upsert returned no row');
    return row;
  }

  /**
   * Records a report of `file`: the row its (workspace, object key) held (`current`), and the row written
   * (`written`), undefined when the report would change nothing (changesRecordedFile) and nothing was
   * written. One statement on PostgreSQL, two on SQLite. Throws the unique violation of a fingerprint
   * another file holds: the caller decides then (MediaService.store).
   */
  async upsertChanged(
    file: NewMediaFile,
  ): Promise<{ current: MediaFile | undefined; written: MediaFile | undefined }> {
    if (!this.postgres) {
      const current = await this.findByObjectKey(file.workspaceId, file.objectKey);
      return { current, written: await this.writeIfChanged(current, file) };
    }
    const rows = await this.upsertChangedQuery(file);
    let current: MediaFile | undefined;
    let written: MediaFile | undefined;
    for (const { hit, ...row } of rows) {
      if (hit === 'written') written = row;
      else if (sameAs(row, file.workspaceId, 'objectKey', file.objectKey)) current = row;
    }
    return { current, written };
  }

  /**
   * Upserts `file` unless `current`, the row already recorded for its key, would not change
   * (changesRecordedFile); the row written, or undefined when nothing was.
   */
  async writeIfChanged(current: MediaFile | undefined, file: NewMediaFile): Promise<MediaFile | undefined> {
    if (current && !changesRecordedFile(current, file)) return undefined;
    return this.upsertByObjectKey(file);
  }

  private get postgres(): boolean {
    return this.db.getExecutor().adapter instanceof PostgresAdapter;
  }

  findById(workspaceId: string, id: string): Promise<LibraryFile | undefined> {
    return this.db
      .selectFrom('mediaFiles')
      .leftJoin('deviceModels as payloadModel', 'payloadModel.modelKey', 'mediaFiles.payloadModelKey')
      .leftJoin('deviceModels as droneModel', 'droneModel.modelKey', 'mediaFiles.droneModelKey')
      .selectAll('mediaFiles')
      .select(['payloadModel.name as payloadName', 'droneModel.name as droneName'])
      .where('mediaFiles.workspaceId', '=', workspaceId)
      .where('mediaFiles.id', '=', id)
      .executeTakeFirst();
  }

  /**
   * One page of the workspace's media in the DJI paths' order (newest recorded first), with the exact
   * total matching the filter. The page's ids come from an index alone ((workspace, created_at, id)
   * when unfiltered) and only then are their rows read, so a deep page skips index entries, not rows.
   */
  async list(
    workspaceId: string,
    filter: MediaFilter,
    page: { offset: number; limit: number },
  ): Promise<{ items: LibraryFile[]; total: number }> {
    const where = this.matching(workspaceId, filter, await this.textMatch(filter.text));
    const ids = this.db
      .selectFrom('mediaFiles')
      .select('mediaFiles.id as pageId')
      .where(where)
      .orderBy('mediaFiles.createdAt', 'desc')
      .orderBy('mediaFiles.id', 'desc')
      .offset(page.offset)
      .limit(page.limit);
    const items = await this.db
      .selectFrom(ids.as('page'))
      .innerJoin('mediaFiles', 'mediaFiles.id', 'page.pageId')
      .leftJoin('deviceModels as payloadModel', 'payloadModel.modelKey', 'mediaFiles.payloadModelKey')
      .leftJoin('deviceModels as droneModel', 'droneModel.modelKey', 'mediaFiles.droneModelKey')
      .selectAll('mediaFiles')
      .select(['payloadModel.name as payloadName', 'droneModel.name as droneName'])
      .orderBy('mediaFiles.createdAt', 'desc')
      .orderBy('mediaFiles.id', 'desc')
      .execute();
    return { items, total: await this.total(workspaceId, filter, where) };
  }

  /**
   * The exact number of files matching: from the kept counts when the filter is by aircraft and type
   * only, else counted through the filter's index (time window, group, text index).
   */
  private async total(workspaceId: string, filter: MediaFilter, where: Expression<SqlBool>): Promise<number> {
    if (isKeptFilter(filter)) return this.keptTotal(workspaceId, filter);
    const row = await this.db
      .selectFrom('mediaFiles')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where(where)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Files of the workspace, of one aircraft and one type if given, from the kept counts. */
  async keptTotal(workspaceId: string, filter: Pick<MediaFilter, 'droneSn' | 'mediaType'>): Promise<number> {
    let query = this.db
      .selectFrom('mediaCounts')
      .select((eb) => eb.fn.sum<number | string | null>('fileCount').as('n'))
      .where('workspaceId', '=', workspaceId);
    if (filter.droneSn) query = query.where('droneSn', '=', filter.droneSn);
    if (filter.mediaType) query = query.where('mediaType', '=', filter.mediaType);
    const row = await query.executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /**
   * A page of the web library: newest taken_at first (id breaks ties), after the cursor, at most
   * `limit` files. Each filter has an index in this order, so the page is read from where the cursor
   * points, however deep.
   */
  async listAfter(
    workspaceId: string,
    filter: MediaFilter,
    page: { after?: LibraryCursor | undefined; limit: number },
  ): Promise<LibraryFile[]> {
    let query = this.db
      .selectFrom('mediaFiles')
      .leftJoin('deviceModels as payloadModel', 'payloadModel.modelKey', 'mediaFiles.payloadModelKey')
      .leftJoin('deviceModels as droneModel', 'droneModel.modelKey', 'mediaFiles.droneModelKey')
      .selectAll('mediaFiles')
      .select(['payloadModel.name as payloadName', 'droneModel.name as droneName'])
      .where(this.matching(workspaceId, filter, await this.textMatch(filter.text)));
    if (page.after) {
      // A row comparison: both databases read it as one range of the (…, taken_at, id) index.
      query = query.where(
        sql<SqlBool>`(${sql.ref('mediaFiles.takenAt')}, ${sql.ref('mediaFiles.id')}) < (${page.after.takenAt}, ${page.after.id})`,
      );
    }
    return query
      .orderBy('mediaFiles.takenAt', 'desc')
      .orderBy('mediaFiles.id', 'desc')
      .limit(page.limit)
      .execute();
  }

  /** Files per aircraft and type in the workspace, from the kept counts (exact, a few rows). */
  async keptCounts(workspaceId: string): Promise<CountCell[]> {
    const rows = await this.db
      .selectFrom('mediaCounts')
      .select(['droneSn', 'mediaType', 'fileCount'])
      .where('workspaceId', '=', workspaceId)
      .execute();
    return rows.map((r) => ({
      droneSn: r.droneSn || null,
      mediaType: r.mediaType,
      count: Number(r.fileCount),
    }));
  }

  /**
   * Files per aircraft and type among those matching the filter, counting at most `cap` + 1 files
   * (through the filter's index): `exact` is false when there were more.
   */
  async countMatching(
    workspaceId: string,
    filter: MediaFilter,
    cap: number,
  ): Promise<{ cells: CountCell[]; exact: boolean }> {
    const matching = this.db
      .selectFrom('mediaFiles')
      .select(['mediaFiles.droneSn as droneSn', 'mediaFiles.mediaType as mediaType'])
      .where(this.matching(workspaceId, filter, await this.textMatch(filter.text)))
      .limit(cap + 1);
    const rows = await this.db
      .selectFrom(matching.as('m'))
      .select((eb) => ['m.droneSn', 'm.mediaType', eb.fn.countAll<number | string>().as('n')])
      .groupBy(['m.droneSn', 'm.mediaType'])
      .execute();
    const cells = rows.map((r) => ({
      droneSn: r.droneSn || null,
      mediaType: r.mediaType,
      count: Number(r.n),
    }));
    return { cells, exact: cells.reduce((sum, c) => sum + c.count, 0) <= cap };
  }

  /**
   * The aircraft that have files in the workspace, with their model's name: the model the device
   * registered with (devices), else the model its files named.
   */
  async droneNames(workspaceId: string): Promise<DroneName[]> {
    const rows = await this.db
      .selectFrom('mediaCounts as c')
      .leftJoin('devices as d', 'd.sn', 'c.droneSn')
      .select((eb) => [
        'c.droneSn',
        eb.fn.max(eb.fn.coalesce('d.modelKey', 'c.droneModelKey')).as('modelKey'),
      ])
      .where('c.workspaceId', '=', workspaceId)
      .where('c.droneSn', '!=', '')
      .groupBy('c.droneSn')
      .execute();
    const keys = [...new Set(rows.flatMap((r) => (r.modelKey ? [r.modelKey] : [])))];
    const models =
      keys.length === 0
        ? []
        : await this.db
            .selectFrom('deviceModels')
            .select(['modelKey', 'name'])
            .where('modelKey', 'in', keys)
            .execute();
    const nameOf = new Map(models.map((m) => [m.modelKey, m.name]));
    return rows.map((r) => ({
      droneSn: r.droneSn,
      modelKey: r.modelKey ?? null,
      name: (r.modelKey && nameOf.get(r.modelKey)) ?? null,
    }));
  }

  /**
   * Map clusters of the workspace within `range` from the kept cells: all geotagged files, or those of
   * one aircraft and/or type (the cells keep both).
   */
  async keptMapCells(
    workspaceId: string,
    filter: Pick<MediaFilter, 'droneSn' | 'mediaType'>,
    range: CellRange,
  ): Promise<MapCluster[]> {
    let query = this.db
      .selectFrom('mediaMapCells')
      .select((eb) => [
        eb.fn.sum<number | string>('fileCount').as('n'),
        eb.fn.sum<number>('sumLat').as('sumLat'),
        eb.fn.sum<number>('sumLon').as('sumLon'),
        eb.fn.max('sampleId').as('sampleId'),
      ])
      .where('workspaceId', '=', workspaceId)
      .where('level', '=', range.level)
      .where('cy', '>=', range.y0)
      .where('cy', '<=', range.y1);
    query =
      range.x0 <= range.x1
        ? query.where('cx', '>=', range.x0).where('cx', '<=', range.x1)
        : query.where((eb) => eb.or([eb('cx', '>=', range.x0), eb('cx', '<=', range.x1)]));
    if (filter.droneSn) query = query.where('droneSn', '=', filter.droneSn);
    if (filter.mediaType) query = query.where('mediaType', '=', filter.mediaType);
    const rows = await query.groupBy(['cx', 'cy']).execute();
    return rows.map((r) => {
      const count = Number(r.n);
      return {
        latitude: Number(r.sumLat) / count,
        longitude: Number(r.sumLon) / count,
        count,
        fileId: r.sampleId,
      };
    });
  }

  /**
   * Map clusters computed now, on the grid of `level`, over at most `cap` + 1 geotagged files matching
   * the filter and inside the box (through the filter's index, or the (workspace, latitude, longitude)
   * one): `exact` is false when more files matched, and the clusters then show only some of them.
   */
  async aggregateMap(
    workspaceId: string,
    filter: MediaFilter,
    area: { level: number; box: BoundingBox | undefined; cap: number },
  ): Promise<{ clusters: MapCluster[]; exact: boolean }> {
    const lat = sql.ref('mediaFiles.latitude');
    const lon = sql.ref('mediaFiles.longitude');
    let matching = this.db
      .selectFrom('mediaFiles')
      .select([
        this.cellOf(lon, 180, area.level, 2 ** area.level).as('cx'),
        this.cellOf(lat, 90, area.level, 2 ** (area.level - 1)).as('cy'),
        'mediaFiles.latitude as lat',
        'mediaFiles.longitude as lon',
        'mediaFiles.id as fileId',
      ])
      .where(this.matching(workspaceId, filter, await this.textMatch(filter.text)))
      .where('mediaFiles.latitude', 'is not', null)
      .where('mediaFiles.longitude', 'is not', null);
    const box = area.box;
    if (box) {
      matching = matching
        .where('mediaFiles.latitude', '>=', box.south)
        .where('mediaFiles.latitude', '<=', box.north)
        .where((eb) =>
          box.west <= box.east
            ? eb.and([eb('mediaFiles.longitude', '>=', box.west), eb('mediaFiles.longitude', '<=', box.east)])
            : eb.or([eb('mediaFiles.longitude', '>=', box.west), eb('mediaFiles.longitude', '<=', box.east)]),
        );
    }
    const rows = await this.db
      .selectFrom(matching.limit(area.cap + 1).as('m'))
      .select((eb) => [
        eb.fn.countAll<number | string>().as('n'),
        eb.fn.sum<number>('m.lat').as('sumLat'),
        eb.fn.sum<number>('m.lon').as('sumLon'),
        eb.fn.max('m.fileId').as('sampleId'),
      ])
      .groupBy(['m.cx', 'm.cy'])
      .execute();
    let files = 0;
    const clusters = rows.map((r) => {
      const count = Number(r.n);
      files += count;
      return {
        latitude: Number(r.sumLat) / count,
        longitude: Number(r.sumLon) / count,
        count,
        fileId: r.sampleId,
      };
    });
    return { clusters, exact: files <= area.cap };
  }

  /** The SQL of a coordinate's grid cell, as migration 0007 computes it for the kept cells. */
  private cellOf(value: Expression<unknown>, origin: number, level: number, cells: number) {
    const size = 360 / 2 ** level;
    return this.postgres
      ? sql<number>`floor(greatest(0, least((${value} + ${sql.lit(origin)}) / ${sql.lit(size)}, ${sql.lit(cells - 1)})))::integer`
      : sql<number>`cast(max(0, min((${value} + ${sql.lit(origin)}) / ${sql.lit(size)}, ${sql.lit(cells - 1)})) as integer)`;
  }

  /**
   * The condition of a filter over media_files (every column qualified, so it serves joined queries).
   * Each equality filter combined with the library's order has its own index (migration 0007).
   */
  private matching(
    workspaceId: string,
    filter: MediaFilter,
    text: TextMatch | undefined,
  ): Expression<SqlBool> {
    const column = (name: keyof MediaFilesTable) => sql.ref(`mediaFiles.${name}`);
    // SQLite, without statistics, takes `workspace_id = ?` for a very selective index term and would scan
    // the workspace testing each file against the text index's few hits. The unary + hides that term from
    // the planner, so the hits lead (by primary key), as they should: there are at most TEXT_INDEX_MAX_HITS.
    const parts = [
      text?.kind === 'fts'
        ? sql`+${column('workspaceId')} = ${workspaceId}`
        : sql`${column('workspaceId')} = ${workspaceId}`,
    ];
    if (filter.droneSn) parts.push(sql`${column('droneSn')} = ${filter.droneSn}`);
    if (filter.mediaType) parts.push(sql`${column('mediaType')} = ${filter.mediaType}`);
    if (filter.fileGroupId) parts.push(sql`${column('fileGroupId')} = ${filter.fileGroupId}`);
    if (filter.from !== undefined) parts.push(sql`${column('takenAt')} >= ${filter.from}`);
    if (filter.to !== undefined) parts.push(sql`${column('takenAt')} <= ${filter.to}`);
    if (text) {
      const name = sql`lower(${column('name')})`;
      const path = sql`lower(${column('path')})`;
      if (text.kind === 'fts') {
        parts.push(sql`${column('id')} in (select d.file_id from media_search_docs d
          where d.doc in (select rowid from media_fts where media_fts match ${text.query}))`);
      } else if (text.kind === 'like') {
        parts.push(
          sql`(${name} like ${text.pattern} escape '\\' or ${path} like ${text.pattern} escape '\\')`,
        );
      } else {
        // Not LIKE: a pattern of one or two characters would tempt PostgreSQL into a full trigram index scan.
        const find = this.postgres ? sql`strpos` : sql`instr`;
        parts.push(sql`(${find}(${name}, ${text.needle}) > 0 or ${find}(${path}, ${text.needle}) > 0)`);
      }
    }
    return sql<SqlBool>`(${sql.join(parts, sql` and `)})`;
  }

  /**
   * How to run a text filter. 3 characters or more go through the trigram index: on PostgreSQL a LIKE
   * that the planner serves with the pg_trgm indexes when the text is rare, or by walking the order
   * when it is common (and by a scan when pg_trgm could not be installed); on SQLite the FTS5 table,
   * unless the text is so common that walking the order finds a page sooner. Shorter texts are scanned.
   */
  private async textMatch(text: string | undefined): Promise<TextMatch | undefined> {
    if (!text) return undefined;
    const needle = text.toLowerCase();
    if ([...text].length < TEXT_INDEX_MIN_CHARS) return { kind: 'scan', needle };
    if (this.postgres) return { kind: 'like', pattern: `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%` };
    // An FTS5 string: substring match of the whole text, quotes doubled.
    const query = `"${text.replace(/"/g, '""')}"`;
    const { rows } = await sql<{ n: number }>`select count(*) as n from
      (select rowid from media_fts where media_fts match ${query} limit ${TEXT_INDEX_MAX_HITS + 1})`.execute(
      this.db,
    );
    return Number(rows[0]?.n ?? 0) > TEXT_INDEX_MAX_HITS ? { kind: 'scan', needle } : { kind: 'fts', query };
  }

  /** The thumbnail key of each group's newest file (one index probe per group). */
  async groupCovers(workspaceId: string, groupIds: string[]): Promise<Map<string, string | null>> {
    const covers = new Map<string, string | null>();
    if (groupIds.length === 0) return covers;
    const groups = this.postgres
      ? sql`unnest(${groupIds}::text[]) as g(value)`
      : sql`json_each(${JSON.stringify(groupIds)}) as g`;
    const { rows } = await sql<{ groupId: string; thumbnailKey: string | null }>`
      select g.value as group_id,
        (select m.thumbnail_key from media_files m
         where m.workspace_id = ${workspaceId} and m.file_group_id = g.value
         order by m.taken_at desc, m.id desc limit 1) as thumbnail_key
      from ${groups}`.execute(this.db);
    for (const row of rows) covers.set(row.groupId, row.thumbnailKey);
    return covers;
  }

  /** Deletes the workspace's files among `ids`; returns the rows deleted. */
  deleteMany(workspaceId: string, ids: string[]): Promise<MediaFile[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db
      .deleteFrom('mediaFiles')
      .where('workspaceId', '=', workspaceId)
      .where('id', 'in', ids)
      .returningAll()
      .execute();
  }

  async groupCounts(workspaceId: string): Promise<GroupCount[]> {
    const [recorded, linked] = await Promise.all([
      this.recordedInGroups(workspaceId)
        .select((eb) => [
          'fileGroupId as groupId',
          eb.fn.countAll<number | string>().as('stored'),
          eb.fn.max('createdAt').as('lastAt'),
        ])
        .groupBy('fileGroupId')
        .execute(),
      this.linkedToGroups(workspaceId)
        .select((eb) => [
          'g.fileGroupId as groupId',
          eb.fn.countAll<number | string>().as('stored'),
          eb.fn.max('f.createdAt').as('lastAt'),
        ])
        .groupBy('g.fileGroupId')
        .execute(),
    ]);
    const counts = new Map<string, GroupCount>();
    for (const r of [...recorded, ...linked]) {
      const id = r.groupId!;
      const seen = counts.get(id);
      counts.set(id, {
        fileGroupId: id,
        stored: (seen?.stored ?? 0) + Number(r.stored),
        lastAt: Math.max(seen?.lastAt ?? 0, Number(r.lastAt)),
      });
    }
    return [...counts.values()];
  }

  groups(workspaceId: string) {
    return this.db.selectFrom('fileGroups').selectAll().where('workspaceId', '=', workspaceId).execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('mediaFiles').where('id', '=', id).execute();
  }

  async insertFailure(failure: Insertable<MediaUploadFailuresTable>): Promise<void> {
    await this.db.insertInto('mediaUploadFailures').values(failure).execute();
  }

  async upsertGroup(
    workspaceId: string,
    id: string,
    expected: number,
    reportedUploaded: number,
    now: number,
  ): Promise<void> {
    await this.db
      .insertInto('fileGroups')
      .values({
        workspaceId,
        id,
        expectedCount: expected,
        reportedUploadedCount: reportedUploaded,
        createdAt: now,
        updatedAt: now,
      })
      .onConflict((oc) =>
        oc
          .columns(['workspaceId', 'id'])
          .doUpdateSet({ expectedCount: expected, reportedUploadedCount: reportedUploaded, updatedAt: now }),
      )
      .execute();
  }

  /**
   * What a dock says about a flight's group: its gateway, and when given its expected media count or
   * the time it made the flight its upload priority. Returns the expected count now known.
   */
  async upsertGroupFacts(
    workspaceId: string,
    id: string,
    now: number,
    facts: { gatewaySn: string; expectedCount?: number; prioritizedAt?: number },
  ): Promise<number | null> {
    if (facts.expectedCount === undefined && facts.prioritizedAt === undefined) {
      // Every uploaded file of a flight comes here: compiled once.
      const [row] = await this.linkGroup({ workspaceId, id, gatewaySn: facts.gatewaySn, now });
      return row?.expectedCount ?? null;
    }
    const known = {
      gatewaySn: facts.gatewaySn,
      ...(facts.expectedCount === undefined ? {} : { expectedCount: facts.expectedCount }),
      ...(facts.prioritizedAt === undefined ? {} : { prioritizedAt: facts.prioritizedAt }),
    };
    const row = await this.db
      .insertInto('fileGroups')
      .values({
        workspaceId,
        id,
        expectedCount: null,
        reportedUploadedCount: null,
        prioritizedAt: null,
        createdAt: now,
        updatedAt: now,
        ...known,
      })
      .onConflict((oc) => oc.columns(['workspaceId', 'id']).doUpdateSet({ ...known, updatedAt: now }))
      .returning('expectedCount')
      .executeTakeFirst();
    return row?.expectedCount ?? null;
  }

  findGroup(workspaceId: string, id: string) {
    return this.db
      .selectFrom('fileGroups')
      .selectAll()
      .where('workspaceId', '=', workspaceId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** The flight a gateway last said it uploads first. */
  async currentPriority(gatewaySn: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('fileGroups')
      .select('id')
      .where('gatewaySn', '=', gatewaySn)
      .where('prioritizedAt', 'is not', null)
      .orderBy('prioritizedAt', 'desc')
      .executeTakeFirst();
    return row?.id;
  }

  /** How many files a group holds (the count Skyvault can vouch for), in one statement. */
  async countInGroup(workspaceId: string, fileGroupId: string): Promise<number> {
    const [row] = await this.groupCount({ workspaceId, id: fileGroupId });
    return Number(row?.n ?? 0);
  }

  /** A flight's expected count, when known, and how many files its group holds now. */
  async groupProgress(
    workspaceId: string,
    id: string,
  ): Promise<{ expected: number | null; uploaded: number }> {
    const [row] = await this.groupProgressQuery({ workspaceId, id });
    return { expected: row?.expectedCount ?? null, uploaded: Number(row?.n ?? 0) };
  }

  /**
   * The one rule of a group's count: the files recorded under it, plus the files linked to it
   * (file_group_members) that are recorded under no group or another. The recorded ones are kept
   * (media_group_counts, migration 0013): a primary-key read, where a count of the group index was
   * planned on any index starting with workspace_id while the table had no statistics, reading every
   * file of the workspace on each report. The linked ones are counted through their table's key.
   */
  private groupCountOf(eb: ExpressionBuilder<DB, never>, workspaceId: string, fileGroupId: string) {
    const recorded = eb.fn.coalesce(
      eb
        .selectFrom('mediaGroupCounts')
        .select('fileCount')
        .where('workspaceId', '=', workspaceId)
        .where('fileGroupId', '=', fileGroupId),
      sql.lit(0),
    );
    const linked = this.linkedToGroups(workspaceId)
      .select((e) => e.fn.countAll<number>().as('n'))
      .where('g.fileGroupId', '=', fileGroupId);
    return eb(recorded, '+', linked);
  }
}

/** Whether a row found by an index seek (the first at or after the value) is the one looked for. */
function sameAs<K extends 'objectKey' | 'fingerprint'>(
  row: { workspaceId: string } & { [C in K]: string | null },
  workspaceId: string,
  column: K,
  value: string,
): boolean {
  return row.workspaceId === workspaceId && row[column] === value;
}

/** Whether the kept counts answer the filter: by aircraft and type only. */
export function isKeptFilter(filter: MediaFilter): boolean {
  return filter.from === undefined && filter.to === undefined && !filter.fileGroupId && !filter.text;
}
