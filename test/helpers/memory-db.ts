/**
 * A migrated in-memory SQLite database and the repositories over it, for unit tests of one service
 * (the real schema and SQL, no files, no sockets).
 */
import { openDatabase } from '../../src/db/database.ts';
import { Repositories } from '../../src/features/repositories.ts';

export async function memoryRepositories(): Promise<{ repos: Repositories; close(): Promise<void> }> {
  const database = await openDatabase({ kind: 'sqlite', file: ':memory:' });
  return { repos: new Repositories(database.db), close: () => database.close() };
}
