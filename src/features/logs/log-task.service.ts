/**
 * "Log task": a dock uploads its own logs and its aircraft's on request (docs/protocol.md §5). The web
 * asks what is on the device (`fileupload_list`), starts an upload (`fileupload_start` with credentials
 * scoped to the workspace's log prefix and one server-chosen object key per module), may cancel it
 * (`fileupload_update`), and follows the dock's `fileupload_progress` events to the end; then each file
 * downloads through a presigned URL. Transport-free: it speaks the log model (log-model.ts); the dock is
 * reached through the LogCommands seam, and the MQTT handler and HTTP routes read and write DJI's wire.
 *
 * Rules beyond DJI's demo:
 * - the task is recorded before `fileupload_start` is sent (its id is the message's bid, §10.40), so a
 *   dock's first progress never arrives before its task; a refusal removes it again;
 * - progress is matched by bid, then by the assigned object key, then by the key the dock reported
 *   earlier, and only among the reporting gateway's own tasks; it never moves a file backwards and a
 *   terminal `ok` always wins (log-progress.ts);
 * - a task never stays open for ever: after `uploadTimeoutSeconds` without a word from the dock it fails
 *   with a reason. The database picks the overdue tasks (one UPDATE … RETURNING), so with several
 *   instances exactly one times each task out, and a restarted instance resumes watching at once.
 */
import { randomUUID } from 'node:crypto';
import Emittery from 'emittery';
import { AppError } from '../../shared/app-error.ts';
import type { Logger } from '../../shared/logger.ts';
import { isValidObjectKey } from '../../storage/object-key.ts';
import type { StorageProvider } from '../../storage/provider.ts';
import type { DeviceService } from '../devices/device.service.ts';
import type { LogCommands } from './log-commands.ts';
import {
  type DeviceLog,
  type LogModule,
  logErrorReason,
  type ModuleLogs,
  type UploadProgress,
} from './log-model.ts';
import { progressRank, taskStatusOf } from './log-progress.ts';
import { SilenceWatch } from './silence-watch.ts';
import type { HistoryFilter, LogTask, LogTaskFile, LogTaskRepo } from './log-task.repo.ts';

export type { HistoryFilter, LogTask, LogTaskFile } from './log-task.repo.ts';

/** A task with its files, as the web and live updates show it. */
export interface LogTaskView extends LogTask {
  files: LogTaskFile[];
  /** Why it failed, in plain words; null unless it did. */
  reason: string | null;
}

/** One module's logs on the device, with the plain-language reason of a per-module error. */
export interface DeviceModuleLogs extends ModuleLogs {
  reason: string | undefined;
}

export interface StartUpload {
  description: string;
  /** Epoch ms. */
  happenAt: number | undefined;
  files: { module: LogModule; deviceSn: string | undefined; logs: DeviceLog[] }[];
}

export interface LogTaskEvents {
  /** A task changed (progress, end, timeout): what the web shows of it now. */
  progress: { workspaceId: string; task: LogTaskView };
}

export interface LogTaskServiceOptions {
  repo: LogTaskRepo;
  devices: DeviceService;
  storage: StorageProvider;
  /** The dock's log services (mqtt/log-commands.ts). */
  commands: LogCommands;
  credentialTtlSeconds: number;
  /** Seconds without progress after which an open task fails (SKYVAULT_LOG_UPLOAD_TIMEOUT). */
  uploadTimeoutSeconds: number;
  logger: Logger;
  now?: () => number;
}

/** Where a workspace's device logs live in the bucket (decision §10.17). */
export function logPrefix(workspaceId: string): string {
  return `${workspaceId}/logs`;
}

const MODULE_NAMES: Record<LogModule, string> = { '0': 'aircraft', '3': 'dock' };
/** The credentials' expiry the dock is told comes this much before the real one (§10.30). */
const EXPIRY_MARGIN_MS = 60_000;

export class LogTaskService {
  readonly events = new Emittery<LogTaskEvents>();
  private readonly repo: LogTaskRepo;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  /** How stale a task's deadline may get before a progress event writes it again. */
  private readonly touchSlackMs: number;
  private readonly watch: SilenceWatch;

  constructor(private readonly options: LogTaskServiceOptions) {
    this.repo = options.repo;
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.uploadTimeoutSeconds * 1000;
    this.touchSlackMs = Math.min(5000, this.timeoutMs / 20);
    this.watch = new SilenceWatch({
      look: async () => {
        await this.expireOverdue();
        return this.repo.nextDeadline();
      },
      logger: options.logger,
      now: this.now,
    });
  }

