import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';

/** Key/value settings the server generates for itself (signing secrets, bootstrap markers). */
export class SettingsRepo {
  constructor(private readonly db: Kysely<DB>) {}

  async get(key: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('serverSettings')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value;
  }

  /**
   * Stores `value` under `key` unless a value is already there, and returns the value that won. Several
   * instances starting at once on one PostgreSQL all end up with the same value.
   */
  async getOrInsert(key: string, value: string): Promise<string> {
    await this.db
      .insertInto('serverSettings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const stored = await this.get(key);
    if (stored === undefined) throw new Error(`server setting ${key} vanished after insert`);
    return stored;
  }
}
