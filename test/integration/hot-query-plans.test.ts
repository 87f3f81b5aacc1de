/**
 * The statements of every device report must use their index whatever the planner statistics say. Right
 * after a first start or a bulk load, PostgreSQL has none for media_files, and `workspace_id = ? and
 * object_key = ?` was then planned on whichever index starts with workspace_id, filtering every file of
 * the workspace on each report. Here the table is filled without statistics (autovacuum off for it), the
 * repository's own statements are captured as sent, and their plans checked; the results are checked
 * on SQLite too, including seeks that land on a neighbouring row.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CamelCasePlugin, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/database.ts';
import type { DB } from '../../src/db/schema.ts';
import { isUniqueViolation } from '../../src/db/errors.ts';
import { MediaRepo, type NewMediaFile } from '../../src/features/media/media.repo.ts';
import { createFreshDatabase, type FreshDatabase, testDialects } from '../helpers/databases.ts';
import { newMediaFile } from '../helpers/factories.ts';
import { tempDir } from '../helpers/test-app.ts';

const WS = 'ws-plans';
const FILES = 3000;
/** Files per flight: every 20 files make one group. */
const FLIGHT = 20;

/** The files a bulk load leaves behind: keys, fingerprints, tiny fingerprints and groups of one workspace. */
async function fill(db: Kysely<DB>): Promise<void> {
  await sql`insert into workspaces (id, name, description, platform_name, bind_code, created_at, updated_at)
            values (${WS}, 'plans', '', 'p', 'bind-plans', 0, 0)`.execute(db);
  for (let start = 0; start < FILES; start += 500) {
    const rows = Array.from({ length: 500 }, (_, j) => {
      const i = start + j;
      return {
        id: `file-${String(i).padStart(5, '0')}`,
        workspaceId: WS,
        objectKey: `${WS}/media/f${Math.floor(i / FLIGHT)}/DJI_${String(i).padStart(5, '0')}.JPG`,
        name: `DJI_${i}.JPG`,
        path: '',
        source: 'dock' as const,
        mediaType: 'image' as const,
        isOriginal: 1,
        fingerprint: `FP${String(i).padStart(5, '0')}`,
        tinyFingerprint: `tiny-${String(i).padStart(5, '0')}`,
        fileGroupId: `flight-${Math.floor(i / FLIGHT)}`,
        size: 1000,
        contentType: 'image/jpeg',
        etag: `etag-${i}`,
        createdAt: 1_700_000_000_000 + i * 1000,
        updatedAt: 1_700_000_000_000 + i * 1000,
      };
    });
    await db.insertInto('mediaFiles').values(rows).execute();
  }
}

interface Plan {
  /** The indexes media_files is read through. */
  indexes: string[];
  /** Whether media_files is read whole. */
  seq: boolean;
  /** The conditions its index scans seek with (`Index Cond`). */
  seeks: string[];
}

/** A plan without its seek conditions, where which index is all that is checked. */
const scans = ({ indexes, seq }: Plan) => ({ indexes, seq });

