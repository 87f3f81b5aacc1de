/**
 * The databases every repository test runs against: SQLite always, PostgreSQL too when
 * SKYVAULT_TEST_DATABASE_URL names a server (CI sets it). Each call creates a fresh, empty database
 * (a new file, or CREATE DATABASE on the server) so test files can run in parallel.
 *
 * Whoever creates one drops it, also when the test fails: in an `after` hook registered before
 * anything else can fail, `t.after`, or `finally` (startTestApp's close() does it for its apps).
 * A test process that never gets there (killed at a timeout, crashed) leaves its databases behind;
 * their names carry the creating process id, and the next test process on this machine that creates
 * one drops those whose process is gone.
 */
import { randomBytes } from 'node:crypto';
import { type Kysely, Migrator } from 'kysely';
import pg from 'pg';
import { migrations } from '../../src/db/migrations/index.ts';
import type { DB } from '../../src/db/schema.ts';

export type DialectName = 'sqlite' | 'postgres';

export function testDialects(): DialectName[] {
  return process.env.SKYVAULT_TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
}

export interface FreshDatabase {
  /** SKYVAULT_DATABASE_URL for this database; undefined = SQLite in the data directory. */
  url: string | undefined;
  /** Drops the database (idempotent). */
  drop(): Promise<void>;
}

const PREFIX = 'skyvault_test_';
/** Once per process: drops the test databases of test processes on this machine that have ended. */
let sweep: Promise<void> | undefined;

export async function createFreshDatabase(dialect: DialectName): Promise<FreshDatabase> {
  if (dialect === 'sqlite') return { url: undefined, drop: async () => {} };
  const adminUrl = process.env.SKYVAULT_TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('SKYVAULT_TEST_DATABASE_URL is not set');
  await (sweep ??= dropLeftovers(adminUrl).catch(() => {}));
  const name = `${PREFIX}${process.pid}_${randomBytes(6).toString('hex')}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop: () =>
      (dropped ??= withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(
        () => {},
      )),
  };
}

async function dropLeftovers(adminUrl: string): Promise<void> {
  // Process ids mean something only on this machine.
  const host = new URL(adminUrl).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]', ''].includes(host)) return;
  const names = await withClient(adminUrl, (c) =>
    c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${PREFIX}%`]),
  );
  for (const { datname } of names.rows) {
    const pid = Number(new RegExp(`^${PREFIX}(\\d+)_[0-9a-f]+$`).exec(datname)?.[1]);
    if (!pid || isRunning(pid)) continue;
    // Another process may be sweeping the same one: that is fine.
    await withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`)).catch(
      () => {},
    );
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A migrator that runs the migrations up to `last` included: a database as an older Skyvault left it. */
export function migratorUpTo(db: Kysely<DB>, last: string): Migrator {
  const names = Object.keys(migrations);
  if (!names.includes(last)) throw new Error(`no migration ${last}`);
  return new Migrator({
    db,
    provider: {
      getMigrations: async () =>
        Object.fromEntries(names.slice(0, names.indexOf(last) + 1).map((n) => [n, migrations[n]!])),
    },
  });
}