  /** What logs the dock (module "3") and its aircraft ("0") hold, asked synchronously (`fileupload_list`). */
  async listOnDevice(
    workspaceId: string,
    gatewaySn: string,
    modules: LogModule[],
  ): Promise<DeviceModuleLogs[]> {
    await this.onlineGatewayOf(workspaceId, gatewaySn);
    const listed = await this.options.commands.list(gatewaySn, modules);
    if (listed.result !== 0 && listed.modules.length === 0) throw deviceError(listed.result);
    const context = await this.options.devices.gatewayContext(gatewaySn);
    return listed.modules
      .filter((m) => modules.includes(m.module))
      .map((m) => ({
        ...m,
        // DJI's demo fills an empty owner with the dock's SN even for the aircraft; we name the aircraft.
        deviceSn: m.deviceSn || (m.module === '3' ? gatewaySn : context.subDeviceSn),
        reason: m.result === 0 ? undefined : reasonOf(m.result),
      }));
  }

  /**
   * Starts an upload (`fileupload_start`): returns the new task's id. The device's own refusal is passed
   * on as DeviceResult with its code; no answer leaves the task failed with that reason.
   */
  async startUpload(
    workspaceId: string,
    user: { id: string; username: string },
    gatewaySn: string,
    request: StartUpload,
  ): Promise<string> {
    const modules = request.files.map((f) => f.module);
    if (modules.length === 0 || new Set(modules).size !== modules.length) {
      throw new AppError(
        'BadRequest',
        'Choose the logs of the dock (module "3"), its aircraft ("0"), or both, once each.',
      );
    }
    if (request.files.some((f) => f.logs.length === 0)) {
      throw new AppError('BadRequest', 'Choose at least one boot session for each device.');
    }
    await this.onlineGatewayOf(workspaceId, gatewaySn);
    const context = await this.options.devices.gatewayContext(gatewaySn);
    const prefix = logPrefix(workspaceId);
    const credentials = await this.options.storage.issueUploadCredentials({
      prefix,
      ttlSeconds: this.options.credentialTtlSeconds,
    });
    const now = this.now();
    const taskId = randomUUID();
    const files: LogTaskFile[] = request.files.map((f) => ({
      id: randomUUID(),
      taskId,
      module: f.module,
      deviceSn: f.deviceSn || (f.module === '3' ? gatewaySn : (context.subDeviceSn ?? '')),
      objectKey: `${prefix}/${randomUUID()}.tar`,
      reportedKey: null,
      bootLogs: JSON.stringify(f.logs),
      status: null,
      rank: 0,
      percent: 0,
      currentStep: null,
      totalStep: null,
      uploadRate: null,
      result: 0,
      size: null,
      fingerprint: null,
      finishTime: null,
      updatedAt: now,
    }));
    await this.repo.insert(
      {
        id: taskId,
        workspaceId,
        gatewaySn,
        userId: user.id,
        username: user.username,
        description: request.description,
        modules: modules.join(','),
        happenAt: request.happenAt ?? null,
        status: 1,
        uploadStatus: null,
        result: 0,
        failure: null,
        deadlineAt: now + this.timeoutMs,
        createdAt: now,
        updatedAt: now,
        finishedAt: null,
      },
      files,
    );
    this.watch.wakeBy(now + this.timeoutMs);

    let result: number;
    try {
      result = await this.options.commands.start(gatewaySn, taskId, {
        credentials,
        expireAt: Math.max(now + 1000, credentials.expiresAt - EXPIRY_MARGIN_MS),
        prefix,
        files: request.files.map((f, i) => ({
          module: f.module,
          objectKey: files[i]!.objectKey,
          deviceSn: files[i]!.deviceSn,
          logs: f.logs,
        })),
      });
    } catch (error) {
      if (error instanceof AppError && error.kind === 'DeviceNoReply') {
        await this.end(taskId, {
          status: 4,
          uploadStatus: 'failed',
          result: 0,
          failure: 'The dock did not answer the request to upload its logs.',
        });
      } else {
        await this.repo.delete(taskId);
      }
      throw error;
    }
    if (result !== 0) {
      await this.repo.delete(taskId);
      throw deviceError(result);
    }
    return taskId;
  }

  /** Asks the dock to stop uploading these modules' logs (`fileupload_update` cancel, §5.6). */
  async cancel(workspaceId: string, gatewaySn: string, modules: LogModule[]): Promise<void> {
    await this.onlineGatewayOf(workspaceId, gatewaySn);
    const result = await this.options.commands.cancel(gatewaySn, modules);
    if (result !== 0) throw deviceError(result);
  }

