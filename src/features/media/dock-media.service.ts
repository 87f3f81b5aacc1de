/**
 * Dock media (dji-protocol.md §4) on top of "record media": which workspace a gateway's report belongs
 * to, the aircraft it came from, and what to do while the gateway is not bound. Decision §10.27: nothing
 * is dropped; a report from a gateway without a workspace waits in `pending_device_reports` and is
 * recorded when the gateway is bound.
 */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { AppError } from '../../shared/app-error.ts';
import { newId } from '../../shared/ids.ts';
import type { Logger } from '../../shared/logger.ts';
import type { DeviceService } from '../devices/device.service.ts';
import type { LivePublisher } from '../events/live-events.ts';
import { MediaRepo } from './media.repo.ts';
import type { MediaService, MediaUploadReport } from './media.service.ts';

export type DockUploadOutcome = 'recorded' | 'duplicate' | 'failed-upload' | 'pending' | 'refused';

/** Server-initiated device services (the MQTT gateway's `call`). */
export interface DeviceCommands {
  call(gatewaySn: string, method: string, data: Record<string, unknown>): Promise<{ result: number }>;
}

export interface DockMediaServiceOptions {
  media: MediaService;
  devices: DeviceService;
  commands?: DeviceCommands;
  /** file_upload_callback and highest_priority_upload_flighttask_media for the web (demo shapes). */
  live?: LivePublisher;
  logger: Logger;
  now?: () => number;
}

const PENDING_UPLOAD = 'file_upload_callback';

export class DockMediaService {
  private readonly now: () => number;

  private readonly repo: MediaRepo;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly options: DockMediaServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.repo = new MediaRepo(db);
  }

  /**
   * `file_upload_callback`. Permanent refusals (key outside the workspace prefix, object not in
   * storage) are logged and answered 'refused': the dock would only resend the same report. Anything
   * transient (database, storage down) throws, so the event is not acknowledged and the dock resends.
   */
  async recordUpload(
    gatewaySn: string,
    report: Omit<MediaUploadReport, 'droneSn'>,
  ): Promise<DockUploadOutcome> {
    const { devices, logger } = this.options;
    const { workspaceId, subDeviceSn: droneSn } = await devices.gatewayContext(gatewaySn);
    const full: MediaUploadReport = { ...report, droneSn };
    if (!workspaceId) {
      await this.db
        .insertInto('pendingDeviceReports')
        .values({
          id: newId(),
          gatewaySn,
          method: PENDING_UPLOAD,
          payload: JSON.stringify(full),
          receivedAt: this.now(),
        })
        .execute();
      logger.warn(
        { gatewaySn, objectKey: report.objectKey },
        'media from an unbound gateway kept until it is bound',
      );
      return 'pending';
    }
    return this.record(gatewaySn, workspaceId, full);
  }

  /** Records the reports a gateway sent before it was bound; called once it is. */
  async recordPending(gatewaySn: string, workspaceId: string): Promise<number> {
    const rows = await this.db
      .selectFrom('pendingDeviceReports')
      .selectAll()
      .where('gatewaySn', '=', gatewaySn)
      .where('method', '=', PENDING_UPLOAD)
      .orderBy('receivedAt')
      .execute();
    for (const row of rows) {
      await this.record(gatewaySn, workspaceId, JSON.parse(row.payload) as MediaUploadReport);
      await this.db.deleteFrom('pendingDeviceReports').where('id', '=', row.id).execute();
    }
    return rows.length;
  }

  /** `highest_priority_upload_flighttask_media`: the dock uploads this flight's media first. */
  async prioritize(gatewaySn: string, flightId: string): Promise<void> {
    const workspaceId = await this.options.devices.workspaceOf(gatewaySn);
    if (!workspaceId) {
      this.options.logger.warn({ gatewaySn, flightId }, 'upload priority from an unbound gateway ignored');
      return;
    }
    const now = this.now();
    const previous = await this.repo.currentPriority(gatewaySn);
    await this.repo.upsertGroupFacts(workspaceId, flightId, now, { gatewaySn, prioritizedAt: now });
    if (previous !== flightId) {
      this.options.live?.publish(workspaceId, 'highest_priority_upload_flighttask_media', {
        sn: gatewaySn,
        job_id: flightId,
        pre_job_id: previous ?? null,
      });
    }
  }

  /** The dock says how many media a flight produced (`flighttask_progress`): the group's expected count. */
  async expectMedia(gatewaySn: string, flightId: string, count: number): Promise<void> {
    const workspaceId = await this.options.devices.workspaceOf(gatewaySn);
    if (!workspaceId) {
      this.options.logger.warn({ gatewaySn, flightId }, 'media count from an unbound gateway ignored');
      return;
    }
    await this.repo.upsertGroupFacts(workspaceId, flightId, this.now(), { gatewaySn, expectedCount: count });
  }

  /**
   * Asks the dock to upload this flight's media first (`upload_flighttask_media_prioritize`, §4.4).
   * Nothing is sent when the dock already said it does (its last `highest_priority…` event).
   */
  async requestPriority(workspaceId: string, flightId: string): Promise<void> {
    const group = await this.repo.findGroup(workspaceId, flightId);
    if (!group?.gatewaySn) throw new AppError('FileGroupNotFound');
    // The dock may have been bound elsewhere since: commands go only to the workspace's own devices.
    if ((await this.options.devices.workspaceOf(group.gatewaySn)) !== workspaceId) {
      throw new AppError('DeviceNotFound');
    }
    if ((await this.repo.currentPriority(group.gatewaySn)) === flightId) return;
    if (!this.options.commands) throw new AppError('MqttUnavailable');
    const reply = await this.options.commands.call(group.gatewaySn, 'upload_flighttask_media_prioritize', {
      flight_id: flightId,
    });
    if (reply.result !== 0) {
      throw new AppError(
        'DeviceRefused',
        `The dock refused to upload this flight's media first (result ${reply.result}).`,
      );
    }
  }

  private async record(
    gatewaySn: string,
    workspaceId: string,
    report: MediaUploadReport,
  ): Promise<DockUploadOutcome> {
    try {
      const file = await this.options.media.recordUpload(workspaceId, report);
      if (report.result !== 0) return 'failed-upload';
      if (file && report.fileGroupId) {
        const expected = await this.repo.upsertGroupFacts(workspaceId, report.fileGroupId, this.now(), {
          gatewaySn,
        });
        await this.announceUpload(workspaceId, report.fileGroupId, expected, gatewaySn, report.droneSn);
      }
      return file ? 'recorded' : 'duplicate';
    } catch (error) {
      if (error instanceof AppError && error.status < 500) {
        this.options.logger.warn(
          { gatewaySn, objectKey: report.objectKey, reason: error.message },
          'dock media report refused',
        );
        return 'refused';
      }
      throw error;
    }
  }

  /** The demo web's counter of a flight's uploaded media (§7.5 `file_upload_callback`). */
  private async announceUpload(
    workspaceId: string,
    flightId: string,
    expected: number | null,
    gatewaySn: string,
    droneSn: string | undefined,
  ): Promise<void> {
    const live = this.options.live;
    if (!live) return;
    const uploaded = await this.repo.countInGroup(workspaceId, flightId);
    live.publish(workspaceId, 'file_upload_callback', {
      job_id: flightId,
      media_count: expected,
      uploaded_count: uploaded,
      device_sn: droneSn ?? gatewaySn,
      gateway_sn: gatewaySn,
    });
  }
}
