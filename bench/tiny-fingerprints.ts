/**
 * Benchmark: a tiny-fingerprints request of 10,000 items (half of them known) against a workspace of
 * 1,000,000 media files, p50 and p95 over repeated requests; the baseline in the same run is the same
 * request against an empty workspace, so the ratio shows what the lookup adds. Goal: p50 ≤ 100 ms.
 * On PostgreSQL it is measured twice: on the freshly loaded table, before any statistics or visibility
 * map exist (as right after a bulk load, autovacuum not having run yet), then after VACUUM ANALYZE (what
 * autovacuum does once that many rows were inserted: statistics, and the visibility map that lets an
 * index answer alone); BENCH_SKIP_ANALYZE=1 makes only the first. BENCH_KEEP_DATA=1 keeps the data
 * directory and database, and prints where.
 * Run: `npm run bench -- tiny-fingerprints` (BENCH_FILES=1000000, BENCH_ITEMS=10000, BENCH_RUNS=20;
 * BENCH_DATABASE_URL=postgres://… runs on a fresh PostgreSQL database created on that server).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/database.ts';
import { SettingsRepo } from '../src/features/settings/settings.repo.ts';
import { createUser, createWorkspace } from '../test/helpers/factories.ts';
import { benchDatabase, keepOrRemove, postJson, startSkyvault } from './helpers.ts';
import { compared, recordFigures } from './report.ts';

const files = Number(process.env.BENCH_FILES ?? 1_000_000);
const items = Number(process.env.BENCH_ITEMS ?? 10_000);
const runs = Number(process.env.BENCH_RUNS ?? 20);
const dir = mkdtempSync(path.join(tmpdir(), 'skyvault-bench-tiny-'));
const password = 'bench-password';
const fresh = await benchDatabase();
const env = { SKYVAULT_DATA_DIR: dir, SKYVAULT_ADMIN_PASSWORD: password, ...fresh.env };
const tiny = (i: number) =>
  `${((i * 2654435761) >>> 0).toString(16).padStart(8, '0')}${i.toString(16).padStart(24, '0')}_2026_1_15_10_30_${i % 60}`;

// First start creates the schema and the default workspace; then the files go straight into the database.
await (await startSkyvault(env)).stop();
const database = await openDatabase(
  fresh.url ? { kind: 'postgres', url: fresh.url } : { kind: 'sqlite', file: path.join(dir, 'skyvault.db') },
);
const ws = (await new SettingsRepo(database.db).get('default_workspace_id'))!;
const empty = await createWorkspace(database.db, 'Empty');
await createUser(database.db, empty, 'empty-user', password);
let start = Date.now();
await database.db.transaction().execute(async (trx) => {
  const batch = 500;
  for (let i = 0; i < files; i += batch) {
    const rows = [];
    for (let j = i; j < Math.min(i + batch, files); j++) {
      rows.push({
        id: `f${j}`,
        workspaceId: ws,
        objectKey: `${ws}/media/DJI_${j}.JPG`,
        name: `DJI_${j}.JPG`,
        path: '',
        source: 'pilot' as const,
        mediaType: 'image' as const,
        fingerprint: `FP${j}`,
        tinyFingerprint: tiny(j),
        isOriginal: 1,
        size: 1000,
        contentType: 'image/jpeg',
        etag: '"x"',
        enrichedAt: 1,
        createdAt: j,
        updatedAt: j,
      });
    }
    await trx.insertInto('mediaFiles').values(rows).execute();
  }
});
const insertSeconds = (Date.now() - start) / 1000;
const dialect = fresh.url ? 'PostgreSQL' : 'SQLite';

const server = await startSkyvault(env);
try {
  type Login = { data: { access_token: string; workspace_id: string } };
  const admin = await postJson<Login>(`${server.url}/manage/api/v1/login`, {
    username: 'admin',
    password,
    flag: 2,
  });
  const other = await postJson<Login>(`${server.url}/manage/api/v1/login`, {
    username: 'empty-user',
    password,
    flag: 2,
  });
  const asked = Array.from({ length: items }, (_, i) =>
    i % 2 === 0 ? tiny(Math.floor((i * 7919) % files)) : `unknown_${i}_2026_1_1_0_0_0`,
  );
  const measure = async (login: Login, expected: number) => {
    const times: number[] = [];
    for (let run = 0; run < runs + 2; run++) {
      const t = process.hrtime.bigint();
      const answer = await postJson<{ code: number; data: { tiny_fingerprints: string[] } }>(
        `${server.url}/media/api/v1/workspaces/${login.data.workspace_id}/files/tiny-fingerprints`,
        { tiny_fingerprints: asked },
        login.data.access_token,
      );
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (answer.code !== 0 || answer.data.tiny_fingerprints.length !== expected) {
        throw new Error(
          `unexpected answer: code ${answer.code}, ${answer.data?.tiny_fingerprints?.length} found, ${expected} expected`,
        );
      }
      if (run >= 2) times.push(ms); // the first two warm the caches
    }
    times.sort((a, b) => a - b);
    return { p50: times[Math.floor(times.length / 2)]!, p95: times[Math.floor(times.length * 0.95)]! };
  };
  start = Date.now();
  const baseline = await measure(other, 0);
  // PostgreSQL: first on the table as loaded, with no statistics; then as autovacuum leaves it.
  const states: { label: string; suffix: string; p50: number; p95: number }[] = [];
  const fullOn = async (label: string, suffix: string) =>
    states.push({ label, suffix, ...(await measure(admin, items / 2)) });
  if (fresh.url) {
    await fullOn(`${files} files, freshly loaded (no statistics yet)`, ', freshly loaded');
    if (process.env.BENCH_SKIP_ANALYZE !== '1') {
      await sql`vacuum analyze media_files`.execute(database.db);
      await fullOn(`${files} files, after VACUUM ANALYZE`, ', vacuumed');
    }
  } else await fullOn(`${files} files`, '');
  process.stdout.write(
    [
      `${items} tiny fingerprints per request (${items / 2} known), ${runs} requests each; ${files} files inserted in ${insertSeconds.toFixed(1)} s; ${dialect}`,
      '| workspace | p50 ms | p95 ms | ratio to empty |',
      '|---|---|---|---|',
      `| empty (baseline: parsing, validation, envelope) | ${baseline.p50.toFixed(1)} | ${baseline.p95.toFixed(1)} | 1.00 |`,
      ...states.map(
        (s) =>
          `| ${s.label} | ${s.p50.toFixed(1)} | ${s.p95.toFixed(1)} | ${(s.p50 / baseline.p50).toFixed(2)} |`,
      ),
      ...states.map((s) => `goal p50 ≤ 100 ms${s.suffix}: ${s.p50 <= 100 ? 'met' : 'NOT met'}`),
    ].join('\n') + '\n',
  );
  const empty = (p: string, value: number) => ({ name: `empty workspace ${p}`, value });
  recordFigures(
    `tiny-fingerprints, ${items} items against ${files} files, ${dialect}`,
    [
      ...states.flatMap((s) => [
        compared(`p50${s.suffix}`, s.p50, 'ms', empty('p50', baseline.p50), 'lower'),
        compared(`p95${s.suffix}`, s.p95, 'ms', empty('p95', baseline.p95), 'lower'),
        // The goal is on the time itself, not on the ratio.
        {
          name: `p50${s.suffix}: goal`,
          value: s.p50,
          unit: 'ms',
          better: 'lower' as const,
          goal: { limit: 100, met: s.p50 <= 100 },
        },
      ]),
      { name: 'files inserted', value: insertSeconds, unit: 's' },
    ],
    { files, items, runs },
  );
} finally {
  await server.stop();
  await database.close();
  await keepOrRemove(fresh, dir);
}
