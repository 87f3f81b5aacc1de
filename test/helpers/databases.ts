/**
 * The databases every repository test runs against: SQLite always, PostgreSQL too when
 * SKYVAULT_TEST_DATABASE_URL names a server (CI sets it). Each call creates a fresh, empty database
 * (a new file, or CREATE DATABASE on the server) so test files can run in parallel.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export type DialectName = 'sqlite' | 'postgres';

export function testDialects(): DialectName[] {
  return process.env.SKYVAULT_TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
}

export interface FreshDatabase {
  /** SKYVAULT_DATABASE_URL for this database; undefined = SQLite in the data directory. */
  url: string | undefined;
  drop(): Promise<void>;
}

export async function createFreshDatabase(dialect: DialectName): Promise<FreshDatabase> {
  if (dialect === 'sqlite') return { url: undefined, drop: async () => {} };
  const adminUrl = process.env.SKYVAULT_TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('SKYVAULT_TEST_DATABASE_URL is not set');
  const name = `skyvault_test_${randomBytes(6).toString('hex')}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
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