  /**
   * A `fileupload_progress` event from `gatewaySn`. Returns whether it matched a task; an unmatched one
   * is logged (the event is acknowledged anyway: resending would not make it match).
   */
  async recordProgress(gatewaySn: string, bid: string, progress: UploadProgress): Promise<boolean> {
    const task = await this.findTask(gatewaySn, bid, progress);
    if (!task) {
      this.options.logger.warn(
        { gatewaySn, bid, status: progress.status },
        'fileupload_progress matches no log upload of this dock; ignored',
      );
      return false;
    }
    const now = this.now();
    const written: LogTaskFile[] = [];
    for (const file of progress.files) {
      const status = file.status ?? progress.status;
      if (!status) continue;
      const percent = status === 'ok' ? 100 : (file.percent ?? 0);
      const row = await this.repo.applyFileProgress(
        task.id,
        file.module,
        {
          status,
          rank: progressRank(status, percent),
          percent,
          currentStep: file.currentStep ?? null,
          totalStep: file.totalStep ?? null,
          uploadRate: file.uploadRate ?? null,
          result: file.result,
          reportedKey: file.key,
          size: file.size,
          fingerprint: file.fingerprint,
          finishTime: file.finishTime,
        },
        now,
      );
      if (row) written.push(row);
    }
    const ended = taskStatusOf(progress.status);
    const fileOk = progress.files.some((f) => (f.status ?? progress.status) === 'ok');
    if (ended === 2 || (fileOk && (await this.repo.allFilesOk(task.id)))) {
      if ((await this.repo.markDone(task.id, now)) || written.length > 0) await this.announce(task.id);
      return true;
    }
    if (ended === 3 || ended === 4) {
      const result = progress.result || progress.files.find((f) => f.result !== 0)?.result || 0;
      const end = { status: ended, uploadStatus: progress.status!, result, failure: null };
      if (!(await this.end(task.id, end)) && written.length > 0) await this.announce(task.id);
      return true;
    }
    let current = task;
    if (
      task.status === 1 &&
      (progress.status !== task.uploadStatus || task.deadlineAt < now + this.timeoutMs - this.touchSlackMs)
    ) {
      // The dock spoke: the silence deadline moves back (written once per slack, not per event).
      const deadlineAt = now + this.timeoutMs;
      await this.repo.touch(task.id, progress.status, deadlineAt, now);
      current = { ...task, deadlineAt, updatedAt: now, uploadStatus: progress.status ?? task.uploadStatus };
    }
    if (written.length > 0) await this.announce(current, written);
    return true;
  }

  /** One page of the dock's log uploads, newest first, with their files and progress. */
  async history(
    workspaceId: string,
    gatewaySn: string,
    filter: HistoryFilter,
    page: { offset: number; limit: number },
  ): Promise<{ items: LogTaskView[]; total: number }> {
    const { items, total } = await this.repo.listForGateway(workspaceId, gatewaySn, filter, page);
    return { items: await this.withFiles(items), total };
  }

  /**
   * A presigned URL of one uploaded file: the key Skyvault assigned when it is in storage, else the key
   * the dock reported (when that is inside the workspace's log prefix).
   */
  async downloadUrl(
    workspaceId: string,
    taskId: string,
    fileId: string,
    linkTtlSeconds: number,
    publicHostname: string | undefined,
  ): Promise<string> {
    const task = await this.repo.find(taskId);
    if (!task || task.workspaceId !== workspaceId) throw new AppError('LogTaskNotFound');
    const file = (await this.repo.filesOf([taskId])).find((f) => f.id === fileId);
    if (!file) throw new AppError('LogTaskNotFound', 'There is no such file in this log upload.');
    for (const key of this.keysOf(workspaceId, file)) {
      if (await this.head(key)) {
        const date = new Date(task.createdAt).toISOString().slice(0, 10);
        return this.options.storage.presignGet(key, {
          ttlSeconds: linkTtlSeconds,
          publicHostname,
          downloadName: `${file.deviceSn || task.gatewaySn}_${MODULE_NAMES[file.module]}_logs_${date}.tar`,
        });
      }
    }
    throw new AppError('LogFileNotUploaded');
  }

  /** Deletes a task of the dock with its objects in storage. */
  async delete(workspaceId: string, gatewaySn: string, taskId: string): Promise<void> {
    const task = await this.repo.find(taskId);
    if (!task || task.workspaceId !== workspaceId || task.gatewaySn !== gatewaySn) {
      throw new AppError('LogTaskNotFound');
    }
    for (const file of await this.repo.filesOf([taskId])) {
      for (const key of this.keysOf(workspaceId, file)) {
        try {
          await this.options.storage.delete(key);
        } catch (error) {
          throw new AppError('StorageUnavailable', undefined, { cause: error });
        }
      }
    }
    await this.repo.delete(taskId);
  }

