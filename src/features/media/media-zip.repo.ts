/**
 * The one query the zip download needs that media.repo.ts does not have: many files of a workspace by
 * id, in one round trip per thousand ids, with only the columns an archive entry uses.
 */
import type { Kysely, Selectable } from 'kysely';
import type { DB, MediaFilesTable } from '../../db/schema.ts';

/** What the zip needs of a file: where its bytes are, what to call it, when to date it. */
export type ZipFileRow = Pick<
  Selectable<MediaFilesTable>,
  'id' | 'name' | 'objectKey' | 'size' | 'capturedAt' | 'capturedAtRaw' | 'createdAt'
>;

/** Largest IN (…) list per query: far below SQLite's and PostgreSQL's bound-parameter limits. */
const LOOKUP_CHUNK = 1000;

export class MediaZipRepo {
  constructor(private readonly db: Kysely<DB>) {}

  /** The workspace's files among `ids`, in no particular order; unknown ids are simply absent. */
  async findManyByIds(workspaceId: string, ids: readonly string[]): Promise<ZipFileRow[]> {
    const rows: ZipFileRow[] = [];
    for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
      const chunk = await this.db
        .selectFrom('mediaFiles')
        .select(['id', 'name', 'objectKey', 'size', 'capturedAt', 'capturedAtRaw', 'createdAt'])
        .where('workspaceId', '=', workspaceId)
        .where('id', 'in', ids.slice(i, i + LOOKUP_CHUNK))
        .execute();
      rows.push(...chunk);
    }
    return rows;
  }
}
