/**
 * The device dictionary: model key `domain-type-sub_type` → the model's name, which DJI's web shows
 * wherever a device or payload is named (docs/protocol.md §7.6). Seeded with the models known today;
 * operators add newer ones with a row (an unknown key is shown as the key). Devices also keep the
 * firmware version they report.
 */
import type { Kysely } from 'kysely';

const MODELS: [string, string][] = [
  ['0-60-0', 'Matrice 300 RTK'],
  ['0-67-0', 'Matrice 30'],
  ['0-67-1', 'Matrice 30T'],
  ['0-77-0', 'Mavic 3E'],
  ['0-77-1', 'Mavic 3T'],
  ['0-77-2', 'Mavic 3M'],
  ['0-89-0', 'Matrice 350 RTK'],
  ['0-91-0', 'Matrice 3D'],
  ['0-91-1', 'Matrice 3TD'],
  ['0-99-0', 'Matrice 4E'],
  ['0-99-1', 'Matrice 4T'],
  ['0-100-0', 'Matrice 4D'],
  ['0-100-1', 'Matrice 4TD'],
  ['0-103-0', 'Matrice 400'],
  ['1-20-0', 'Z30'],
  ['1-26-0', 'XT2'],
  ['1-39-0', 'FPV'],
  ['1-41-0', 'XTS'],
  ['1-42-0', 'H20'],
  ['1-43-0', 'H20T'],
  ['1-50-65535', 'P1'],
  ['1-52-0', 'M30 Camera'],
  ['1-53-0', 'M30T Camera'],
  ['1-61-0', 'H20N'],
  ['1-165-0', 'DJI Dock Camera'],
  ['1-90742-0', 'L1'],
  ['1-66-0', 'Mavic 3E Camera'],
  ['1-67-0', 'Mavic 3T Camera'],
  ['1-68-0', 'Mavic 3M Camera'],
  ['1-80-0', 'M3D Camera'],
  ['1-81-0', 'M3TD Camera'],
  ['1-82-0', 'H30'],
  ['1-83-0', 'H30T'],
  ['1-88-0', 'Matrice 4E Camera'],
  ['1-89-0', 'Matrice 4T Camera'],
  ['1-98-0', 'Matrice 4D Camera'],
  ['1-99-0', 'Matrice 4TD Camera'],
  ['2-56-0', 'DJI Smart Controller'],
  ['2-119-0', 'DJI RC Plus'],
  ['2-144-0', 'DJI RC Pro Enterprise'],
  ['2-174-0', 'DJI RC Plus 2'],
  ['3-1-0', 'DJI Dock'],
  ['3-2-0', 'DJI Dock 2'],
  ['3-3-0', 'DJI Dock 3'],
];

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('device_models')
    .addColumn('model_key', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('domain', 'integer', (c) => c.notNull())
    .addColumn('type', 'integer', (c) => c.notNull())
    .addColumn('sub_type', 'integer', (c) => c.notNull())
    .addColumn('name', 'varchar(128)', (c) => c.notNull())
    .execute();
  const rows = MODELS.map(([modelKey, name]) => {
    const [domain, type, subType] = modelKey.split('-').map(Number) as [number, number, number];
    return { model_key: modelKey, domain, type, sub_type: subType, name };
  });
  await (db as Kysely<{ device_models: (typeof rows)[number] }>)
    .insertInto('device_models')
    .values(rows)
    .execute();
  await db.schema.alterTable('devices').addColumn('firmware_version', 'varchar(64)').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('devices').dropColumn('firmware_version').execute();
  await db.schema.dropTable('device_models').execute();
}
