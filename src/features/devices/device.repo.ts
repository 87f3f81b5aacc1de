/**
 * The `devices` table: gateways (docks, remote controllers) and their sub-devices. SQL only; the rules
 * (who may bind what, what a topology report changes) are DeviceService's.
 */
import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import { prepareQuery } from '../../db/prepared.ts';
import type { DB, DeviceKind, DevicesTable } from '../../db/schema.ts';

export type Device = Selectable<DevicesTable>;
/** A device as people see it: with its model's name (device dictionary) and its workspace's name. */
export type DeviceView = Device & { modelName: string | null; workspaceName: string | null };
export type NewDevice = Insertable<DevicesTable>;
export type DeviceChanges = Omit<Updateable<DevicesTable>, 'sn'>;

export class DeviceRepo {
  // What every dock report needs, compiled once (db/prepared.ts) on first use.
  private contextQuery:
    | ((args: {
        sn: string;
        online: number;
      }) => Promise<{ workspaceId: string | null; childSn: string | null }[]>)
    | undefined;

  constructor(private readonly db: Kysely<DB>) {}

  /** Runs `work` with a repository whose statements all belong to one transaction. */
  transaction<T>(work: (repo: DeviceRepo) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => work(new DeviceRepo(trx)));
  }

  find(sn: string): Promise<Device | undefined> {
    return this.db.selectFrom('devices').selectAll().where('sn', '=', sn).executeTakeFirst();
  }

  async insert(device: NewDevice): Promise<void> {
    await this.db.insertInto('devices').values(device).execute();
  }

  async update(sn: string, changes: DeviceChanges): Promise<void> {
    await this.db.updateTable('devices').set(changes).where('sn', '=', sn).execute();
  }

  /** Devices with their model and workspace names (the dictionary and workspaces joined). */
  private views() {
    return this.db
      .selectFrom('devices as d')
      .leftJoin('deviceModels as m', 'm.modelKey', 'd.modelKey')
      .leftJoin('workspaces as w', 'w.id', 'd.workspaceId')
      .selectAll('d')
      .select(['m.name as modelName', 'w.name as workspaceName']);
  }

  findView(sn: string): Promise<DeviceView | undefined> {
    return this.views().where('d.sn', '=', sn).executeTakeFirst();
  }

  /** A workspace's devices of one domain (0 = aircraft), most recently seen first. */
  listByDomain(workspaceId: string, domain: number): Promise<DeviceView[]> {
    return this.views()
      .where('d.workspaceId', '=', workspaceId)
      .where('d.domain', '=', domain)
      .orderBy('d.lastSeenAt', 'desc')
      .orderBy('d.sn')
      .execute();
  }

  /** The devices with these SNs, as views (for splicing gateways into the aircraft list). */
  viewsOf(sns: string[]): Promise<DeviceView[]> {
    if (sns.length === 0) return Promise.resolve([]);
    return this.views().where('d.sn', 'in', sns).execute();
  }

  /** Every sub-device recorded under a gateway. */
  children(gatewaySn: string): Promise<Device[]> {
    return this.db.selectFrom('devices').selectAll().where('parentSn', '=', gatewaySn).execute();
  }

  /** The sub-devices of these gateways that are bound to this workspace, most recently seen first. */
  childrenInWorkspace(workspaceId: string, gatewaySns: string[]): Promise<DeviceView[]> {
    if (gatewaySns.length === 0) return Promise.resolve([]);
    return this.views()
      .where('d.parentSn', 'in', gatewaySns)
      .where('d.workspaceId', '=', workspaceId)
      .orderBy('d.lastSeenAt', 'desc')
      .execute();
  }

  /** A gateway's online sub-devices other than `keep` go offline. */
  async childrenOffline(gatewaySn: string, keep: string[], now: number): Promise<void> {
    let query = this.db
      .updateTable('devices')
      .set({ online: 0, updatedAt: now })
      .where('parentSn', '=', gatewaySn)
      .where('online', '=', 1);
    if (keep.length > 0) query = query.where('sn', 'not in', keep);
    await query.execute();
  }

  /** Moves a gateway's sub-devices into a workspace along with it. */
  async bindChildren(gatewaySn: string, workspaceId: string, now: number): Promise<void> {
    await this.db
      .updateTable('devices')
      .set({ workspaceId, boundAt: now, updatedAt: now })
      .where('parentSn', '=', gatewaySn)
      .execute();
  }

  /** Unbinds a device and those of its sub-devices bound to the same workspace. */
  async unbindWithChildren(sn: string, workspaceId: string, now: number): Promise<void> {
    await this.db
      .updateTable('devices')
      .set({ workspaceId: null, boundAt: null, updatedAt: now })
      .where((eb) =>
        eb.or([eb('sn', '=', sn), eb.and([eb('parentSn', '=', sn), eb('workspaceId', '=', workspaceId)])]),
      )
      .execute();
  }

  /** Records the firmware version a device reports; false when it is not a known device. */
  async setFirmwareVersion(sn: string, version: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('devices')
      .set({ firmwareVersion: version, updatedAt: now })
      .where('sn', '=', sn)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** How many devices are online, per kind. */
  async countOnline(): Promise<Record<DeviceKind, number>> {
    const rows = await this.db
      .selectFrom('devices')
      .select((eb) => ['kind', eb.fn.countAll().as('count')])
      .where('online', '=', 1)
      .groupBy('kind')
      .execute();
    const counts: Record<DeviceKind, number> = { gateway: 0, sub_device: 0 };
    for (const row of rows) counts[row.kind] = Number(row.count);
    return counts;
  }

  /** A gateway and its sub-devices go offline; returns the rows that were online. */
  markOffline(gatewaySn: string, now: number): Promise<Device[]> {
    return this.db
      .updateTable('devices')
      .set({ online: 0, updatedAt: now })
      .where((eb) => eb.or([eb('sn', '=', gatewaySn), eb('parentSn', '=', gatewaySn)]))
      .where('online', '=', 1)
      .returningAll()
      .execute();
  }

  /** One page of a workspace's gateways (or, with `domain`, its devices of that domain), newest first. */
  async listBound(
    workspaceId: string,
    filter: { domain?: number | undefined },
    page: { offset: number; limit: number },
  ): Promise<{ items: DeviceView[]; total: number }> {
    // Gateways by default; with a domain, the workspace's devices of that domain.
    const [column, value] =
      filter.domain === undefined ? (['d.kind', 'gateway'] as const) : (['d.domain', filter.domain] as const);
    const items = await this.views()
      .where('d.workspaceId', '=', workspaceId)
      .where(column, '=', value)
      .orderBy('d.boundAt', 'desc')
      .orderBy('d.sn')
      .offset(page.offset)
      .limit(page.limit)
      .execute();
    const { total } = await this.db
      .selectFrom('devices as d')
      .where('d.workspaceId', '=', workspaceId)
      .where(column, '=', value)
      .select((eb) => eb.fn.countAll<number | string>().as('total'))
      .executeTakeFirstOrThrow();
    return { items, total: Number(total) };
  }

  /**
   * A gateway's workspace (the persisted binding, online or not) and the most recently seen sub-device
   * with this online state, in one lookup.
   */
  async gatewayContext(
    gatewaySn: string,
    online: number,
  ): Promise<{ workspaceId: string | null; childSn: string | null } | undefined> {
    const db = this.db;
    this.contextQuery ??= prepareQuery(db, ['sn', 'online'], (a: { sn: string; online: number }) =>
      db
        .selectFrom('devices as g')
        .leftJoin('devices as c', (join) =>
          join.onRef('c.parentSn', '=', 'g.sn').on('c.online', '=', a.online),
        )
        .select(['g.workspaceId', 'c.sn as childSn'])
        .where('g.sn', '=', a.sn)
        .orderBy('c.lastSeenAt', 'desc')
        .limit(1),
    );
    const [row] = await this.contextQuery({ sn: gatewaySn, online });
    return row;
  }
}
