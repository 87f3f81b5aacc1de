/**
 * The `devices` table: gateways (docks, remote controllers) and their sub-devices. SQL only; the rules
 * (who may bind what, what a topology report changes) are DeviceService's.
 */
import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import { prepareQuery } from '../../db/prepared.ts';
import type { DB, DevicesTable } from '../../db/schema.ts';

export type Device = Selectable<DevicesTable>;
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

  /** Every sub-device recorded under a gateway. */
  children(gatewaySn: string): Promise<Device[]> {
    return this.db.selectFrom('devices').selectAll().where('parentSn', '=', gatewaySn).execute();
  }

  /** The sub-devices of these gateways that are bound to this workspace. */
  childrenInWorkspace(workspaceId: string, gatewaySns: string[]): Promise<Device[]> {
    if (gatewaySns.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('devices')
      .selectAll()
      .where('parentSn', 'in', gatewaySns)
      .where('workspaceId', '=', workspaceId)
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
  ): Promise<{ items: Device[]; total: number }> {
    let query = this.db.selectFrom('devices').where('workspaceId', '=', workspaceId);
    query =
      filter.domain === undefined
        ? query.where('kind', '=', 'gateway')
        : query.where('domain', '=', filter.domain);
    const items = await query
      .selectAll()
      .orderBy('boundAt', 'desc')
      .orderBy('sn')
      .offset(page.offset)
      .limit(page.limit)
      .execute();
    const { total } = await query
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
