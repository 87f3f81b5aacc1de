/**
 * Remote device logs at the DJI demo paths (docs/protocol.md §7.2), so DJI's own front end works against
 * Skyvault as well as Skyvault's web app: what logs a dock and its aircraft hold (asked synchronously),
 * start an upload, cancel, the upload history with live progress, a presigned URL per file (JSON, as the
 * demo answers, decision §10.53), and delete. `{device_sn}` is the dock. Thin: the rules are
 * LogTaskService's; a device's own error code comes back as the envelope's code (DeviceResult).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { DeviceService, DeviceWithChildren } from '../../../features/devices/device.service.ts';
import type { LogTaskService } from '../../../features/logs/log-task.service.ts';
import { logModule, logTimeMs } from '../../../dji/log-upload.wire.ts';
import type { LogModule } from '../../../features/logs/log-model.ts';
import type { LogTaskStatus } from '../../../db/schema.ts';
import { AppError } from '../../../shared/app-error.ts';
import { Envelope, ErrorResponses, ok, Pagination } from '../../envelope.ts';
import { claimsOf } from '../../plugins/auth.ts';
import type { PublicAddresses } from '../../public-address.ts';
import { BootLogDto, deviceLogsDto, DeviceLogsDto } from './device-logs.dto.ts';

export interface DeviceLogRoutesOptions {
  logTasks: LogTaskService;
  devices: DeviceService;
  addresses: PublicAddresses;
  /** Lifetime of download links, in seconds. */
  linkTtlSeconds: number;
}

const security = [{ token: [] }];
const tags = ['device logs'];
const base = '/manage/api/v1/workspaces/:workspace_id/devices/:device_sn';
const DeviceParams = Type.Object({ workspace_id: Type.String(), device_sn: Type.String() });
const ModuleInput = Type.Union([Type.String(), Type.Integer()], {
  description: '"3" the dock, "0" its aircraft',
});

/** Modules named as strings or numbers, once each: BadRequest for anything but "0" and "3". */
function modulesOf(values: unknown[]): LogModule[] {
  const modules: LogModule[] = [];
  for (const value of values) {
    const module = logModule(typeof value === 'number' ? String(value) : value);
    if (!module)
      throw new AppError(
        'BadRequest',
        `Unknown log module ${JSON.stringify(value)}: use "3" (the dock) or "0" (its aircraft).`,
      );
    if (!modules.includes(module)) modules.push(module);
  }
  if (modules.length === 0)
    throw new AppError('BadRequest', 'Name at least one log module: "3" (the dock), "0" (its aircraft).');
  return modules;
}

