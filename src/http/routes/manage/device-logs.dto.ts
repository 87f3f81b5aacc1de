/**
 * The shapes of remote device logs on the web (docs/protocol.md §7.2, §7.5), as DJI's demo front end
 * reads them — a task is `DeviceLogs`, its files' progress `logs_progress`, the boot sessions
 * `device_logs.files[].list` — plus what Skyvault adds for its own web app (marked "Skyvault" in the
 * OpenAPI descriptions): epoch-ms times, each file's status, size and percent, and why a task failed.
 */
import { type Static, Type } from 'typebox';
import type { DeviceWithChildren } from '../../../features/devices/device.service.ts';
import type { LogTaskFile, LogTaskView } from '../../../features/logs/log-task.service.ts';
import { wireBootLog } from '../../../dji/log-upload.wire.ts';
import { logErrorReason } from '../../../features/logs/log-model.ts';
import { bootLogsOf } from '../../../features/logs/log-task.repo.ts';
import { formatDjiDateTime } from '../../../shared/time.ts';
import { Nullable } from '../../envelope.ts';

const Module = Type.Union([Type.Literal('0'), Type.Literal('3')], {
  description: '"3" the dock, "0" its aircraft',
});

export const BootLogDto = Type.Object({
  boot_index: Type.Integer(),
  start_time: Type.Optional(Type.Integer({ description: 'as the device sent it (seconds or ms)' })),
  end_time: Type.Optional(Type.Integer({ description: 'as the device sent it (seconds or ms)' })),
  size: Type.Optional(Type.Integer({ description: 'bytes' })),
});

export const FileProgressDto = Type.Object({
  device_sn: Type.String(),
  device_model_domain: Module,
  progress: Type.Integer({ description: '0–100, of the whole file' }),
  result: Type.Integer({ description: 'the file’s DJI error code, 0 when none' }),
  upload_rate: Type.Number({ description: 'bytes per second, as the dock reports it' }),
  status: Type.String({
    description: 'file_pull, file_zip, file_uploading, ok, failed, canceled, timeout… ("" before any)',
  }),
  reason: Type.Optional(Type.String({ description: 'Skyvault: the error code in plain words' })),
  file_id: Type.String({ description: 'Skyvault' }),
});

const Topo = Type.Object({
  sn: Type.String(),
  device_callsign: Type.String(),
  device_model: Type.Object({
    device_model_key: Type.String(),
    domain: Type.Integer(),
    type: Type.Integer(),
    sub_type: Type.Integer(),
  }),
  online_status: Type.Boolean(),
});

export const DeviceLogsDto = Type.Object({
  logs_id: Type.String(),
  happen_time: Type.Optional(Type.String({ description: 'yyyy-MM-dd HH:mm:ss' })),
  user_name: Type.String(),
  logs_information: Type.String(),
  create_time: Type.String({ description: 'yyyy-MM-dd HH:mm:ss' }),
  status: Type.Integer({ description: '1 uploading, 2 done, 3 canceled, 4 failed' }),
  device_topo: Type.Object({ hosts: Type.Array(Topo), parents: Type.Array(Topo) }),
  logs_progress: Type.Array(FileProgressDto),
  device_logs: Type.Object({
    files: Type.Array(
      Type.Object({
        device_sn: Type.String(),
        module: Module,
        file_id: Type.String(),
        object_key: Type.Optional(Type.String({ description: 'present once the file is uploaded' })),
        list: Type.Array(BootLogDto),
        status: Type.String({ description: 'Skyvault: the file’s upload status ("" before any)' }),
        progress: Type.Integer({ description: 'Skyvault: 0–100' }),
        size: Nullable(Type.Integer({ description: 'Skyvault: bytes uploaded, once known' })),
        fingerprint: Nullable(Type.String({ description: 'Skyvault: as the dock reports it' })),
      }),
    ),
  }),
  device_sn: Type.String({ description: 'Skyvault: the dock' }),
  created_at: Type.Integer({ description: 'Skyvault: epoch ms' }),
  updated_at: Type.Integer({ description: 'Skyvault: epoch ms' }),
  happen_at: Nullable(Type.Integer({ description: 'Skyvault: epoch ms' })),
  result: Type.Integer({ description: 'Skyvault: the DJI error code that ended it, 0 when none' }),
  reason: Nullable(Type.String({ description: 'Skyvault: why it failed or was canceled, in plain words' })),
});
export type DeviceLogsDto = Static<typeof DeviceLogsDto>;

/** One file's progress (`logs_progress` items, and the files of the live `fileupload_progress` push). */
export function fileProgressDto(file: LogTaskFile): Static<typeof FileProgressDto> {
  const reason = file.result === 0 ? undefined : logErrorReason(file.result);
  return {
    device_sn: file.deviceSn,
    device_model_domain: file.module,
    progress: file.percent,
    result: file.result,
    upload_rate: file.uploadRate ?? 0,
    status: file.status ?? '',
    ...(reason ? { reason } : {}),
    file_id: file.id,
  };
}

function topo(device: DeviceWithChildren['children'][number]): Static<typeof Topo> {
  return {
    sn: device.sn,
    device_callsign: device.callsign ?? device.sn,
    device_model: {
      device_model_key: device.modelKey,
      domain: device.domain,
      type: device.type,
      sub_type: device.subType,
    },
    online_status: device.online === 1,
  };
}

export function deviceLogsDto(task: LogTaskView, gateway: DeviceWithChildren | undefined): DeviceLogsDto {
  return {
    logs_id: task.id,
    ...(task.happenAt === null ? {} : { happen_time: formatDjiDateTime(task.happenAt) }),
    user_name: task.username,
    logs_information: task.description,
    create_time: formatDjiDateTime(task.createdAt),
    status: task.status,
    device_topo: {
      parents: gateway ? [topo(gateway)] : [],
      hosts: gateway ? gateway.children.map(topo) : [],
    },
    logs_progress: task.files.map(fileProgressDto),
    device_logs: {
      files: task.files.map((f) => ({
        device_sn: f.deviceSn,
        module: f.module,
        file_id: f.id,
        ...(f.status === 'ok' ? { object_key: f.objectKey } : {}),
        list: bootLogsOf(f).map(wireBootLog),
        status: f.status ?? '',
        progress: f.percent,
        size: f.size,
        fingerprint: f.fingerprint,
      })),
    },
    device_sn: task.gatewaySn,
    created_at: task.createdAt,
    updated_at: task.updatedAt,
    happen_at: task.happenAt,
    result: task.result,
    reason: task.reason,
  };
}

/** The live push of a task's progress (biz_code `fileupload_progress`, §7.5). */
export function liveProgressDto(task: LogTaskView): Record<string, unknown> {
  return {
    bid: task.id,
    sn: task.gatewaySn,
    output: {
      logs_id: task.id,
      status: task.uploadStatus ?? (task.status === 1 ? 'sent' : ''),
      task_status: task.status,
      reason: task.reason,
      files: task.files.map(fileProgressDto),
    },
  };
}
