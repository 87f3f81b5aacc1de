/**
 * Kept group counts (migration 0013): the count every dock report and Pilot group-upload-callback
 * answers with is read from media_group_counts, kept by triggers. Here it is checked against the rule
 * counted from media_files and file_group_members after every kind of change: single and bulk inserts,
 * a re-report moving a file to another group or out of any, a fast-upload putting a file without a group
 * into one, links, single and bulk deletes, a workspace's deletion; and the migration's backfill.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { CamelCasePlugin, Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { type Database, openDatabase } from '../../src/db/database.ts';
import type { DB } from '../../src/db/schema.ts';
import { MediaRepo, type NewMediaFile } from '../../src/features/media/media.repo.ts';
import { createFreshDatabase, type FreshDatabase, migratorUpTo, testDialects } from '../helpers/databases.ts';
import { createWorkspace, newMediaFile } from '../helpers/factories.ts';
import { tempDir } from '../helpers/test-app.ts';

const GROUPS = ['flight-a', 'flight-b', 'flight-c', 'flight-d'];
/** A file's id (ids are 36 characters at most). */
const idOf = (workspaceId: string, name: string) => `f-${workspaceId.slice(0, 20)}-${name}`;

function file(workspaceId: string, name: string, fileGroupId: string | null, etag = 'etag-1'): NewMediaFile {
  return newMediaFile(workspaceId, name, { id: idOf(workspaceId, name), fileGroupId, etag, size: 10 });
}