function planOf(rows: Record<string, unknown>[]): Plan {
  const plan: Plan = { indexes: [], seq: false, seeks: [] };
  const walk = (node: Record<string, unknown>) => {
    if (node['Relation Name'] === 'media_files') {
      if (typeof node['Index Name'] === 'string') plan.indexes.push(node['Index Name']);
      if (node['Node Type'] === 'Seq Scan') plan.seq = true;
      if (typeof node['Index Cond'] === 'string') plan.seeks.push(node['Index Cond']);
    }
    for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  walk((rows[0]!['QUERY PLAN'] as { Plan: Record<string, unknown> }[])[0]!.Plan);
  plan.indexes.sort();
  plan.seeks.sort();
  return plan;
}

for (const dialect of testDialects()) {
  describe(`hot media statements (${dialect})`, () => {
    let fresh: FreshDatabase;
    let database: Database;
    let repo: MediaRepo;
    /** PostgreSQL: the statements the repository sent, as sent. */
    const sent: { text: string; values: unknown[] }[] = [];
    let pool: pg.Pool | undefined;
    let db: Kysely<DB>;

    before(async () => {
      fresh = await createFreshDatabase(dialect);
      database = await openDatabase(
        fresh.url ? { kind: 'postgres', url: fresh.url } : { kind: 'sqlite', file: `${tempDir()}/db.sqlite` },
      );
      db = database.db;
      if (fresh.url) {
        await sql`alter table media_files set (autovacuum_enabled = false)`.execute(db);
        await sql`alter table file_group_members set (autovacuum_enabled = false)`.execute(db);
        // A Kysely over a pool whose connections note each statement (and still run it).
        pool = new pg.Pool({ connectionString: fresh.url, max: 2 });
        const recording = pool;
        const recorded = new WeakSet<pg.PoolClient>();
        db = new Kysely<DB>({
          dialect: new PostgresDialect({
            pool: {
              connect: async () => {
                const client = await recording.connect();
                if (!recorded.has(client)) {
                  recorded.add(client);
                  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
                  (client as unknown as { query: unknown }).query = (...args: unknown[]) => {
                    if (typeof args[0] === 'string')
                      sent.push({ text: args[0], values: (args[1] ?? []) as unknown[] });
                    return query(...args);
                  };
                }
                return client;
              },
              end: () => recording.end(),
            },
          }),
          plugins: [new CamelCasePlugin()],
        });
      }
      await fill(db);
      repo = new MediaRepo(db);
    });
    after(async () => {
      if (pool) await db.destroy();
      await database?.close();
      await fresh?.drop();
    });

    /**
     * The plans PostgreSQL makes for the statements sent by `run`, with the indexes they scan media_files
     * with: as planned for the values sent, and as a generic plan (what a named statement gets after a few
     * executions: the hot statements are named, db/prepared.ts).
     */
    async function plansOf(run: () => Promise<unknown>): Promise<{ text: string; plans: Plan[] }[]> {
      sent.length = 0;
      await run();
      // Its own connection: the pool's connections record what they run.
      const client = new pg.Client({ connectionString: fresh.url });
      await client.connect();
      try {
        const stats = await client.query<{ reltuples: number }>(
          "select reltuples from pg_class where relname = 'media_files'",
        );
        assert.equal(Number(stats.rows[0]!.reltuples), -1, 'media_files has no statistics');
        const statements = [];
        for (const [n, { text, values }] of sent.entries()) {
          const custom = await client.query(`explain (format json) ${text}`, values);
          await client.query(`prepare plan_${n} as ${text}`);
          await client.query('set plan_cache_mode = force_generic_plan');
          // EXECUTE takes its values as literals.
          const literal = (v: unknown): string =>
            v === null
              ? 'NULL'
              : Array.isArray(v)
                ? `ARRAY[${v.map(literal).join(', ')}]`
                : typeof v === 'number'
                  ? String(v)
                  : client.escapeLiteral(String(v));
          const generic = await client.query(
            `explain (format json) execute plan_${n}${values.length ? `(${values.map(literal).join(', ')})` : ''}`,
          );
          await client.query('reset plan_cache_mode');
          statements.push({ text, plans: [planOf(custom.rows), planOf(generic.rows)] });
        }
        return statements;
      } finally {
        await client.end();
      }
    }

    it("finds a report's file by key and by fingerprint in one statement, and nothing for a neighbour", async () => {
      const key = `${WS}/media/f5/DJI_00100.JPG`;
      const found = await repo.findReportTargets(WS, key, 'FP00200');
      assert.equal(found.current?.id, 'file-00100');
      assert.equal(found.twin?.id, 'file-00200');
      // Keys and fingerprints between two recorded ones: the seek lands on the next row, which is not it.
      const none = await repo.findReportTargets(WS, `${WS}/media/f5/DJI_00100a.JPG`, 'FP00200a');
      assert.deepEqual(none, { current: undefined, twin: undefined });
      assert.equal((await repo.findReportTargets(WS, key, undefined)).twin, undefined);
      assert.equal(await repo.findByObjectKey(WS, `${WS}/media/f0/DJI_0.JPG`), undefined);
      assert.equal((await repo.findByFingerprint(WS, 'FP02999'))?.id, 'file-02999');
      assert.equal(await repo.findByFingerprint(WS, 'FP0300'), undefined);
      assert.equal(await repo.findByFingerprint('ws-other', 'FP00001'), undefined, 'another workspace');
      if (!pool) return;
      const statements = await plansOf(() => repo.findReportTargets(WS, key, 'FP00200'));
      assert.equal(statements.length, 1, 'one statement');
      for (const plan of statements[0]!.plans)
        assert.deepEqual(scans(plan), {
          indexes: ['media_files_fingerprint_uq', 'media_files_key_uq'],
          seq: false,
        });
    });

    it('records a report in one statement: written when new or changed, nothing when repeated', async () => {
      const file = (n: string, changes: Partial<NewMediaFile> = {}): NewMediaFile =>
        newMediaFile(WS, `new/${n}`, {
          id: `new-${n}-${Math.random().toString(36).slice(2, 8)}`,
          fingerprint: `FP-NEW-${n}`,
          etag: 'etag-new',
          ...changes,
        });
      const first = file('a');
      const created = await repo.upsertChanged(first);
      assert.equal(created.current, undefined);
      assert.equal(created.written?.id, first.id);
      // The same report again (another id drawn for it): nothing written, the recorded row returned.
      const repeated = await repo.upsertChanged(file('a', { updatedAt: 2 }));
      assert.equal(repeated.written, undefined);
      assert.equal(repeated.current?.id, first.id);
      assert.equal(Number(repeated.current?.updatedAt), 1);
      if (pool) {
        // Not even locked: a conflict handled by ON CONFLICT … WHERE would have set xmax.
        const { rows } = await sql<{ xmax: string }>`select xmax::text as xmax from media_files
          where id = ${first.id}`.execute(db);
        assert.equal(rows[0]?.xmax, '0', 'a repeated report neither writes nor locks the row');
      }
      // Metadata the row lacked: written, on the same row; `current` is the row before.
      const enriched = await repo.upsertChanged(file('a', { updatedAt: 3, droneSn: 'DRONE-9' }));
      assert.equal(enriched.written?.id, first.id);
      assert.equal(enriched.written?.droneSn, 'DRONE-9');
      assert.equal(enriched.current?.droneSn, null);
      // A fingerprint another file holds: the unique violation is the caller's to settle.
      await assert.rejects(repo.upsertChanged(file('b', { fingerprint: 'FP00010' })), (error: unknown) =>
        isUniqueViolation(error),
      );
      if (!pool) return;
      const statements = await plansOf(() => repo.upsertChanged(file('c')));
      assert.equal(statements.length, 1, 'one statement');
      for (const plan of statements[0]!.plans)
        assert.deepEqual(scans(plan), { indexes: ['media_files_key_uq'], seq: false });
    });

    it("reads a flight's progress from its kept count, never scanning its files", async () => {
      assert.deepEqual(await repo.groupProgress(WS, 'flight-7'), { expected: null, uploaded: FLIGHT });
      await repo.upsertGroupFacts(WS, 'flight-7', Date.now(), { gatewaySn: 'DOCK-1', expectedCount: 25 });
      assert.deepEqual(await repo.groupProgress(WS, 'flight-7'), { expected: 25, uploaded: FLIGHT });
      await repo.addGroupMember(WS, 'flight-7', 'file-00001', Date.now());
      assert.equal(
        await repo.countInGroup(WS, 'flight-7'),
        FLIGHT + 1,
        'a file of another flight linked to it',
      );
      if (!pool) return;
      const statements = await plansOf(() => repo.groupProgress(WS, 'flight-8'));
      assert.equal(statements.length, 1, 'one statement');
      // The recorded files are a kept count (media_group_counts); media_files is read only by id, for
      // the files linked to the flight.
      for (const plan of statements[0]!.plans) {
        assert.ok(
          plan.indexes.every((i) => i === 'media_files_pkey'),
          JSON.stringify(plan),
        );
        assert.equal(plan.seq, false);
      }
    });

    it('answers tiny fingerprints through their index', async () => {
      const wanted = ['tiny-00010', 'tiny-00010a', 'tiny-02999', 'nope'];
      assert.deepEqual([...(await repo.existingTinyFingerprints(WS, wanted))].sort(), [
        'tiny-00010',
        'tiny-02999',
      ]);
      if (!pool) return;
      const statements = await plansOf(() => repo.existingTinyFingerprints(WS, wanted));
      assert.deepEqual(
        statements.map((s) => s.plans.map(scans)),
        [
          [
            { indexes: ['media_files_tiny_idx'], seq: false },
            { indexes: ['media_files_tiny_idx'], seq: false },
          ],
        ],
      );
    });

    it("claims a file's enrichment by its id, in one statement", async () => {
      const claimed = await repo.beginEnrichment('file-00042');
      assert.equal(claimed?.enrichmentAttempts, 1);
      assert.equal(await repo.beginEnrichment('file-missing'), undefined);
      if (!pool) return;
      const statements = await plansOf(() => repo.beginEnrichment('file-00043'));
      assert.equal(statements.length, 1, 'one statement');
      // A seek by id: through the primary key, or the index of files left to enrich (keyed by id too).
      for (const plan of statements[0]!.plans) {
        assert.equal(plan.seq, false, JSON.stringify(plan));
        assert.equal(plan.indexes.length, 1, JSON.stringify(plan));
        assert.ok(['media_files_pkey', 'media_files_unenriched_idx'].includes(plan.indexes[0]!));
        assert.match(plan.seeks.join(), /^\(\(?id\)?(::text)? = /, JSON.stringify(plan));
      }
    });

    it('finds the files left to enrich through their partial index, not by reading every file', async () => {
      // All but the first eleven files enriched, as after a bulk load that went through enrichment.
      await sql`update media_files set enriched_at = 1 where id > 'file-00010'`.execute(db);
      const expected = Array.from({ length: 11 }, (_, i) => `file-${String(i).padStart(5, '0')}`);
      assert.deepEqual(await repo.unenrichedIds(), expected, 'oldest first');
      if (!pool) {
        const plan = await sql<{ detail: string }>`explain query plan
          select id from media_files where enriched_at is null order by created_at`.execute(db);
        assert.deepEqual(
          plan.rows.map((r) => r.detail),
          ['SCAN media_files USING INDEX media_files_unenriched_idx', 'USE TEMP B-TREE FOR ORDER BY'],
        );
        return;
      }
      const statements = await plansOf(() => repo.unenrichedIds());
      assert.deepEqual(
        statements.map((s) => s.plans.map(scans)),
        [
          [
            { indexes: ['media_files_unenriched_idx'], seq: false },
            { indexes: ['media_files_unenriched_idx'], seq: false },
          ],
        ],
      );
    });
  });
}
