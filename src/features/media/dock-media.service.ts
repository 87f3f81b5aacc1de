/**
 * Dock media (docs/protocol.md §4) on top of "record media": which workspace a gateway's report belongs
 * to, the aircraft it came from, and what to do while the gateway is not bound. Decision §10.27: nothing
 * is dropped; a report from a gateway without a workspace waits in `pending_device_reports` and is
 * recorded when the gateway is bound.
 */
import Emittery from 'emittery';
import { AppError } from '../../shared/app-error.ts';
import { newId } from '../../shared/ids.ts';
import type { Logger } from '../../shared/logger.ts';
import { objectKeyProblem } from '../../storage/object-key.ts';
import type { DeviceService } from '../devices/device.service.ts';
import type { MediaRepo } from './media.repo.ts';
import type { MediaService, MediaUploadReport } from './media.service.ts';
import type { PendingReportRepo } from './pending-report.repo.ts';

export type DockUploadOutcome = 'recorded' | 'duplicate' | 'failed-upload' | 'pending' | 'refused';

/** Server-initiated device services (the MQTT gateway's `call`). */
export interface DeviceCommands {
  call(gatewaySn: string, method: string, data: Record<string, unknown>): Promise<{ result: number }>;
}

export interface DockMediaEvents {
  /** A dock's file was recorded in a flight's group: how many the group holds now, of how many. */
  groupProgress: {
    workspaceId: string;
    flightId: string;
    expected: number | null;
    uploaded: number;
    gatewaySn: string;
    droneSn: string | undefined;
  };
  /** The dock now uploads this flight's media first. */
  priorityChanged: { workspaceId: string; gatewaySn: string; flightId: string; previous: string | undefined };
}

export interface DockMediaServiceOptions {
  media: MediaService;
  devices: DeviceService;
  mediaRepo: MediaRepo;
  pendingReports: PendingReportRepo;
  /** Server-initiated services; without them, commands answer MqttUnavailable. */
  commands?: DeviceCommands | undefined;
  logger: Logger;
  now?: () => number;
}

const PENDING_UPLOAD = 'file_upload_callback';

/**
 * A flight's files arrive one report each, often hundreds within minutes, from docks by the hundred.
 * The web's counter of a flight's uploads is told at most this often per flight, with the count then,
 * rather than one count and one message per file (a fifth of the database's statements per dock event).
 */
export const PROGRESS_INTERVAL_MS = 200;
/** Flights whose group row this instance remembers writing (with their gateway). */
const LINKED_FLIGHTS_KEPT = 10_000;
const flightKey = (workspaceId: string, flightId: string) => `${workspaceId}/${flightId}`;

