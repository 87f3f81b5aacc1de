/**
 * The media library for the web, at the DJI demo web API's paths (docs/protocol.md §7.3) and richer:
 * filters, metadata, thumbnails, delete, file groups. Downloads answer 302 to a presigned URL, as the
 * demo does (decision §10.53).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import type { MediaLibraryService } from '../../../features/media/media-library.service.ts';
import { normalizeCaptureTime } from '../../../features/media/capture-time.ts';
import type { LibraryFile } from '../../../features/media/media.repo.ts';
import { formatDjiDateTime } from '../../../shared/time.ts';
import {
  Envelope,
  ErrorResponses,
  MediaTypeSchema,
  Nullable,
  ok,
  PageQuery,
  Pagination,
} from '../../envelope.ts';
import type { PublicAddresses } from '../../public-address.ts';

export interface MediaLibraryRoutesOptions {
  library: MediaLibraryService;
  addresses: PublicAddresses;
}

const security = [{ token: [] }];
const tags = ['media library'];

export const MediaFileDto = Type.Object({
  file_id: Type.String(),
  file_name: Type.String(),
  file_path: Type.String(),
  object_key: Type.String(),
  is_original: Type.Boolean(),
  drone: Type.String({ description: 'aircraft serial number' }),
  payload: Type.String({ description: 'the payload’s model name (device dictionary), else its model key' }),
  tinny_fingerprint: Type.String(),
  fingerprint: Type.String(),
  create_time: Type.String({
    description: 'yyyy-MM-dd HH:mm:ss, when Skyvault recorded it (server time zone)',
  }),
  job_id: Type.String({ description: 'file group (wayline task) id' }),
  media_type: MediaTypeSchema,
  source: Type.Union([Type.Literal('pilot'), Type.Literal('dock')]),
  size: Type.Integer(),
  content_type: Type.String(),
  sub_file_type: Nullable(Type.Integer()),
  drone_model_key: Nullable(Type.String()),
  payload_model_key: Nullable(Type.String()),
  latitude: Nullable(Type.Number()),
  longitude: Nullable(Type.Number()),
  absolute_altitude: Nullable(Type.Number()),
  relative_altitude: Nullable(Type.Number()),
  gimbal_yaw_degree: Nullable(Type.Number()),
  captured_time: Nullable(Type.String({ description: 'capture time, ISO 8601 UTC' })),
  captured_time_raw: Nullable(Type.String({ description: 'capture time as the device sent it' })),
  captured_time_local: Nullable(
    Type.String({
      description:
        'capture time in one ISO 8601 form, with the zone the device gave (2021-12-02T16:17:07+08:00), or without one when the device gave none (its local clock)',
    }),
  ),
  captured_time_is_device_local: Nullable(
    Type.Boolean({
      description: 'true when the device gave no zone: captured_time_local is its local clock',
    }),
  ),
  thumbnail_url: Nullable(Type.String({ description: 'time-limited URL of a 256 px JPEG' })),
});

const ListQuery = Type.Object({
  ...PageQuery.properties,
  device_sn: Type.Optional(Type.String({ maxLength: 64, description: 'aircraft serial number' })),
  type: Type.Optional(MediaTypeSchema),
  begin_time: Type.Optional(
    Type.Integer({ description: 'epoch ms, on the capture time (else the record time)' }),
  ),
  end_time: Type.Optional(Type.Integer({ description: 'epoch ms, inclusive' })),
  file_group_id: Type.Optional(Type.String({ maxLength: 128 })),
  job_id: Type.Optional(Type.String({ maxLength: 128, description: 'alias of file_group_id' })),
  q: Type.Optional(Type.String({ maxLength: 200, description: 'text in the file name or path' })),
});

const FileParams = Type.Object({ workspace_id: Type.String(), file_id: Type.String() });
const WorkspaceParams = Type.Object({ workspace_id: Type.String() });

const GroupDto = Type.Object({
  file_group_id: Type.String(),
  expected_count: Nullable(Type.Integer()),
  reported_uploaded_count: Nullable(Type.Integer()),
  stored_count: Type.Integer(),
  complete: Nullable(Type.Boolean()),
  update_time: Type.String(),
});

export const mediaLibraryRoutes: FastifyPluginAsyncTypebox<MediaLibraryRoutesOptions> = async (
  app,
  { library, addresses },
) => {
  const render = async (file: LibraryFile, hostname: string): Promise<Static<typeof MediaFileDto>> => {
    const local = normalizeCaptureTime(file.capturedAtRaw);
    return {
      file_id: file.id,
      file_name: file.name,
      file_path: file.path,
      object_key: file.objectKey,
      is_original: file.isOriginal === 1,
      drone: file.droneSn ?? '',
      // DJI's web shows the payload's name, and keys its table rows by fingerprint: every row needs a
      // distinct one (a file without any, such as a multipart dock upload, is keyed by its id).
      payload: file.payloadName ?? file.payloadModelKey ?? '',
      tinny_fingerprint: file.tinyFingerprint ?? '',
      fingerprint: file.fingerprint ?? file.id,
      create_time: formatDjiDateTime(file.createdAt),
      job_id: file.fileGroupId ?? '',
      media_type: file.mediaType,
      source: file.source,
      size: file.size,
      content_type: file.contentType,
      sub_file_type: file.subFileType,
      drone_model_key: file.droneModelKey,
      payload_model_key: file.payloadModelKey,
      latitude: file.latitude,
      longitude: file.longitude,
      absolute_altitude: file.absoluteAltitude,
      relative_altitude: file.relativeAltitude,
      gimbal_yaw_degree: file.gimbalYawDegree,
      captured_time: file.capturedAt === null ? null : new Date(file.capturedAt).toISOString(),
      captured_time_raw: file.capturedAtRaw,
      captured_time_local: local?.iso ?? null,
      captured_time_is_device_local: local?.deviceLocal ?? null,
      thumbnail_url: (await library.thumbnailUrl(file, hostname)) ?? null,
    };
  };

  app.get(
    '/media/api/v1/files/:workspace_id/files',
    {
      config: { permission: 'library.read' },
      schema: {
        tags,
        security,
        summary: "The workspace's media, newest first, with filters",
        params: WorkspaceParams,
        querystring: ListQuery,
        response: {
          200: Envelope(Type.Object({ list: Type.Array(MediaFileDto), pagination: Pagination })),
          ...ErrorResponses,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const { items, total } = await library.list(
        request.params.workspace_id,
        {
          droneSn: q.device_sn,
          mediaType: q.type,
          from: q.begin_time,
          to: q.end_time,
          fileGroupId: q.file_group_id ?? q.job_id,
          text: q.q?.trim() || undefined,
        },
        { page: q.page, pageSize: q.page_size },
      );
      const hostname = addresses.hostname(request);
      return ok({
        list: await Promise.all(items.map((file) => render(file, hostname))),
        pagination: { page: q.page, page_size: q.page_size, total },
      });
    },
  );

  app.get(
    '/media/api/v1/files/:workspace_id/file/:file_id',
    {
      config: { permission: 'library.read' },
      schema: {
        tags,
        security,
        summary: 'One media file',
        params: FileParams,
        response: { 200: Envelope(MediaFileDto), ...ErrorResponses },
      },
    },
    async (request) =>
      ok(
        await render(
          await library.get(request.params.workspace_id, request.params.file_id),
          addresses.hostname(request),
        ),
      ),
  );

  app.get(
    '/media/api/v1/files/:workspace_id/file/:file_id/url',
    {
      config: { permission: 'library.read' },
      schema: {
        tags,
        security,
        summary: 'Download: 302 to a time-limited URL of the file',
        params: FileParams,
        response: { 302: Type.Null(), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const url = await library.downloadUrl(
        request.params.workspace_id,
        request.params.file_id,
        addresses.hostname(request),
      );
      return reply.redirect(url, 302);
    },
  );

  app.delete(
    '/media/api/v1/files/:workspace_id/file/:file_id',
    {
      config: { permission: 'library.write' },
      schema: {
        tags,
        security,
        summary: 'Delete one file: its record, object and thumbnail',
        params: FileParams,
        response: { 200: Envelope(Type.Object({ deleted: Type.Array(Type.String()) })), ...ErrorResponses },
      },
    },
    async (request) => {
      await library.get(request.params.workspace_id, request.params.file_id);
      return ok({ deleted: await library.delete(request.params.workspace_id, [request.params.file_id]) });
    },
  );

  app.delete(
    '/media/api/v1/files/:workspace_id/files',
    {
      config: { permission: 'library.write' },
      schema: {
        tags,
        security,
        summary: 'Delete many files; answers the ids deleted (unknown ids are skipped)',
        params: WorkspaceParams,
        body: Type.Object({
          file_ids: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 1000 }),
        }),
        response: { 200: Envelope(Type.Object({ deleted: Type.Array(Type.String()) })), ...ErrorResponses },
      },
    },
    async (request) =>
      ok({ deleted: await library.delete(request.params.workspace_id, request.body.file_ids) }),
  );

  app.get(
    '/media/api/v1/files/:workspace_id/groups',
    {
      config: { permission: 'library.read' },
      schema: {
        tags,
        security,
        summary: 'File groups (media of one wayline task) with their completeness',
        params: WorkspaceParams,
        response: { 200: Envelope(Type.Object({ list: Type.Array(GroupDto) })), ...ErrorResponses },
      },
    },
    async (request) =>
      ok({
        list: (await library.groups(request.params.workspace_id)).map((g) => ({
          file_group_id: g.id,
          expected_count: g.expected,
          reported_uploaded_count: g.reportedUploaded,
          stored_count: g.stored,
          complete: g.complete,
          update_time: formatDjiDateTime(g.updatedAt),
        })),
      }),
  );
};
