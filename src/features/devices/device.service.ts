/**
 * The device registry: gateways (docks, remote controllers) and their aircraft, their workspace binding
 * and online state (docs/protocol.md §1.5, Appendix A). Transport-free: the MQTT handlers, the embedded
 * broker and the HTTP routes call it with parsed values and render what it returns.
 *
 * Every binding and ownership rule lives here, once:
 * - a gateway is bound by the dock organization requests (with a workspace's binding code), by the RC
 *   binding call or the management API, or on its first `update_topo` to the workspace of the MQTT
 *   account it logged in with;
 * - a sub-device follows its gateway's workspace;
 * - a device bound to one workspace is never taken, claimed or announced by another workspace's
 *   account, dock or user (`boundElsewhere`): unbind it there first.
 * The binding is persisted, so media from a gateway that looks offline is still recorded in the right
 * workspace. Changes are announced as events (`events`): `bound` whenever a gateway is found bound (so
 * reports it sent while unbound are recorded then), `online`, `offline` and `topology` for the web.
 */
import Emittery from 'emittery';
import { AppError } from '../../shared/app-error.ts';
import type { Logger } from '../../shared/logger.ts';
import type { Workspace, WorkspaceRepo } from '../workspaces/workspace.repo.ts';
import type { Device, DeviceRepo, DeviceView } from './device.repo.ts';

export type { Device, DeviceView } from './device.repo.ts';

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

export type DeviceWithChildren = DeviceView & { children: DeviceView[] };

/** An aircraft with the gateway (dock or remote controller) it was last seen under. */
export interface AircraftTopology {
  aircraft: DeviceView;
  gateway: DeviceView | undefined;
}

export interface DeviceEvents {
  /**
   * A gateway was found bound (update_topo, binding); emitted every time, not only on a change, so that
   * work that failed after an earlier binding is retried. Listeners' failures reach the caller.
   */
  bound: { gatewaySn: string; workspaceId: string };
  online: { workspaceId: string; device: Device };
  offline: { workspaceId: string; device: Device };
  /** A gateway's set of online sub-devices changed. */
  topology: { workspaceId: string; gateway: Device };
}

/** What `airport_bind_status` tells a dock about one device it asked about. */
export interface BindStatus {
  sn: string;
  workspace: Workspace | undefined;
  callsign: string | undefined;
}

export interface DeviceServiceOptions {
  devices: DeviceRepo;
  workspaces: WorkspaceRepo;
  now?: () => number;
  logger?: Logger;
}

export const modelKey = (m: DeviceModel) => `${m.domain}-${m.type}-${m.subType}`;

/** DJI's domain of aircraft (0); payloads are 1, remote controllers 2, docks 3. */
const AIRCRAFT_DOMAIN = 0;

export class DeviceService {
  readonly events = new Emittery<DeviceEvents>();
  private readonly repo: DeviceRepo;
  private readonly workspaces: WorkspaceRepo;
  private readonly now: () => number;
  /** The firmware version last recorded per SN, so repeated reports write nothing. */
  private readonly firmware = new Map<string, string>();

  constructor(private readonly options: DeviceServiceOptions) {
    this.repo = options.devices;
    this.workspaces = options.workspaces;
    this.now = options.now ?? Date.now;
  }

  find(sn: string): Promise<Device | undefined> {
    return this.repo.find(sn);
  }

  /**
   * The one ownership rule: whether `sn` is bound to a workspace other than `workspaceId`. Such a device
   * may not be claimed (MQTT topics), announced (update_topo), bound or commanded from `workspaceId`.
   */
  async boundElsewhere(sn: string, workspaceId: string | null | undefined): Promise<boolean> {
    const device = await this.repo.find(sn);
    return isBoundElsewhere(device, workspaceId);
  }

