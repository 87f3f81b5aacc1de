/**
 * What a dock's remote log upload is, in Skyvault's terms (docs/protocol.md §5): whose logs (the module),
 * the boot sessions a device lists, the statuses an upload goes through, a file's progress, and what the
 * DJI log error codes mean. The wire parser (dji/log-upload.wire.ts) reads devices' messages into these
 * shapes; the log-task service works with them only.
 */
import type { UploadCredentials } from '../../storage/provider.ts';

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

/** What Skyvault orders a dock to upload (`fileupload_start`): where, with what, and which logs. */
export interface UploadOrder {
  credentials: UploadCredentials;
  /** Epoch ms the dock is told the credentials expire at (decision §10.30: absolute ms). */
  expireAt: number;
  /** The workspace's log prefix, sent as the demo's `file_store_dir`. */
  prefix: string;
  files: { module: LogModule; objectKey: string; deviceSn: string; logs: DeviceLog[] }[];
}
