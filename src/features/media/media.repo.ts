import type { Insertable, Kysely, Selectable } from 'kysely';
import type { DB, MediaFilesTable, MediaUploadFailuresTable } from '../../db/schema.ts';

export type MediaFile = Selectable<MediaFilesTable>;

/** Largest IN (…) list per query: far below SQLite's and PostgreSQL's bound-parameter limits. */
const LOOKUP_CHUNK = 1000;

export class MediaRepo {
  constructor(private readonly db: Kysely<DB>) {}

  findByFingerprint(workspaceId: string, fingerprint: string): Promise<MediaFile | undefined> {
    return this.db
      .selectFrom('mediaFiles')
      .selectAll()
      .where('workspaceId', '=', workspaceId)
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirst();
  }

  findByObjectKey(workspaceId: string, objectKey: string): Promise<MediaFile | undefined> {
    return this.db
      .selectFrom('mediaFiles')
      .selectAll()
      .where('workspaceId', '=', workspaceId)
      .where('objectKey', '=', objectKey)
      .executeTakeFirst();
  }

  /** Which of `tinyFingerprints` the workspace holds, through the (workspace, tiny_fingerprint) index. */
  async existingTinyFingerprints(workspaceId: string, tinyFingerprints: string[]): Promise<Set<string>> {
    const unique = [...new Set(tinyFingerprints)];
    const found = new Set<string>();
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
   * Inserts the file, or updates the row already recorded for its (workspace, object key): a retried
   * callback changes nothing but the metadata it repeats.
   */
  async upsertByObjectKey(file: Insertable<MediaFilesTable>): Promise<void> {
    const { id: _id, createdAt: _createdAt, workspaceId: _ws, objectKey: _key, ...updates } = file;
    await this.db
      .insertInto('mediaFiles')
      .values(file)
      .onConflict((oc) => oc.columns(['workspaceId', 'objectKey']).doUpdateSet(updates))
      .execute();
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

  /** Media recorded for a group (the count Skyvault can vouch for). */
  async countInGroup(workspaceId: string, fileGroupId: string): Promise<number> {
    const row = await this.db
      .selectFrom('mediaFiles')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('workspaceId', '=', workspaceId)
      .where('fileGroupId', '=', fileGroupId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
