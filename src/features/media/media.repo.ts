import { type Insertable, type Kysely, PostgresAdapter, type Selectable, sql } from 'kysely';
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
  >
>;

/** A file as the library lists it: with its payload's model name (device dictionary), if known. */
export type LibraryFile = MediaFile & { payloadName: string | null };

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
  private readonly upsert;
  private readonly linkGroup;

  constructor(private readonly db: Kysely<DB>) {
    this.byFingerprint = prepareQuery(
      db,
      ['workspaceId', 'fingerprint'],
      (a: { workspaceId: string; fingerprint: string }) =>
        db
          .selectFrom('mediaFiles')
          .select(['id', 'objectKey', 'fileGroupId'])
          .where('workspaceId', '=', a.workspaceId)
          .where('fingerprint', '=', a.fingerprint),
    );
    this.byObjectKey = prepareQuery(
      db,
      ['workspaceId', 'objectKey'],
      (a: { workspaceId: string; objectKey: string }) =>
        db
          .selectFrom('mediaFiles')
          .selectAll()
          .where('workspaceId', '=', a.workspaceId)
          .where('objectKey', '=', a.objectKey),
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
    this.linkGroup = prepareQuery(
      db,
      ['workspaceId', 'id', 'gatewaySn', 'now'],
      (a: { workspaceId: string; id: string; gatewaySn: string; now: number }) =>
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
          .returning('expectedCount'),
    );
    this.upsert = prepareQuery(db, columns, (file: NewMediaFile) =>
      db
        .insertInto('mediaFiles')
        .values(file)
        .onConflict((oc) => oc.columns(['workspaceId', 'objectKey']).doUpdateSet(updates))
        .returningAll(),
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

  /** A file by id, whatever its workspace (background work only; requests use findById). */
  findAnyById(id: string): Promise<MediaFile | undefined> {
    return this.db.selectFrom('mediaFiles').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Stores what enrichment found, only if the file still holds the object examined (same ETag: a
   * re-upload resets enrichment and queues it again). Returns whether the row was updated.
   */
  async saveEnrichment(
    id: string,
    etag: string,
    found: EnrichmentFacts,
    enrichedAt: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('mediaFiles')
      .set({ ...found, enrichedAt })
      .where('id', '=', id)
      .where('etag', '=', etag)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** The file with this fingerprint (only what dedupe needs). */
  async findByFingerprint(
    workspaceId: string,
    fingerprint: string,
  ): Promise<Pick<MediaFile, 'id' | 'objectKey' | 'fileGroupId'> | undefined> {
    return (await this.byFingerprint({ workspaceId, fingerprint }))[0];
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
   * for every group count.
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
    return (await this.byObjectKey({ workspaceId, objectKey }))[0];
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
      // without statistics (bench/tiny-fingerprints, BENCH_SKIP_ANALYZE=1).
      const { rows } = await sql<{ tinyFingerprint: string }>`
        select wanted.value as tiny_fingerprint from unnest(${unique}::text[]) as wanted(value),
        lateral (select 1 from media_files m
                 where m.workspace_id = ${workspaceId} and m.tiny_fingerprint = wanted.value limit 1) as hit`.execute(
        this.db,
      );
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

  findById(workspaceId: string, id: string): Promise<LibraryFile | undefined> {
    return this.db
      .selectFrom('mediaFiles')
      .leftJoin('deviceModels', 'deviceModels.modelKey', 'mediaFiles.payloadModelKey')
      .selectAll('mediaFiles')
      .select('deviceModels.name as payloadName')
      .where('mediaFiles.workspaceId', '=', workspaceId)
      .where('mediaFiles.id', '=', id)
      .executeTakeFirst();
  }

  /** One page of the workspace's media, newest first, with the total matching the filter. */
  async list(
    workspaceId: string,
    filter: MediaFilter,
    page: { offset: number; limit: number },
  ): Promise<{ items: LibraryFile[]; total: number }> {
    let query = this.db.selectFrom('mediaFiles').where('mediaFiles.workspaceId', '=', workspaceId);
    if (filter.droneSn) query = query.where('droneSn', '=', filter.droneSn);
    if (filter.mediaType) query = query.where('mediaType', '=', filter.mediaType);
    if (filter.fileGroupId) query = query.where('fileGroupId', '=', filter.fileGroupId);
    const when = sql<number>`coalesce(captured_at, created_at)`;
    if (filter.from !== undefined) query = query.where(when, '>=', filter.from);
    if (filter.to !== undefined) query = query.where(when, '<=', filter.to);
    if (filter.text) {
      const pattern = `%${filter.text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query = query.where((eb) =>
        eb.or([
          eb(sql`lower(media_files.name)`, 'like', sql`${pattern} escape '\\'`),
          eb(sql`lower(media_files.path)`, 'like', sql`${pattern} escape '\\'`),
        ]),
      );
    }
    const items = await query
      // The payload's name from the device dictionary, as DJI's web shows it.
      .leftJoin('deviceModels', 'deviceModels.modelKey', 'mediaFiles.payloadModelKey')
      .selectAll('mediaFiles')
      .select('deviceModels.name as payloadName')
      .orderBy('mediaFiles.createdAt', 'desc')
      .orderBy('mediaFiles.id', 'desc')
      .offset(page.offset)
      .limit(page.limit)
      .execute();
    const { total } = await query
      .select((eb) => eb.fn.countAll<number | string>().as('total'))
      .executeTakeFirstOrThrow();
    return { items, total: Number(total) };
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

  /** Media recorded for a group (the count Skyvault can vouch for). */
  /** How many files a group holds (one indexed count of each kind). */
  async countInGroup(workspaceId: string, fileGroupId: string): Promise<number> {
    const [recorded, linked] = await Promise.all([
      this.recordedInGroups(workspaceId)
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('fileGroupId', '=', fileGroupId)
        .executeTakeFirstOrThrow(),
      this.linkedToGroups(workspaceId)
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('g.fileGroupId', '=', fileGroupId)
        .executeTakeFirstOrThrow(),
    ]);
    return Number(recorded.n) + Number(linked.n);
  }
}
