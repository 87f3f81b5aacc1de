import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { CamelCasePlugin, Kysely, SqliteDialect, sql } from 'kysely';
import type { DB } from '../../src/db/schema.ts';
import { migrateToLatest, openDatabase } from '../../src/db/database.ts';
import { prepareQuery } from '../../src/db/prepared.ts';
import { Repositories } from '../../src/features/repositories.ts';
import { bootstrap, ensureAdmin } from '../../src/features/bootstrap.ts';
import { SettingsRepo } from '../../src/features/settings/settings.repo.ts';
import { verifyPassword } from '../../src/features/users/password.ts';
import { createFreshDatabase, migratorUpTo, testDialects } from '../helpers/databases.ts';
import { tempDir } from '../helpers/test-app.ts';

for (const dialect of testDialects()) {
  describe(`database on ${dialect}`, async () => {
    const dir = tempDir();
    const fresh = await createFreshDatabase(dialect);
    const config = fresh.url
      ? ({ kind: 'postgres', url: fresh.url } as const)
      : ({ kind: 'sqlite', file: path.join(dir, 'skyvault.db') } as const);
    const database = await openDatabase(config).catch((error: unknown) =>
      fresh.drop().then(() => Promise.reject(error)),
    );
    after(async () => {
      await database.close();
      await fresh.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('creates the schema on open, and re-running the migrations changes nothing', async () => {
      const tables = (await database.db.introspection.getTables())
        .map((t) => t.name)
        // SQLite's text index (FTS5 and its shadow tables); PostgreSQL indexes text with pg_trgm.
        .filter((name) => !/^media_fts/.test(name) && name !== 'media_search_docs')
        .sort();
      assert.deepEqual(tables, [
        'device_models',
        'devices',
        'file_group_members',
        'file_groups',
        'log_task_files',
        'log_tasks',
        'media_counts',
        'media_files',
        'media_group_counts',
        'media_map_cells',
        'media_upload_failures',
        'pending_device_reports',
        'server_settings',
        'sessions',
        'users',
        'workspaces',
      ]);
      assert.deepEqual(await migrateToLatest(database.db), []);
      // The device dictionary comes seeded.
      const dock = await database.db
        .selectFrom('deviceModels')
        .select('name')
        .where('modelKey', '=', '3-2-0')
        .executeTakeFirst();
      assert.equal(dock?.name, 'DJI Dock 2');
    });

    it('commits background writes without waiting for the disk, and every other write waiting', async () => {
      const setting = async (db: Kysely<DB>) =>
        (await sql<{ value: string }>`select current_setting('synchronous_commit') as value`.execute(db))
          .rows[0]!.value;
      if (dialect === 'sqlite') {
        assert.equal(database.background, database.db, 'one connection on SQLite');
        return;
      }
      assert.equal(await setting(database.background), 'off');
      // The server's own setting (on by default) for everything else.
      const plain = new pg.Client({ connectionString: fresh.url });
      await plain.connect();
      try {
        const { rows } = await plain.query<{ value: string }>(
          "select current_setting('synchronous_commit') as value",
        );
        assert.equal(await setting(database.db), rows[0]!.value);
        assert.notEqual(rows[0]!.value, 'off', 'this server commits synchronously by default');
      } finally {
        await plain.end();
      }
    });

    it('returns epoch-ms columns as numbers and enforces unique usernames', async () => {
      const now = 1_790_000_000_123;
      await database.db
        .insertInto('workspaces')
        .values({
          id: 'w-num',
          name: 'n',
          description: '',
          platformName: 'p',
          bindCode: 'BC-NUM',
          createdAt: now,
          updatedAt: now,
          deletingAt: null,
        })
        .execute();
      const row = await database.db
        .selectFrom('workspaces')
        .selectAll()
        .where('id', '=', 'w-num')
        .executeTakeFirstOrThrow();
      assert.equal(row.createdAt, now);
      const user = {
        id: 'u-a',
        workspaceId: 'w-num',
        username: 'same',
        passwordHash: 'x',
        userType: 1 as const,
        mqttUsername: 'mq-a',
        mqttPassword: 'p',
        role: 'administrator' as const,
        serverAdmin: 0,
        createdAt: now,
        updatedAt: now,
      };
      await database.db.insertInto('users').values(user).execute();
      await assert.rejects(
        database.db
          .insertInto('users')
          .values({ ...user, id: 'u-b', mqttUsername: 'mq-b' })
          .execute(),
      );
    });

    it('bootstraps once: default workspace and signing secret, then the admin with a hashed password', async () => {
      // Users of the tests above would make the database look set up already.
      await database.db.deleteFrom('users').execute();
      const repos = new Repositories(database.db);
      const first = await bootstrap(repos, { jwtSecret: undefined, now: 1 });
      assert.equal(await repos.users.any(), false, 'no admin before the server listens');
      const admin = { adminUsername: 'root', passwordHashCost: 10 };
      const created = await Promise.all(
        ['first-pass', 'second-pass', 'third-pass'].map((adminPassword, i) =>
          ensureAdmin(repos, first.defaultWorkspaceId, { ...admin, adminPassword, now: 1 + i }),
        ),
      );
      const made = created.filter((c) => c !== undefined);
      assert.equal(made.length, 1, 'concurrent first starts create one admin');
      const password = made[0]!.password;
      assert.deepEqual(made[0], { username: 'root', password, generated: false });
      const again = await bootstrap(repos, { jwtSecret: undefined, now: 2 });
      assert.equal(
        await ensureAdmin(repos, again.defaultWorkspaceId, { ...admin, adminPassword: 'other', now: 5 }),
        undefined,
      );
      assert.equal(again.defaultWorkspaceId, first.defaultWorkspaceId);
      assert.equal(again.jwtSecret, first.jwtSecret);
      assert.ok(first.jwtSecret.length >= 48);
      const row = await database.db
        .selectFrom('users')
        .selectAll()
        .where('username', '=', 'root')
        .executeTakeFirstOrThrow();
      assert.equal(row.workspaceId, first.defaultWorkspaceId);
      assert.ok(!row.passwordHash.includes(password));
      assert.equal(await verifyPassword(password, row.passwordHash), true);
      const ws = await database.db
        .selectFrom('workspaces')
        .selectAll()
        .where('id', '=', first.defaultWorkspaceId)
        .executeTakeFirstOrThrow();
      assert.match(ws.bindCode, /^[A-Z2-9]{6}$/);
    });

    it('settles concurrent first starts on one value', async () => {
      const repo = new SettingsRepo(database.db);
      const values = await Promise.all(
        Array.from({ length: 8 }, (_, i) => repo.getOrInsert('race', `v${i}`)),
      );
      assert.equal(new Set(values).size, 1);
    });

    it('runs prepared queries with new values each time, camel-casing rows like any query', async () => {
      const db = database.db;
      const byKey = prepareQuery(db, ['key', 'limit'], (a: { key: string; limit: number }) =>
        db.selectFrom('serverSettings').select(['key', 'value']).where('key', '=', a.key).limit(a.limit),
      );
      await db
        .insertInto('serverSettings')
        .values([
          { key: 'prepared-a', value: 'A' },
          { key: 'prepared-b', value: 'B' },
        ])
        .execute();
      assert.deepEqual(await byKey({ key: 'prepared-a', limit: 5 }), [{ key: 'prepared-a', value: 'A' }]);
      assert.deepEqual(await byKey({ key: 'prepared-b', limit: 5 }), [{ key: 'prepared-b', value: 'B' }]);
      assert.deepEqual(await byKey({ key: 'prepared-b', limit: 0 }), []);
      assert.throws(
        () =>
          prepareQuery(db, ['key', 'unused'], (a: { key: string; unused: string }) =>
            db.selectFrom('serverSettings').select('key').where('key', '=', a.key),
          ),
        /unused not bound/,
      );
    });

    it('answers ping, and fails it once closed', async () => {
      await database.ping();
      const { count } = await sql<{ count: number }>`select count(*) as count from users`
        .execute(database.db)
        .then((r) => r.rows[0]!);
      assert.ok(Number(count) >= 1);
    });
  });
}

describe('migration 0010-accounts', () => {
  it('gives existing users a role without taking access away, and makes the first admin a server admin', async () => {
    const dir = tempDir();
    const connection = new BetterSqlite3(path.join(dir, 'old.db'));
    connection.pragma('foreign_keys = ON');
    const db = new Kysely<DB>({
      dialect: new SqliteDialect({ database: connection }),
      plugins: [new CamelCasePlugin()],
    });
    try {
      const upTo = (last: string) => migratorUpTo(db, last);
      assert.equal((await upTo('0009-enrichment-failures').migrateToLatest()).error, undefined);
      await sql`insert into server_settings (key, value) values ('default_workspace_id', 'w-def')`.execute(
        db,
      );
      for (const ws of ['w-def', 'w-other']) {
        await sql`insert into workspaces (id, name, description, platform_name, bind_code, created_at, updated_at)
          values (${ws}, ${ws}, '', 'p', ${'BC-' + ws}, 1, 1)`.execute(db);
      }
      const user = (id: string, ws: string, type: number, at: number) =>
        sql`insert into users (id, workspace_id, username, password_hash, user_type, mqtt_username, mqtt_password, created_at, updated_at)
          values (${id}, ${ws}, ${id}, 'h', ${type}, ${'mq-' + id}, 'p', ${at}, ${at})`.execute(db);
      await user('pilot-first', 'w-def', 2, 1);
      await user('admin', 'w-def', 1, 2);
      await user('web-later', 'w-def', 1, 3);
      await user('web-elsewhere', 'w-other', 1, 0);
      assert.equal((await upTo('0010-accounts').migrateToLatest()).error, undefined);
      const rows = await db
        .selectFrom('users')
        .select(['id', 'role', 'serverAdmin', 'disabledAt'])
        .orderBy('id')
        .execute();
      assert.deepEqual(
        rows.map((r) => [r.id, r.role, Number(r.serverAdmin), r.disabledAt]),
        [
          ['admin', 'administrator', 1, null],
          ['pilot-first', 'operator', 0, null],
          ['web-elsewhere', 'administrator', 0, null],
          ['web-later', 'administrator', 0, null],
        ],
      );
    } finally {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('openDatabase refusals', () => {
  it('explains an unreachable PostgreSQL in one sentence without the password', async () => {
    await assert.rejects(
      openDatabase({ kind: 'postgres', url: 'postgres://u:sekret@127.0.0.1:1/db' }),
      (error: Error) => {
        assert.equal(error.name, 'StartupError');
        assert.match(
          error.message,
          /PostgreSQL at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db cannot be reached \(connection refused\)/,
        );
        assert.ok(!error.message.includes('sekret'));
        return true;
      },
    );
  });

  it('explains an SQLite file that cannot be created', async () => {
    const dir = tempDir();
    const notADirectory = path.join(dir, 'file');
    writeFileSync(notADirectory, '');
    await assert.rejects(
      openDatabase({ kind: 'sqlite', file: path.join(notADirectory, 'x.db') }),
      (error: Error) => {
        assert.equal(error.name, 'StartupError');
        assert.match(error.message, /cannot be opened .*SKYVAULT_DATA_DIR is writable/);
        return true;
      },
    );
  });
});
