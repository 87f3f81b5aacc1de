/**
 * Every migration, in order. Listed explicitly (not read from the folder) so the set is the same however
 * Skyvault is run or bundled. Migrations use Kysely's schema builder so one file serves SQLite and
 * PostgreSQL; production is forward-only (`down` is for development).
 */
import type { Migration } from 'kysely';
import * as m0001 from './0001-init.ts';
import * as m0002 from './0002-media.ts';
import * as m0003 from './0003-devices.ts';
import * as m0004 from './0004-device-models.ts';
import * as m0005 from './0005-file-group-members.ts';
import * as m0006 from './0006-media-renditions.ts';
import * as m0007 from './0007-library-indexes.ts';
import * as m0008 from './0008-log-tasks.ts';
import * as m0009 from './0009-enrichment-failures.ts';
import * as m0010 from './0010-accounts.ts';
import * as m0011 from './0011-unenriched-index.ts';
import * as m0012 from './0012-kept-update-per-row.ts';
import * as m0013 from './0013-group-counts.ts';

export const migrations: Record<string, Migration> = {
  '0001-init': m0001,
  '0002-media': m0002,
  '0003-devices': m0003,
  '0004-device-models': m0004,
  '0005-file-group-members': m0005,
  '0006-media-renditions': m0006,
  '0007-library-indexes': m0007,
  '0008-log-tasks': m0008,
  '0009-enrichment-failures': m0009,
  '0010-accounts': m0010,
  '0011-unenriched-index': m0011,
  '0012-kept-update-per-row': m0012,
  '0013-group-counts': m0013,
};
