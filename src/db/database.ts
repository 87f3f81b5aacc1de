/**
 * Opens the database the configuration names (SQLite file in the data directory by default, PostgreSQL
 * with SKYVAULT_DATABASE_URL), brings its schema up to date, and gives the rest of Skyvault one typed
 * Kysely instance for both dialects.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CamelCasePlugin,
  Kysely,
  Migrator,
  PostgresDialect,
  type PostgresPool,
  SqliteDialect,
  sql,
} from 'kysely';
// pg is imported when PostgreSQL is configured: the SQLite default does not pay for loading it at start.
import type pg from 'pg';
import type { DatabaseConfig } from '../config/config.ts';
import { redactUrl } from '../config/parsers.ts';
import { StartupError } from '../shared/startup-error.ts';
import { migrations } from './migrations/index.ts';
import { statementNameOf } from './prepared.ts';
import type { DB } from './schema.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<DB>;
  /**
   * For writes whose loss in a database crash costs only doing them again, or nothing (media enrichment,
   * which a start resumes for every file not marked enriched; live updates' NOTIFY): on PostgreSQL,
   * connections that commit without waiting for the WAL to reach the disk (synchronous_commit off; a
   * crash of the database server may forget the last fraction of a second of them, never leave them
   * half done). On SQLite, `db` itself.
   * Every write a device or user is told succeeded goes through `db`, and waits.
   */
  background: Kysely<DB>;
  dialect: Dialect;
  /** Resolves when the database answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
  /** Queries waiting for a pooled connection (PostgreSQL's pool; SQLite has one connection: 0). */
  poolWaiting(): number;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /**
   * Told how long each query waited for a pooled connection, in seconds (PostgreSQL; metrics). Timed
   * around the pool's checkout only, not around queries.
   */
  onAcquire?: ((seconds: number) => void) | undefined;
}

/** PostgreSQL type id of int8/bigint: returned as a JS number (epoch ms and byte sizes fit in 2^53). */
const PG_INT8_OID = 20;

export async function openDatabase(
  config: DatabaseConfig,
  options: OpenDatabaseOptions = {},
): Promise<Database> {
  const database =
    config.kind === 'sqlite' ? openSqlite(config.file) : await openPostgres(config.url, options.onAcquire);
  try {
    await migrateToLatest(database.db);
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

function openSqlite(file: string): Database {
  let connection: BetterSqlite3.Database;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    connection = new BetterSqlite3(file);
    connection.pragma('journal_mode = WAL');
    connection.pragma('synchronous = NORMAL');
    connection.pragma('foreign_keys = ON');
    connection.pragma('busy_timeout = 5000');
  } catch (error) {
    throw new StartupError(
      `The SQLite database ${file} cannot be opened (${reason(error)}); check that SKYVAULT_DATA_DIR is writable.`,
      { cause: error },
    );
  }
  const db = new Kysely<DB>({
    dialect: new SqliteDialect({ database: withStatementCache(connection) }),
    plugins: [new CamelCasePlugin()],
  });
  return {
    db,
    background: db,
    dialect: 'sqlite',
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    poolWaiting: () => 0,
    close: () => db.destroy(),
  };
}

/**
 * Kysely's SQLite driver prepares every statement on every query, which better-sqlite3 makes costly
 * (it was the largest cost of a Pilot request, bench/pilot-api). Prepared statements are reusable and
 * Kysely runs one query at a time on its single connection, so a cache keyed by SQL text is safe.
 */
function withStatementCache(connection: BetterSqlite3.Database, size = 500) {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => connection.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (!statement) {
        statement = connection.prepare(sql);
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

async function openPostgres(url: string, onAcquire: OpenDatabaseOptions['onAcquire']): Promise<Database> {
  const { default: pg } = await import('pg');
  // The hot path's queries are sent as named statements (db/prepared.ts): parsed once per connection.
  class NamedStatementClient extends pg.Client {
    override query(...args: unknown[]): never {
      const [text, values] = args;
      const name = typeof text === 'string' && args.length === 2 ? statementNameOf(text) : undefined;
      const call = super.query as (...a: unknown[]) => never;
      return name ? call.call(this, { name, text, values }) : call.apply(this, args);
    }
  }
  const poolOf = (max: number, options?: string) =>
    new pg.Pool({
      Client: NamedStatementClient,
      connectionString: url,
      max,
      connectionTimeoutMillis: 5000,
      ...(options ? { options } : {}),
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === PG_INT8_OID
            ? Number
            : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
  const pool = poolOf(10);
  // Each commit waiting for the WAL flush was about 0.1 ms of the database's CPU, and enrichment makes two
  // per file (bench/dock-events; docs/performance.md).
  const backgroundPool = poolOf(2, '-c synchronous_commit=off');
  backgroundPool.on('error', () => {});
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => {});
    await backgroundPool.end().catch(() => {});
    throw new StartupError(
      `PostgreSQL at ${redactUrl(url)} cannot be reached (${reason(error)}); check SKYVAULT_DATABASE_URL and that the server is running.`,
      { cause: error },
    );
  }
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: onAcquire ? timedCheckout(pool, onAcquire) : pool }),
    plugins: [new CamelCasePlugin()],
  });
  const background = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: backgroundPool }),
    plugins: [new CamelCasePlugin()],
  });
  return {
    db,
    background,
    dialect: 'postgres',
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    poolWaiting: () => pool.waitingCount,
    close: async () => {
      await Promise.all([db.destroy(), background.destroy()]);
    },
  };
}

/** The pool as Kysely uses it (connect, end), each checkout timed. */
function timedCheckout(pool: pg.Pool, onAcquire: (seconds: number) => void): PostgresPool {
  return {
    async connect() {
      const start = performance.now();
      const client = await pool.connect();
      onAcquire((performance.now() - start) / 1000);
      return client;
    },
    end: () => pool.end(),
  };
}

/** Applies pending migrations. Safe with several instances starting at once (Kysely takes a lock). */
export async function migrateToLatest(db: Kysely<DB>): Promise<string[]> {
  const migrator = new Migrator({
    db: db.withoutPlugins() as Kysely<unknown>,
    provider: { getMigrations: async () => migrations },
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new StartupError(`Database migration ${failed} failed: ${reason(error)}.`, { cause: error });
  }
  return (results ?? []).map((r) => r.migrationName);
}

/** A short human reason for a driver error, e.g. "connection refused", "database \"x\" does not exist". */
function reason(error: unknown): string {
  const e = error as { code?: string; message?: string; errors?: unknown[] };
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host';
    case 'ETIMEDOUT':
      return 'timed out';
    case 'EACCES':
      return 'permission denied';
    case 'SQLITE_CANTOPEN':
      return 'cannot open the file';
    default:
      break;
  }
  // node-postgres reports "connect ECONNREFUSED" for each address as an AggregateError.
  if (e.errors?.length) return reason(e.errors[0]);
  return e.message?.trim() || String(error);
}