  /** Starts watching open tasks for silence (at once: tasks left open by a stopped instance included). */
  start(): void {
    this.watch.start();
  }

  close(): void {
    this.watch.close();
  }

  /** Fails the overdue tasks (those this instance takes); returns how many. */
  async expireOverdue(): Promise<number> {
    const now = this.now();
    const failure = `The dock sent no progress for ${formatSeconds(this.options.uploadTimeoutSeconds)}: the upload was given up.`;
    const expired = await this.repo.expireOverdue(now, failure);
    for (const task of expired) {
      this.options.logger.info({ taskId: task.id, gatewaySn: task.gatewaySn }, 'log upload timed out');
      await this.announce(task.id);
    }
    return expired.length;
  }

  private async end(
    taskId: string,
    end: { status: 3 | 4; uploadStatus: string; result: number; failure: string | null },
  ): Promise<boolean> {
    const now = this.now();
    if (!(await this.repo.markEnded(taskId, end, now))) return false;
    await this.repo.endOpenFiles([taskId], end.uploadStatus, now);
    await this.announce(taskId);
    return true;
  }

  /**
   * Tells the web how a task stands. A running task's row and the files a progress event just wrote are
   * used as they are when the event named every file; otherwise (and after an end) they are read again.
   */
  private async announce(taskOrId: LogTask | string, written: LogTaskFile[] = []): Promise<void> {
    const task = typeof taskOrId === 'string' ? await this.repo.find(taskOrId) : taskOrId;
    if (!task) return;
    const modules = task.modules.split(',');
    const complete = modules.every((m) => written.some((f) => f.module === m));
    const files = complete
      ? [...written].sort((a, b) => b.module.localeCompare(a.module))
      : await this.repo.filesOf([task.id]);
    await this.events.emit('progress', {
      workspaceId: task.workspaceId,
      task: { ...task, files, reason: taskReason(task) },
    });
  }

  private async findTask(
    gatewaySn: string,
    bid: string,
    progress: UploadProgress,
  ): Promise<LogTask | undefined> {
    const byBid = await this.repo.find(bid);
    if (byBid) return byBid.gatewaySn === gatewaySn ? byBid : undefined;
    for (const file of progress.files) {
      if (!file.key) continue;
      const byKey = await this.repo.findByKey(gatewaySn, file.key);
      if (byKey) return byKey;
    }
    return undefined;
  }

  private async withFiles(tasks: LogTask[]): Promise<LogTaskView[]> {
    const files = await this.repo.filesOf(tasks.map((t) => t.id));
    return tasks.map((t) => ({
      ...t,
      files: files.filter((f) => f.taskId === t.id),
      reason: taskReason(t),
    }));
  }

  /**
   * The keys a file may be stored under, in the order to try: never outside the workspace's prefix,
   * never a key that storage/object-key.ts refuses.
   */
  private keysOf(workspaceId: string, file: LogTaskFile): string[] {
    const keys = [file.objectKey];
    const reported = file.reportedKey;
    if (reported && reported !== file.objectKey && reported.startsWith(`${logPrefix(workspaceId)}/`)) {
      if (isValidObjectKey(reported)) keys.push(reported);
    }
    return keys;
  }

  private async head(key: string): Promise<boolean> {
    try {
      return (await this.options.storage.head(key)) !== undefined;
    } catch (error) {
      throw new AppError('StorageUnavailable', undefined, { cause: error });
    }
  }

  /** The gateway, when it is this workspace's and online (DeviceNotFound, DeviceOffline). */
  private async onlineGatewayOf(workspaceId: string, gatewaySn: string): Promise<void> {
    const device = await this.options.devices.find(gatewaySn);
    if (!device || device.workspaceId !== workspaceId) throw new AppError('DeviceNotFound');
    if (device.online !== 1) {
      throw new AppError(
        'DeviceOffline',
        `${gatewaySn} is offline: bring it online (power, network) and try again.`,
      );
    }
  }
}

/** A device's DJI error code, passed on as DJI's demo does, with what it means (§5.7). */
function deviceError(code: number): AppError {
  return new AppError('DeviceResult', reasonOf(code), { code });
}

function reasonOf(code: number): string {
  return logErrorReason(code) ?? `The device reported error ${code}.`;
}

/** Why a task failed or was canceled, in plain words; null while it runs or when it succeeded. */
export function taskReason(task: Pick<LogTask, 'status' | 'result' | 'failure'>): string | null {
  if (task.status === 1 || task.status === 2) return null;
  if (task.failure) return task.failure;
  if (task.result !== 0) return reasonOf(task.result);
  return task.status === 3 ? 'The upload was canceled.' : 'The dock reported that the upload failed.';
}

function formatSeconds(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}