for (const dialect of testDialects()) {
  describe(`kept group counts (${dialect})`, () => {
    const dir = tempDir();
    let fresh: FreshDatabase;
    let database: Database;
    let db: Kysely<DB>;
    let repo: MediaRepo;

    before(async () => {
      fresh = await createFreshDatabase(dialect);
      database = await openDatabase(
        fresh.url
          ? { kind: 'postgres', url: fresh.url }
          : { kind: 'sqlite', file: path.join(dir, 'db.sqlite') },
      );
      db = database.db;
      repo = new MediaRepo(db);
    });
    after(async () => {
      await database?.close();
      await fresh?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    /** The rule, counted: files recorded under the group, plus those linked to it recorded elsewhere. */
    async function counted(workspaceId: string, group: string): Promise<number> {
      const { rows } = await sql<{ n: number | string }>`
        select (select count(*) from media_files where workspace_id = ${workspaceId} and file_group_id = ${group})
             + (select count(*) from file_group_members g join media_files f on f.id = g.file_id
                where g.workspace_id = ${workspaceId} and g.file_group_id = ${group}
                  and (f.file_group_id is null or f.file_group_id <> g.file_group_id)) as n`.execute(db);
      return Number(rows[0]!.n);
    }

    async function consistent(label: string, workspaces: string[]): Promise<void> {
      for (const workspaceId of workspaces) {
        for (const group of GROUPS) {
          assert.equal(
            await repo.countInGroup(workspaceId, group),
            await counted(workspaceId, group),
            `${label}: ${group}`,
          );
        }
      }
      // One kept row per group that has recorded files, none at zero.
      const kept = await db
        .selectFrom('mediaGroupCounts')
        .select(['workspaceId', 'fileGroupId', 'fileCount'])
        .execute();
      const { rows: truth } = await sql<{ workspaceId: string; fileGroupId: string; n: number | string }>`
        select workspace_id, file_group_id, count(*) as n from media_files where file_group_id is not null
        group by workspace_id, file_group_id`.execute(db);
      const key = (w: string, g: string, n: number | string) => `${w}/${g}=${Number(n)}`;
      assert.deepEqual(
        kept.map((r) => key(r.workspaceId, r.fileGroupId, r.fileCount)).sort(),
        truth.map((r) => key(r.workspaceId, r.fileGroupId, r.n)).sort(),
        `${label}: kept rows`,
      );
    }

    it('stay equal to the counted rule through inserts, group changes, links and deletes', async () => {
      const ws = await createWorkspace(db, 'counts');
      const other = await createWorkspace(db, 'other');
      const both = [ws, other];
      for (let i = 0; i < 5; i++) await repo.upsertByObjectKey(file(ws, `a${i}`, 'flight-a'));
      for (let i = 0; i < 3; i++) await repo.upsertByObjectKey(file(ws, `b${i}`, 'flight-b'));
      for (let i = 0; i < 2; i++) await repo.upsertByObjectKey(file(ws, `n${i}`, null));
      await repo.upsertByObjectKey(file(other, 'a0', 'flight-a'));
      await consistent('inserted', both);
      assert.equal(await repo.countInGroup(ws, 'flight-a'), 5);

      // Fast-upload links: a file of flight A counted in B too; a file without a group linked to C.
      await repo.addGroupMember(ws, 'flight-b', idOf(ws, 'a0'), 2);
      await repo.addGroupMember(ws, 'flight-c', idOf(ws, 'n0'), 2);
      await consistent('linked', both);
      assert.equal(await repo.countInGroup(ws, 'flight-b'), 4);

      // The file without a group joins A; C still counts it (recorded under another group now).
      assert.equal(await repo.setGroupIfNone(idOf(ws, 'n0'), 'flight-a', 3), true);
      await consistent('grouped', both);
      assert.equal(await repo.countInGroup(ws, 'flight-a'), 6);

      // Re-reports: the same object naming group B (it moves: B's link to it is no longer extra), and a
      // new object naming none (it leaves B).
      await repo.upsertByObjectKey(file(ws, 'a0', 'flight-b'));
      await repo.upsertByObjectKey(file(ws, 'b0', null, 'etag-2'));
      await consistent('moved', both);
      assert.equal(await repo.countInGroup(ws, 'flight-a'), 5);
      assert.equal(await repo.countInGroup(ws, 'flight-b'), 3);

      await repo.delete(idOf(ws, 'a0'));
      await repo.deleteMany(ws, [idOf(ws, 'a1'), idOf(ws, 'a2')]);
      await consistent('deleted', both);

      // In bulk: one statement inserting 200 files of D and a few of A, one deleting them.
      const bulk = [
        ...Array.from({ length: 200 }, (_, i) => file(ws, `d${i}`, 'flight-d')),
        ...Array.from({ length: 3 }, (_, i) => file(ws, `bulk-a${i}`, 'flight-a')),
      ];
      await db.insertInto('mediaFiles').values(bulk).execute();
      await consistent('bulk inserted', both);
      assert.equal(await repo.countInGroup(ws, 'flight-d'), 200);
      await db
        .deleteFrom('mediaFiles')
        .where('workspaceId', '=', ws)
        .where('name', 'like', '%d%')
        .where('fileGroupId', '=', 'flight-d')
        .execute();
      await db
        .updateTable('mediaFiles')
        .set({ fileGroupId: 'flight-c' })
        .where('name', 'like', 'bulk-%')
        .execute();
      await consistent('bulk deleted and moved', both);
      assert.equal(await repo.countInGroup(ws, 'flight-d'), 0);

      await db.deleteFrom('workspaces').where('id', '=', other).execute();
      await consistent('workspace deleted', [ws]);
    });
  });

  describe(`migration 0013-group-counts (${dialect})`, () => {
    it('counts the files recorded before it', async () => {
      const dir = tempDir();
      const fresh = await createFreshDatabase(dialect);
      const db = new Kysely<DB>({
        dialect: fresh.url
          ? new PostgresDialect({ pool: new pg.Pool({ connectionString: fresh.url, max: 1 }) })
          : new SqliteDialect({ database: new BetterSqlite3(path.join(dir, 'old.db')) }),
        plugins: [new CamelCasePlugin()],
      });
      try {
        const upTo = (last: string) => migratorUpTo(db, last);
        assert.equal((await upTo('0012-kept-update-per-row').migrateToLatest()).error, undefined);
        const ws = await createWorkspace(db, 'before');
        await db
          .insertInto('mediaFiles')
          .values([
            file(ws, 'g1-0', 'g1'),
            file(ws, 'g1-1', 'g1'),
            file(ws, 'g2-0', 'g2'),
            file(ws, 'none', null),
          ])
          .execute();
        assert.equal((await upTo('0013-group-counts').migrateToLatest()).error, undefined);
        const kept = await db
          .selectFrom('mediaGroupCounts')
          .select(['fileGroupId', 'fileCount'])
          .orderBy('fileGroupId')
          .execute();
        assert.deepEqual(
          kept.map((r) => [r.fileGroupId, Number(r.fileCount)]),
          [
            ['g1', 2],
            ['g2', 1],
          ],
        );
        // And the triggers run from then on.
        await db
          .insertInto('mediaFiles')
          .values(file(ws, 'g2-1', 'g2'))
          .execute();
        assert.equal(
          Number(
            (
              await db
                .selectFrom('mediaGroupCounts')
                .select('fileCount')
                .where('fileGroupId', '=', 'g2')
                .executeTakeFirst()
            )?.fileCount,
          ),
          2,
        );
      } finally {
        await db.destroy();
        await fresh.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
