/**
 * Devices: gateways (docks, remote controllers) and their sub-devices (aircraft), with their workspace
 * binding and online state (docs/protocol.md §1.5, Appendix A). Dock media reports that arrive before
 * their gateway is bound wait in `pending_device_reports` and are recorded when it is (decision §10.27).
 * File groups learn which gateway uploads them and when the dock made one its upload priority (§4.3).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('devices')
    .addColumn('sn', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(36)', (c) => c.references('workspaces.id').onDelete('set null'))
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('parent_sn', 'varchar(64)')
    .addColumn('domain', 'integer', (c) => c.notNull())
    .addColumn('type', 'integer', (c) => c.notNull())
    .addColumn('sub_type', 'integer', (c) => c.notNull())
    .addColumn('model_key', 'varchar(32)', (c) => c.notNull())
    .addColumn('callsign', 'varchar(128)')
    .addColumn('thing_version', 'varchar(64)')
    .addColumn('control_index', 'varchar(8)')
    .addColumn('online', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_seen_at', 'bigint')
    .addColumn('bound_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('devices_workspace_idx')
    .on('devices')
    .columns(['workspace_id', 'kind'])
    .execute();
  await db.schema.createIndex('devices_parent_idx').on('devices').column('parent_sn').execute();

  await db.schema
    .createTable('pending_device_reports')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('gateway_sn', 'varchar(64)', (c) => c.notNull())
    .addColumn('method', 'varchar(64)', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('pending_device_reports_gateway_idx')
    .on('pending_device_reports')
    .columns(['gateway_sn', 'received_at'])
    .execute();

  await db.schema.alterTable('file_groups').addColumn('gateway_sn', 'varchar(64)').execute();
  await db.schema.alterTable('file_groups').addColumn('prioritized_at', 'bigint').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('file_groups').dropColumn('prioritized_at').execute();
  await db.schema.alterTable('file_groups').dropColumn('gateway_sn').execute();
  await db.schema.dropTable('pending_device_reports').execute();
  await db.schema.dropTable('devices').execute();
}
