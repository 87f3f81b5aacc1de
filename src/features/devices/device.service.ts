/**
 * The device registry: gateways (docks, remote controllers) and their aircraft, their workspace binding
 * and online state (dji-protocol.md §1.5, Appendix A). Transport-free: the MQTT handlers call it with
 * parsed values; the management API will too.
 *
 * Binding rules: a gateway is bound by the dock organization requests, by the RC binding call or the
 * management API, or on its first `update_topo` to the workspace of the MQTT account it logged in with.
 * A sub-device follows its gateway's workspace. The binding is persisted, so media from a gateway that
 * looks offline is still recorded in the right workspace.
 */
import type { Kysely, Selectable } from 'kysely';
import { prepareQuery } from '../../db/prepared.ts';
import type { DB, DevicesTable } from '../../db/schema.ts';
import type { Logger } from '../../shared/logger.ts';
import type { LivePublisher } from '../events/live-events.ts';

export type Device = Selectable<DevicesTable>;

export interface DeviceModel {
  domain: number;
  type: number;
  subType: number;
}

export interface TopologyDevice extends DeviceModel {
  sn: string;
  thingVersion?: string | undefined;
  controlIndex?: string | undefined;
}

export interface Topology extends DeviceModel {
  thingVersion?: string | undefined;
  subDevices: TopologyDevice[];
}

export interface DeviceServiceOptions {
  now?: () => number;
  /**
   * Called whenever a gateway is found bound (update_topo, binding): reports it sent while unbound are
   * recorded then. Not only on the change of binding, so that a failed attempt is retried next time.
   */
  onBound?: (gatewaySn: string, workspaceId: string) => Promise<void>;
  /** device_online / device_offline / device_update_topo for the web. */
  live?: LivePublisher;
  logger?: Logger;
}

/** The device as live updates describe it. */
export function liveDevice(d: Device): Record<string, unknown> {
  return {
    sn: d.sn,
    device_model_key: d.modelKey,
    domain: d.domain,
    type: d.type,
    sub_type: d.subType,
    parent_sn: d.parentSn,
    nickname: d.callsign ?? d.sn,
    online: d.online === 1,
  };
}

export const modelKey = (m: DeviceModel) => `${m.domain}-${m.type}-${m.subType}`;

export class DeviceService {
  private readonly now: () => number;
  private readonly contextQuery;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly options: DeviceServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.contextQuery = prepareQuery(db, ['sn', 'online'], (a: { sn: string; online: number }) =>
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
  }

  find(sn: string): Promise<Device | undefined> {
    return this.db.selectFrom('devices').selectAll().where('sn', '=', sn).executeTakeFirst();
  }