export const deviceLogRoutes: FastifyPluginAsyncTypebox<DeviceLogRoutesOptions> = async (
  app,
  { logTasks, devices, addresses, linkTtlSeconds },
) => {
  app.get(
    `${base}/logs`,
    {
      config: { permission: 'devices.read' },
      schema: {
        tags,
        security,
        summary: 'The logs on the dock and its aircraft, by boot session (asks the dock: fileupload_list)',
        description:
          'Synchronous: answers within about 10 s. An offline dock gets DeviceOffline at once; a dock that does not answer DeviceNoReply. A per-module error (324015: the aircraft is off) is in that module’s `result`, with `reason` in plain words.',
        params: DeviceParams,
        querystring: Type.Object({
          domain_list: Type.Optional(
            Type.Union([Type.String(), Type.Array(Type.String())], {
              description: 'comma list or repeated: 0 the aircraft, 3 the dock (default both)',
            }),
          ),
        }),
        response: {
          200: Envelope(
            Type.Object({
              files: Type.Array(
                Type.Object({
                  device_sn: Type.String(),
                  module: Type.String(),
                  result: Type.Integer(),
                  reason: Type.Optional(Type.String({ description: 'Skyvault: the result in plain words' })),
                  list: Type.Array(
                    Type.Object({
                      ...BootLogDto.properties,
                      start_time_ms: Type.Optional(Type.Integer({ description: 'Skyvault: epoch ms' })),
                      end_time_ms: Type.Optional(Type.Integer({ description: 'Skyvault: epoch ms' })),
                    }),
                  ),
                }),
              ),
            }),
          ),
          ...ErrorResponses,
        },
      },
    },
    async (request) => {
      const raw = request.query.domain_list ?? '3,0';
      const modules = modulesOf(
        (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split(',')).map((v) => v.trim()),
      );
      const listed = await logTasks.listOnDevice(
        request.params.workspace_id,
        request.params.device_sn,
        modules,
      );
      return ok({
        files: listed.map((m) => ({
          device_sn: m.deviceSn ?? '',
          module: m.module,
          result: m.result,
          ...(m.reason ? { reason: m.reason } : {}),
          list: m.logs.map((l) => ({
            boot_index: l.bootIndex,
            ...(l.startTime === undefined
              ? {}
              : { start_time: l.startTime, start_time_ms: logTimeMs(l.startTime)! }),
            ...(l.endTime === undefined ? {} : { end_time: l.endTime, end_time_ms: logTimeMs(l.endTime)! }),
            ...(l.size === undefined ? {} : { size: l.size }),
          })),
        })),
      });
    },
  );

  app.post(
    `${base}/logs`,
    {
      config: { permission: 'devices.write' },
      schema: {
        tags,
        security,
        summary: 'Ask the dock to upload the chosen logs (fileupload_start)',
        description:
          'Answers the new upload’s id (logs_id) in `data`. The dock’s own refusal comes back as its DJI error code in `code` with the reason in `message` (DeviceResult).',
        params: DeviceParams,
        body: Type.Object({
          logs_information: Type.Optional(Type.String({ maxLength: 1000 })),
          happen_time: Type.Optional(
            Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
              description: 'epoch ms (seconds accepted)',
            }),
          ),
          files: Type.Array(
            Type.Object({
              device_sn: Type.Optional(Type.String()),
              module: ModuleInput,
              list: Type.Array(BootLogDto, { minItems: 1, maxItems: 1000 }),
            }),
            { minItems: 1, maxItems: 2 },
          ),
        }),
        response: { 200: Envelope(Type.String({ description: 'logs_id' })), ...ErrorResponses },
      },
    },
    async (request) => {
      const claims = claimsOf(request);
      const { body } = request;
      const modules = modulesOf(body.files.map((f) => f.module));
      if (modules.length !== body.files.length)
        throw new AppError('BadRequest', 'Name each log module once.');
      const taskId = await logTasks.startUpload(
        request.params.workspace_id,
        { id: claims.userId, username: claims.username },
        request.params.device_sn,
        {
          description: body.logs_information ?? '',
          // Milliseconds, or seconds as DJI's Postman example sends (decision §10.42).
          happenAt: logTimeMs(body.happen_time ?? undefined),
          files: body.files.map((f, i) => ({
            module: modules[i]!,
            deviceSn: f.device_sn || undefined,
            logs: f.list.map((l) => ({
              bootIndex: l.boot_index,
              startTime: l.start_time,
              endTime: l.end_time,
              size: l.size,
            })),
          })),
        },
      );
      return ok(taskId);
    },
  );

  app.delete(
    `${base}/logs`,
    {
      config: { permission: 'devices.write' },
      schema: {
        tags,
        security,
        summary: 'Ask the dock to cancel its log upload for these modules (fileupload_update)',
        description:
          'The upload ends when the dock reports it canceled; one it never reports ends after SKYVAULT_LOG_UPLOAD_TIMEOUT. A file the dock finished anyway is kept.',
        params: DeviceParams,
        body: Type.Object({
          status: Type.Literal('cancel'),
          module_list: Type.Array(ModuleInput, { minItems: 1, maxItems: 2 }),
        }),
        response: { 200: Envelope(Type.Object({})), ...ErrorResponses },
      },
    },
    async (request) => {
      await logTasks.cancel(
        request.params.workspace_id,
        request.params.device_sn,
        modulesOf(request.body.module_list),
      );
      return ok({});
    },
  );

  app.get(
    `${base}/logs-uploaded`,
    {
      config: { permission: 'devices.read' },
      schema: {
        tags,
        security,
        summary: 'The dock’s log uploads, newest first, with their progress',
        params: DeviceParams,
        querystring: Type.Object({
          page: Type.Integer({ minimum: 1, default: 1 }),
          page_size: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
          status: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 4,
              description: '1 uploading, 2 done, 3 canceled, 4 failed',
            }),
          ),
          begin_time: Type.Optional(
            Type.Integer({ description: 'created at or after, epoch ms (with end_time)' }),
          ),
          end_time: Type.Optional(
            Type.Integer({ description: 'created at or before, epoch ms (with begin_time)' }),
          ),
          logs_information: Type.Optional(
            Type.String({ maxLength: 1000, description: 'text in the description' }),
          ),
        }),
        response: {
          200: Envelope(Type.Object({ list: Type.Array(DeviceLogsDto), pagination: Pagination })),
          ...ErrorResponses,
        },
      },
    },
    async (request) => {
      const { workspace_id: workspaceId, device_sn: sn } = request.params;
      const q = request.query;
      // As DJI's demo: the time filter applies when both ends are given.
      const both = q.begin_time !== undefined && q.end_time !== undefined;
      const { items, total } = await logTasks.history(
        workspaceId,
        sn,
        {
          status: q.status as LogTaskStatus | undefined,
          createdFrom: both ? q.begin_time : undefined,
          createdTo: both ? q.end_time : undefined,
          text: q.logs_information || undefined,
        },
        { offset: (q.page - 1) * q.page_size, limit: q.page_size },
      );
      let gateway: DeviceWithChildren | undefined;
      if (items.length > 0) gateway = await devices.getInWorkspace(workspaceId, sn).catch(() => undefined);
      return ok({
        list: items.map((task) => deviceLogsDto(task, gateway)),
        pagination: { page: q.page, page_size: q.page_size, total },
      });
    },
  );

  app.delete(
    `${base}/logs/:logs_id`,
    {
      config: { permission: 'devices.write' },
      schema: {
        tags,
        security,
        summary: 'Delete a log upload and its files in storage',
        params: Type.Object({ ...DeviceParams.properties, logs_id: Type.String() }),
        response: { 200: Envelope(Type.Object({})), ...ErrorResponses },
      },
    },
    async (request) => {
      const { workspace_id: workspaceId, device_sn: sn, logs_id: taskId } = request.params;
      await logTasks.delete(workspaceId, sn, taskId);
      return ok({});
    },
  );

  app.get(
    '/manage/api/v1/workspaces/:workspace_id/logs/:logs_id/url/:file_id',
    {
      config: { permission: 'devices.read' },
      schema: {
        tags,
        security,
        summary: 'A presigned download URL of one uploaded log file (JSON, as DJI’s demo)',
        params: Type.Object({ workspace_id: Type.String(), logs_id: Type.String(), file_id: Type.String() }),
        response: { 200: Envelope(Type.String({ description: 'URL' })), ...ErrorResponses },
      },
    },
    async (request) => {
      const { workspace_id: workspaceId, logs_id: taskId, file_id: fileId } = request.params;
      return ok(
        await logTasks.downloadUrl(workspaceId, taskId, fileId, linkTtlSeconds, addresses.hostname(request)),
      );
    },
  );
};