  /**
   * `update_topo`: the gateway is online with these sub-devices (none = its aircraft went offline). An
   * unbound gateway is bound to `accountWorkspaceId` when given (the MQTT account it logged in with).
   */
  async updateTopology(gatewaySn: string, topology: Topology, accountWorkspaceId?: string): Promise<Device> {
    const now = this.now();
    const cameOnline: Device[] = [];
    const wentOffline: Device[] = [];
    const foreign: string[] = [];
    const gateway = await this.repo.transaction(async (repo) => {
      const existing = await repo.find(gatewaySn);
      const before = (await repo.children(gatewaySn)).filter((d) => d.online === 1);
      // Bound automatically only when first seen: a gateway unbound on purpose stays unbound.
      const workspaceId = existing ? existing.workspaceId : (accountWorkspaceId ?? null);
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
      if (existing) await repo.update(gatewaySn, values);
      else
        await repo.insert({ sn: gatewaySn, callsign: null, controlIndex: null, createdAt: now, ...values });
      // Children no longer announced went offline with the link to this gateway.
      await repo.childrenOffline(
        gatewaySn,
        topology.subDevices.map((d) => d.sn),
        now,
      );
      for (const sub of topology.subDevices) {
        const child = await repo.find(sub.sn);
        if (isBoundElsewhere(child, workspaceId)) {
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
        if (child) await repo.update(sub.sn, childValues);
        else await repo.insert({ sn: sub.sn, callsign: null, createdAt: now, ...childValues });
      }
      const saved = await repo.find(gatewaySn);
      if (!saved) throw new Error(`gateway ${gatewaySn} vanished while its topology was saved`);
      if (existing?.online !== 1) cameOnline.push(saved);
      const wasOnline = new Set(before.map((d) => d.sn));
      for (const child of await repo.children(gatewaySn)) {
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
    const workspaceId = gateway.workspaceId;
    if (workspaceId) {
      await this.events.emit('bound', { gatewaySn, workspaceId });
      for (const device of cameOnline) await this.events.emit('online', { workspaceId, device });
      for (const device of wentOffline) await this.events.emit('offline', { workspaceId, device });
      if (cameOnline.length + wentOffline.length > 0) {
        await this.events.emit('topology', { workspaceId, gateway });
      }
    }
    return gateway;
  }

  /**
   * The workspace a dock's binding code names (the organization requests). An organization id, when
   * given, must be that workspace: stricter than DJI's demo, which falls back to treating the id alone as
   * the workspace; knowing a workspace id must not be enough to bind.
   */
  async workspaceForBindingCode(
    bindingCode: string | undefined,
    organizationId: string | undefined,
  ): Promise<Workspace | undefined> {
    if (!bindingCode) return undefined;
    const workspace = await this.workspaces.findByBindCode(bindingCode);
    if (!workspace) return undefined;
    return organizationId && organizationId !== workspace.id ? undefined : workspace;
  }

  /**
   * `airport_bind_status`: where each asked device is bound. Only the asking gateway and its own
   * sub-devices are described; other devices' organizations are not its business.
   */
  async bindStatus(gatewaySn: string, sns: string[]): Promise<BindStatus[]> {
    const statuses: BindStatus[] = [];
    for (const sn of sns) {
      const device = await this.repo.find(sn);
      const own = device && (device.sn === gatewaySn || device.parentSn === gatewaySn) ? device : undefined;
      const workspace = own?.workspaceId ? await this.workspaces.findById(own.workspaceId) : undefined;
      statuses.push({ sn, workspace, callsign: own?.callsign ?? undefined });
    }
    return statuses;
  }

  /**
   * A gateway binds itself or its aircraft (the dock organization requests). Refused ('not-yours') for any
   * other known device, and for a device bound to another workspace.
   */
  async bindFromGateway(
    gatewaySn: string,
    sn: string,
    workspaceId: string,
    details: { callsign?: string | undefined; model?: DeviceModel } = {},
  ): Promise<'bound' | 'not-yours'> {
    const known = await this.repo.find(sn);
    const own = sn === gatewaySn || !known || known.parentSn === gatewaySn;
    if (!own || isBoundElsewhere(known, workspaceId)) return 'not-yours';
    await this.bind(sn, workspaceId, details);
    return 'bound';
  }

  /**
   * A user binds a device to their workspace (Pilot's RC binding call, the management API). The device
   * must have connected once; one bound to another workspace is refused, and so is a request that names
   * another workspace than the user's.
   */
  async bindForUser(sn: string, workspaceId: string, requestedWorkspaceId?: string): Promise<void> {
    if (requestedWorkspaceId !== undefined && requestedWorkspaceId !== workspaceId) {
      throw new AppError('WorkspaceForbidden');
    }
    const device = await this.repo.find(sn);
    if (!device) throw new AppError('DeviceNotSeen');
    if (isBoundElsewhere(device, workspaceId)) throw new AppError('WorkspaceForbidden');
    await this.bind(device.sn, workspaceId);
  }

  /** Binds a device (and, for a gateway, its current sub-devices) to a workspace. */
  async bind(
    sn: string,
    workspaceId: string,
    details: { callsign?: string | undefined; model?: DeviceModel } = {},
  ): Promise<void> {
    const now = this.now();
    const existing = await this.repo.find(sn);
    if (existing) {
      await this.repo.update(sn, {
        workspaceId,
        boundAt: existing.workspaceId === workspaceId && existing.boundAt ? existing.boundAt : now,
        callsign: details.callsign ?? existing.callsign,
        updatedAt: now,
      });
    } else {
      const model = details.model ?? { domain: -1, type: -1, subType: -1 };
      await this.repo.insert({
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
      });
    }
    if (!existing || existing.kind === 'gateway') await this.repo.bindChildren(sn, workspaceId, now);
    await this.events.emit('bound', { gatewaySn: sn, workspaceId });
  }

  /** One page of a workspace's gateways (or, with `domain`, its devices of that domain), newest first. */
  async listBound(
    workspaceId: string,
    filter: { domain?: number | undefined },
    page: { offset: number; limit: number },
  ): Promise<{ items: DeviceWithChildren[]; total: number }> {
    const { items, total } = await this.repo.listBound(workspaceId, filter, page);
    const children = await this.repo.childrenInWorkspace(
      workspaceId,
      items.map((d) => d.sn),
    );
    return {
      items: items.map((d) => ({ ...d, children: children.filter((c) => c.parentSn === d.sn) })),
      total,
    };
  }

  /** The device with its sub-devices; DeviceNotFound unless it is bound to this workspace. */
  async getInWorkspace(workspaceId: string, sn: string): Promise<DeviceWithChildren> {
    const device = await this.repo.findView(sn);
    if (!device || device.workspaceId !== workspaceId) throw new AppError('DeviceNotFound');
    return { ...device, children: await this.repo.childrenInWorkspace(workspaceId, [sn]) };
  }

  /** The workspace's aircraft, each with its gateway when that is in the workspace too. */
  async aircraftTopology(workspaceId: string): Promise<AircraftTopology[]> {
    const aircraft = await this.repo.listByDomain(workspaceId, AIRCRAFT_DOMAIN);
    const parents = [...new Set(aircraft.map((a) => a.parentSn).filter((sn) => sn !== null))];
    const gateways = new Map(
      (await this.repo.viewsOf(parents))
        .filter((g) => g.workspaceId === workspaceId)
        .map((g) => [g.sn, g] as const),
    );
    return aircraft.map((a) => ({ aircraft: a, gateway: a.parentSn ? gateways.get(a.parentSn) : undefined }));
  }

  /**
   * Unbinds a device of this workspace, and the gateway's sub-devices bound to the same workspace.
   * DeviceNotFound unless it is bound to this workspace.
   */
  async unbindInWorkspace(workspaceId: string, sn: string): Promise<void> {
    const device = await this.repo.find(sn);
    if (!device || device.workspaceId !== workspaceId) throw new AppError('DeviceNotFound');
    await this.repo.unbindWithChildren(sn, workspaceId, this.now());
  }

  /**
   * What a gateway's report needs, in one lookup: its workspace (the persisted binding, online or not)
   * and the aircraft online under it (DJI reports dock media without an aircraft SN).
   */
  async gatewayContext(gatewaySn: string): Promise<{ workspaceId?: string; subDeviceSn?: string }> {
    const row = await this.repo.gatewayContext(gatewaySn, 1);
    return { workspaceId: row?.workspaceId ?? undefined, subDeviceSn: row?.childSn ?? undefined };
  }

  /** The workspace a gateway is bound to, from the persisted binding (online or not). */
  async workspaceOf(gatewaySn: string): Promise<string | undefined> {
    return (await this.repo.find(gatewaySn))?.workspaceId ?? undefined;
  }

  /**
   * The firmware version a device reports (its `state` property `firmware_version`). Written only when
   * it changes: devices repeat their properties.
   */
  async recordFirmware(sn: string, version: string): Promise<void> {
    if (this.firmware.get(sn) === version) return;
    if (await this.repo.setFirmwareVersion(sn, version, this.now())) this.firmware.set(sn, version);
  }

  /** How many devices are online now, gateways and sub-devices apart (every instance's, on one database). */
  countOnline(): Promise<{ gateway: number; sub_device: number }> {
    return this.repo.countOnline();
  }

  /** A gateway and its sub-devices are offline (its connection ended, or it said so). */
  async markOffline(gatewaySn: string): Promise<void> {
    for (const device of await this.repo.markOffline(gatewaySn, this.now())) {
      if (device.workspaceId) {
        await this.events.emit('offline', { workspaceId: device.workspaceId, device });
      }
    }
  }
}

function isBoundElsewhere(device: Device | undefined, workspaceId: string | null | undefined): boolean {
  return Boolean(device?.workspaceId) && device?.workspaceId !== workspaceId;
}
