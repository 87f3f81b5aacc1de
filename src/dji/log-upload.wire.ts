/**
 * The wire shapes of a dock's remote log upload (docs/protocol.md §5), read leniently into plain values
 * for the log-task service: the `fileupload_list` answer and the `fileupload_progress` event. Every
 * quirk stops here: `files` beside `result` or inside `output` (decision §10.36), `end_ime` (§10.33),
 * modules as strings or numbers, times in seconds or milliseconds (§10.32: kept as sent, read as ms for
 * display), `prgress` (§10.34), a missing `total_step` (§10.35) or `result`, and `sent` (§10.43).
 * Nothing here throws: what cannot be read is left out, and the caller decides.
 */
import { integer, isRecord, text } from './values.ts';

/** Whose logs: `"0"` the aircraft, `"3"` the dock (§5.1). */
export type LogModule = '0' | '3';

export const UPLOAD_STATUSES = [
  'file_pull',
  'file_zip',
  'file_uploading',
  'sent',
  'in_progress',
  'paused',
  'ok',
  'rejected',
  'failed',
  'canceled',
  'timeout',
] as const;
export type UploadStatus = (typeof UPLOAD_STATUSES)[number];

const TERMINAL: ReadonlySet<UploadStatus> = new Set(['ok', 'rejected', 'failed', 'canceled', 'timeout']);

export function isTerminal(status: UploadStatus): boolean {
  return TERMINAL.has(status);
}

export function uploadStatus(value: unknown): UploadStatus | undefined {
  const name = text(value)?.toLowerCase();
  return (UPLOAD_STATUSES as readonly string[]).includes(name ?? '') ? (name as UploadStatus) : undefined;
}

export function logModule(value: unknown): LogModule | undefined {
  const name = text(value);
  return name === '0' || name === '3' ? name : undefined;
}

/** One boot session's log on a device, as `fileupload_list` lists it. */
export interface DeviceLog {
  bootIndex: number;
  size: number | undefined;
  /** As the device sent them (sent back unchanged in `fileupload_start`). */
  startTime: number | undefined;
  endTime: number | undefined;
}

export interface ModuleLogs {
  module: LogModule;
  /** The owner's serial number; undefined when the device left it empty. */
  deviceSn: string | undefined;
  /** Per module: 0, or why there is no list (324015: the aircraft is off). */
  result: number;
  logs: DeviceLog[];
}

/** Epoch ms of a list time, whichever unit the device used: seconds are below 10^12 until 33658. */
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

/** One file's progress in a `fileupload_progress` event. */
export interface FileProgress {
  module: LogModule;
  deviceSn: string | undefined;
  /** The object key the dock reports (it may differ from the one assigned). */
  key: string | undefined;
  fingerprint: string | undefined;
  size: number | undefined;
  status: UploadStatus | undefined;
  result: number;
  currentStep: number | undefined;
  totalStep: number | undefined;
  /** Within the current step, 0–100, as sent. */
  stepProgress: number | undefined;
  /** Of the whole file, 0–100. */
  percent: number | undefined;
  uploadRate: number | undefined;
  finishTime: number | undefined;
}

export interface UploadProgress {
  /** A missing `result` is read as 0: the per-file statuses tell the rest. */
  result: number;
  status: UploadStatus | undefined;
  files: FileProgress[];
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

/** What a log error code means, in plain words (§5.7, decision §10.44); undefined when unknown. */
export function logErrorReason(code: number): string | undefined {
  return LOG_ERRORS[code];
}

const LOG_ERRORS: Record<number, string> = {
  324001: 'The export was cut short by a device restart.',
  324012: 'Compressing the logs timed out: too many logs were chosen. Choose fewer and try again.',
  324013: 'The device could not read its log list.',
  324014: 'The device has no logs to list.',
  324015: 'The aircraft is off or not connected to the dock, so its logs cannot be listed.',
  324016: 'The dock’s storage is full: the logs could not be compressed.',
  324017: 'Compression failed: the chosen aircraft logs are not available.',
  324018: 'Pulling the logs failed, so they could not be uploaded.',
  324019: 'The dock’s network failed during the upload.',
  324021: 'The export was cut short because the dock lost power or restarted.',
  325009: 'The dock is busy exporting logs.',
  314000: 'The device is busy (uploading logs or flying).',
};
