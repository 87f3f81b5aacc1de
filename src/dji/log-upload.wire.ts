/**
 * The wire shapes of a dock's remote log upload (docs/protocol.md §5). Devices' messages are read
 * leniently into the log model (features/logs/log-model.ts): the `fileupload_list` answer and the
 * `fileupload_progress` event; and the `fileupload_start` order is written as DJI documents it. Every
 * quirk stops here: `files` beside `result` or inside `output` (decision §10.36), `end_ime` (§10.33),
 * modules as strings or numbers, times in seconds or milliseconds (§10.32: kept as sent, read as ms for
 * display), `prgress` (§10.34), a missing `total_step` (§10.35) or `result`, and `sent` (§10.43).
 * Nothing here throws: what cannot be read is left out, and the caller decides.
 */
import {
  type DeviceLog,
  type FileProgress,
  type LogModule,
  type ModuleLogs,
  UPLOAD_STATUSES,
  type UploadOrder,
  type UploadProgress,
  type UploadStatus,
} from '../features/logs/log-model.ts';
import { integer, isRecord, text } from './values.ts';

export function uploadStatus(value: unknown): UploadStatus | undefined {
  const name = text(value)?.toLowerCase();
  return (UPLOAD_STATUSES as readonly string[]).includes(name ?? '') ? (name as UploadStatus) : undefined;
}

export function logModule(value: unknown): LogModule | undefined {
  const name = text(value);
  return name === '0' || name === '3' ? name : undefined;
}

/** Epoch ms of a time sent in seconds or milliseconds (list times, `happen_time`): seconds are below 10^12 until 33658. */
export function logTimeMs(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  return value < 1e12 ? value * 1000 : value;
}

/** The `data` of a `fileupload_list` answer. */
export function parseFileUploadList(data: unknown): { result: number; modules: ModuleLogs[] } {
  const body = isRecord(data) ? data : {};
  const output = isRecord(body.output) ? body.output : {};
  const files = Array.isArray(body.files) ? body.files : Array.isArray(output.files) ? output.files : [];
  const modules: ModuleLogs[] = [];
  for (const entry of files) {
    if (!isRecord(entry)) continue;
    const module = logModule(entry.module);
    if (!module) continue;
    const logs: DeviceLog[] = [];
    for (const item of Array.isArray(entry.list) ? entry.list : []) {
      if (!isRecord(item)) continue;
      const bootIndex = integer(item.boot_index);
      if (bootIndex === undefined) continue;
      logs.push({
        bootIndex,
        size: integer(item.size),
        startTime: integer(item.start_time),
        endTime: integer(item.end_time) ?? integer(item.end_ime),
      });
    }
    modules.push({ module, deviceSn: text(entry.device_sn), result: integer(entry.result) ?? 0, logs });
  }
  return { result: integer(body.result) ?? 0, modules };
}

/**
 * The whole file's percentage: the demo's ((current_step − 1) × 100 + progress) / total_step, and
 * without `total_step` the step's progress itself (§10.35). Clamped to 0–100.
 */
export function filePercent(
  currentStep: number | undefined,
  totalStep: number | undefined,
  stepProgress: number | undefined,
): number | undefined {
  if (stepProgress === undefined) return undefined;
  const raw =
    totalStep && totalStep > 0 && currentStep !== undefined && currentStep >= 1
      ? ((currentStep - 1) * 100 + stepProgress) / totalStep
      : stepProgress;
  return Math.max(0, Math.min(100, Math.floor(raw)));
}

/** The `data` of a `fileupload_progress` event. */
export function parseFileUploadProgress(data: unknown): UploadProgress {
  const body = isRecord(data) ? data : {};
  // `ext` inside `output` (the examples) or directly in `data` (an older table, decision §10.37).
  const output = isRecord(body.output) ? body.output : body;
  const ext = isRecord(output.ext) ? output.ext : isRecord(body.ext) ? body.ext : {};
  const files: FileProgress[] = [];
  for (const entry of Array.isArray(ext.files) ? ext.files : []) {
    if (!isRecord(entry)) continue;
    const module = logModule(entry.module);
    if (!module) continue;
    const progress = isRecord(entry.progress) ? entry.progress : {};
    const currentStep = integer(progress.current_step);
    const totalStep = integer(progress.total_step);
    const stepProgress = integer(progress.progress) ?? integer(progress.prgress);
    files.push({
      module,
      deviceSn: text(entry.device_sn),
      key: text(entry.key),
      fingerprint: text(entry.fingerprint),
      size: integer(entry.size),
      status: uploadStatus(progress.status),
      result: integer(progress.result) ?? 0,
      currentStep,
      totalStep,
      stepProgress,
      percent: filePercent(currentStep, totalStep, stepProgress),
      uploadRate: typeof progress.upload_rate === 'number' ? progress.upload_rate : undefined,
      finishTime: integer(progress.finish_time),
    });
  }
  return { result: integer(body.result) ?? 0, status: uploadStatus(output.status), files };
}

/** A boot session as sent back to the device: exactly the values it listed (decision §10.32). */
export function wireBootLog(log: DeviceLog): {
  boot_index: number;
  start_time?: number;
  end_time?: number;
  size?: number;
} {
  return {
    boot_index: log.bootIndex,
    ...(log.startTime === undefined ? {} : { start_time: log.startTime }),
    ...(log.endTime === undefined ? {} : { end_time: log.endTime }),
    ...(log.size === undefined ? {} : { size: log.size }),
  };
}

/**
 * The `data` of `fileupload_start` (§5.4): the documented keys, plus the demo's `file_store_dir`,
 * `file_type` and `files[].device_sn` (decision §10.39). `credentials.expire` is absolute epoch ms here,
 * unlike `sts` and `storage_config_get`: the two must not share a serializer.
 */
export function fileuploadStartData(order: UploadOrder): Record<string, unknown> {
  const c = order.credentials;
  return {
    bucket: c.bucket,
    region: c.region,
    endpoint: c.endpoint,
    provider: c.provider,
    credentials: {
      access_key_id: c.accessKeyId,
      access_key_secret: c.accessKeySecret,
      security_token: c.securityToken,
      expire: order.expireAt,
    },
    file_store_dir: order.prefix,
    file_type: 'text_log',
    params: {
      files: order.files.map((f) => ({
        module: f.module,
        object_key: f.objectKey,
        device_sn: f.deviceSn,
        list: f.logs.map(wireBootLog),
      })),
    },
  };
}