  /**
   * `update_topo`: the gateway is online with these sub-devices (none = its aircraft went offline). An
   * unbound gateway is bound to `accountWorkspaceId` when given (the MQTT account it logged in with).
   */
  async updateTopology(gatewaySn: string, topology: Topology, accountWorkspaceId?: string): Promise<Device> {
    const now = this.now();
    let boundTo: string | undefined;
    const cameOnline: Device[] = [];
    const foreign: string[] = [];
    const wentOffline: Device[] = [];
    const gateway = await this.db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom('devices')
        .selectAll()
        .where('sn', '=', gatewaySn)
        .executeTakeFirst();
      const before = await trx
        .selectFrom('devices')
        .select('sn')
        .where('parentSn', '=', gatewaySn)
        .where('online', '=', 1)
        .execute();
      // Bound automatically only when first seen: a gateway unbound on purpose stays unbound.
      const workspaceId = existing ? existing.workspaceId : (accountWorkspaceId ?? null);
      if (workspaceId) boundTo = workspaceId;
      const values = {
        kind: 'gateway' as const,
        parentSn: null,
        domain: topology.domain,
        type: topology.type,
        subType: topology.subType,
        modelKey: modelKey(topology),
        thingVersion: topology.thingVersion ?? existing?.thingVersion ?? null,
        online: 1,
        lastSeenAt: now,
        workspaceId,
        boundAt: existing?.boundAt ?? (workspaceId ? now : null),
        updatedAt: now,
      };
      if (existing) await trx.updateTable('devices').set(values).where('sn', '=', gatewaySn).execute();
      else
        await trx
          .insertInto('devices')
          .values({ sn: gatewaySn, callsign: null, controlIndex: null, createdAt: now, ...values })
          .execute();
      // Children no longer announced went offline with the link to this gateway.
      const current = topology.subDevices.map((d) => d.sn);
      let gone = trx
        .updateTable('devices')
        .set({ online: 0, updatedAt: now })
        .where('parentSn', '=', gatewaySn);
      if (current.length > 0) gone = gone.where('sn', 'not in', current);
      await gone.where('online', '=', 1).execute();
      for (const sub of topology.subDevices) {
        const child = await trx.selectFrom('devices').selectAll().where('sn', '=', sub.sn).executeTakeFirst();
        // An aircraft bound to another workspace is not taken over by announcing it.
        if (child?.workspaceId && child.workspaceId !== workspaceId) {
          foreign.push(sub.sn);
          continue;
        }
        const childValues = {
          kind: 'sub_device' as const,
          parentSn: gatewaySn,
          domain: sub.domain,
          type: sub.type,
          subType: sub.subType,
          modelKey: modelKey(sub),
          thingVersion: sub.thingVersion ?? child?.thingVersion ?? null,
          controlIndex: sub.controlIndex ?? null,
          online: 1,
          lastSeenAt: now,
          // An aircraft follows its gateway's workspace (the DJI demo binds it on update_topo too).
          workspaceId: workspaceId ?? child?.workspaceId ?? null,
          boundAt: child?.boundAt ?? (workspaceId ? now : null),
          updatedAt: now,
        };
        if (child) await trx.updateTable('devices').set(childValues).where('sn', '=', sub.sn).execute();
        else
          await trx
            .insertInto('devices')
            .values({ sn: sub.sn, callsign: null, createdAt: now, ...childValues })
            .execute();
      }
      const after = await trx.selectFrom('devices').selectAll().where('parentSn', '=', gatewaySn).execute();
      const saved = await trx
        .selectFrom('devices')
        .selectAll()
        .where('sn', '=', gatewaySn)
        .executeTakeFirstOrThrow();
      if (existing?.online !== 1) cameOnline.push(saved);
      const wasOnline = new Set(before.map((d) => d.sn));
      for (const child of after) {
        if (child.online === 1 && !wasOnline.has(child.sn)) cameOnline.push(child);
        if (child.online === 0 && wasOnline.has(child.sn)) wentOffline.push(child);
      }
      return saved;
    });
    for (const sn of foreign)
      this.options.logger?.warn(
        { gatewaySn, sn },
        'an aircraft bound to another workspace was not taken over',
      );
    if (boundTo) await this.options.onBound?.(gatewaySn, boundTo);
    const live = this.options.live;
    if (live && gateway.workspaceId) {
      for (const d of cameOnline) live.publish(gateway.workspaceId, 'device_online', liveDevice(d));
      for (const d of wentOffline) live.publish(gateway.workspaceId, 'device_offline', liveDevice(d));
      if (cameOnline.length + wentOffline.length > 0) {
        live.publish(gateway.workspaceId, 'device_update_topo', liveDevice(gateway));
      }
    }
    return gateway;
  }

  /** Whether a device is the gateway itself or one of its sub-devices (what a gateway may ask about). */
  async isOwnDevice(gatewaySn: string, sn: string): Promise<Device | undefined> {
    const device = await this.find(sn);
    return device && (device.sn === gatewaySn || device.parentSn === gatewaySn) ? device : undefined;
  }

  /**
   * A gateway binds itself or its aircraft (the dock organization requests). Refused ('not-yours') for any
   * other known device, and for a device bound to another workspace: a binding code must not let one
   * workspace take another's devices (unbind them there first).
   */
  async bindFromGateway(
    gatewaySn: string,
    sn: string,
    workspaceId: string,
    details: { callsign?: string | undefined; model?: DeviceModel } = {},
  ): Promise<'bound' | 'not-yours'> {
    const known = await this.find(sn);
    const own = sn === gatewaySn || !known || known.parentSn === gatewaySn;
    if (!own || (known?.workspaceId && known.workspaceId !== workspaceId)) return 'not-yours';
    await this.bind(sn, workspaceId, details);
    return 'bound';
  }

  /** Binds a device (and, for a gateway, its current sub-devices) to a workspace. */
  async bind(
    sn: string,
    workspaceId: string,
    details: { callsign?: string | undefined; model?: DeviceModel } = {},
  ) {
    const now = this.now();
    const existing = await this.find(sn);
    if (existing) {
      await this.db
        .updateTable('devices')
        .set({
          workspaceId,
          boundAt: existing.workspaceId === workspaceId && existing.boundAt ? existing.boundAt : now,
          callsign: details.callsign ?? existing.callsign,
          updatedAt: now,
        })
        .where('sn', '=', sn)
        .execute();
    } else {
      const model = details.model ?? { domain: -1, type: -1, subType: -1 };
      await this.db
        .insertInto('devices')
        .values({
          sn,
          workspaceId,
          kind: model.domain === 0 ? 'sub_device' : 'gateway',
          parentSn: null,
          domain: model.domain,
          type: model.type,
          subType: model.subType,
          modelKey: modelKey(model),
          callsign: details.callsign ?? null,
          thingVersion: null,
          controlIndex: null,
          online: 0,
          lastSeenAt: null,
          boundAt: now,
          createdAt: now,
          updatedAt: now,
        })
        .execute();
    }
    if (!existing || existing.kind === 'gateway') {
      await this.db
        .updateTable('devices')
        .set({ workspaceId, boundAt: now, updatedAt: now })
        .where('parentSn', '=', sn)
        .execute();
    }
    await this.options.onBound?.(sn, workspaceId);
  }

  /** One page of a workspace's gateways (or, with `domain`, its devices of that domain), newest first. */
  async listBound(
    workspaceId: string,
    filter: { domain?: number | undefined },
    page: { offset: number; limit: number },
  ): Promise<{ items: (Device & { children: Device[] })[]; total: number }> {
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
    const children =
      items.length === 0
        ? []
        : await this.db
            .selectFrom('devices')
            .selectAll()
            .where(
              'parentSn',
              'in',
              items.map((d) => d.sn),
            )
            .where('workspaceId', '=', workspaceId)
            .execute();
    return {
      items: items.map((d) => ({ ...d, children: children.filter((c) => c.parentSn === d.sn) })),
      total: Number(total),
    };
  }

  /** The device, only if it is bound to this workspace. */
  async findInWorkspace(
    workspaceId: string,
    sn: string,
  ): Promise<(Device & { children: Device[] }) | undefined> {
    const device = await this.find(sn);
    if (!device || device.workspaceId !== workspaceId) return undefined;
    const children = await this.db
      .selectFrom('devices')
      .selectAll()
      .where('parentSn', '=', sn)
      .where('workspaceId', '=', workspaceId)
      .execute();
    return { ...device, children };
  }

  /** Unbinds a device, and a gateway's sub-devices bound to the same workspace, from that workspace. */
  async unbind(sn: string): Promise<void> {
    const device = await this.find(sn);
    if (!device?.workspaceId) return;
    const now = this.now();
    await this.db
      .updateTable('devices')
      .set({ workspaceId: null, boundAt: null, updatedAt: now })
      .where((eb) =>
        eb.or([
          eb('sn', '=', sn),
          eb.and([eb('parentSn', '=', sn), eb('workspaceId', '=', device.workspaceId)]),
        ]),
      )
      .execute();
  }

  /**
   * What a gateway's report needs, in one lookup: its workspace (the persisted binding, online or not)
   * and the aircraft online under it (DJI reports dock media without an aircraft SN).
   */
  async gatewayContext(gatewaySn: string): Promise<{ workspaceId?: string; subDeviceSn?: string }> {
    const [row] = await this.contextQuery({ sn: gatewaySn, online: 1 });
    return { workspaceId: row?.workspaceId ?? undefined, subDeviceSn: row?.childSn ?? undefined };
  }

  /** The workspace a gateway is bound to, from the persisted binding (online or not). */
  async workspaceOf(gatewaySn: string): Promise<string | undefined> {
    return (await this.find(gatewaySn))?.workspaceId ?? undefined;
  }

  /** A gateway and its sub-devices are offline (its connection ended, or it said so). */
  async markOffline(gatewaySn: string): Promise<void> {
    const now = this.now();
    const going = await this.db
      .updateTable('devices')
      .set({ online: 0, updatedAt: now })
      .where((eb) => eb.or([eb('sn', '=', gatewaySn), eb('parentSn', '=', gatewaySn)]))
      .where('online', '=', 1)
      .returningAll()
      .execute();
    for (const d of going) {
      if (d.workspaceId) this.options.live?.publish(d.workspaceId, 'device_offline', liveDevice(d));
    }
  }
}