export class DockMediaService {
  readonly events = new Emittery<DockMediaEvents>();
  private readonly now: () => number;
  private readonly repo: MediaRepo;
  private readonly pending: PendingReportRepo;
  /** `workspace/flight` → the gateway this instance last wrote on the flight's group row. */
  private readonly linkedFlights = new Map<string, string>();
  /** Flights with files recorded since their progress was last announced. */
  private readonly progressDue = new Map<
    string,
    { workspaceId: string; flightId: string; gatewaySn: string; droneSn: string | undefined }
  >();
  private progressTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: DockMediaServiceOptions) {
    this.now = options.now ?? Date.now;
    this.repo = options.mediaRepo;
    this.pending = options.pendingReports;
    // Whenever a gateway is found bound, what it reported before is recorded (a failure reaches the
    // binding's caller: the device's message goes unanswered and is sent again).
    options.devices.events.on('bound', async ({ gatewaySn, workspaceId }) => {
      const recorded = await this.recordPending(gatewaySn, workspaceId);
      if (recorded) {
        options.logger.info({ gatewaySn, recorded }, 'recorded the media a gateway sent before it was bound');
      }
    });
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
    // Refused at once, bound gateway or not: a report kept for later would be refused then anyway.
    const keyProblem = objectKeyProblem(report.objectKey);
    if (keyProblem) {
      const error = new AppError('ObjectKeyInvalid', keyProblem.message);
      logger.warn(
        { gatewaySn, objectKey: report.objectKey, reason: error.message },
        'dock media report refused',
      );
      return 'refused';
    }
    const { workspaceId, subDeviceSn: droneSn } = await devices.gatewayContext(gatewaySn);
    const full: MediaUploadReport = { ...report, droneSn };
    if (!workspaceId) {
      await this.pending.insert({
        id: newId(),
        gatewaySn,
        method: PENDING_UPLOAD,
        payload: JSON.stringify(full),
        receivedAt: this.now(),
      });
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
    const rows = await this.pending.list(gatewaySn, PENDING_UPLOAD);
    for (const row of rows) {
      await this.record(gatewaySn, workspaceId, JSON.parse(row.payload) as MediaUploadReport);
      await this.pending.delete(row.id);
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
    this.remember(flightKey(workspaceId, flightId), gatewaySn);
    if (previous !== flightId) {
      await this.events.emit('priorityChanged', { workspaceId, gatewaySn, flightId, previous });
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
    this.remember(flightKey(workspaceId, flightId), gatewaySn);
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
        await this.linkToFlight(workspaceId, report.fileGroupId, gatewaySn, report.droneSn);
      }
      return file ? 'recorded' : 'duplicate';
    } catch (error) {
      if (error instanceof AppError && !error.transient) {
        this.options.logger.warn(
          { gatewaySn, objectKey: report.objectKey, reason: error.message },
          'dock media report refused',
        );
        return 'refused';
      }
      throw error;
    }
  }

  /**
   * Records the gateway on the flight's group, once per gateway (this instance remembers which flights'
   * rows it wrote), and, when someone listens (the web's counter of a flight's uploaded media), marks
   * the flight's progress to be announced.
   */
  private async linkToFlight(
    workspaceId: string,
    flightId: string,
    gatewaySn: string,
    droneSn: string | undefined,
  ): Promise<void> {
    const key = flightKey(workspaceId, flightId);
    if (this.linkedFlights.get(key) !== gatewaySn) {
      await this.repo.upsertGroupFacts(workspaceId, flightId, this.now(), { gatewaySn });
      this.remember(key, gatewaySn);
    }
    if (this.events.listenerCount('groupProgress') === 0 || this.closed) return;
    this.progressDue.set(key, { workspaceId, flightId, gatewaySn, droneSn });
    this.progressTimer ??= setTimeout(() => void this.announceProgress(), PROGRESS_INTERVAL_MS);
  }

  private remember(key: string, gatewaySn: string): void {
    this.linkedFlights.delete(key);
    this.linkedFlights.set(key, gatewaySn);
    // A Map iterates in insertion order: the first key is the flight written longest ago.
    if (this.linkedFlights.size > LINKED_FLIGHTS_KEPT) {
      this.linkedFlights.delete(this.linkedFlights.keys().next().value!);
    }
  }

  /** Announces how many files each flight marked since the last time holds now, of how many. */
  private async announceProgress(): Promise<void> {
    this.progressTimer = undefined;
    const due = [...this.progressDue.values()];
    this.progressDue.clear();
    for (const { workspaceId, flightId, gatewaySn, droneSn } of due) {
      try {
        const { expected, uploaded } = await this.repo.groupProgress(workspaceId, flightId);
        await this.events.emit('groupProgress', {
          workspaceId,
          flightId,
          expected,
          uploaded,
          gatewaySn,
          droneSn,
        });
      } catch (error) {
        this.options.logger.warn(
          { err: error, workspaceId, flightId },
          "a flight's upload progress was not announced",
        );
      }
    }
  }

  /** Announces the progress still due, and marks no more (before the database closes). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.progressTimer);
    await this.announceProgress();
  }
}
