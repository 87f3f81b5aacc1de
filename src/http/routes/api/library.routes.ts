/**
 * The web library's paths under /api/v1 (docs/web-api.md): cursor pages of media, one file with its
 * links, facets, map clusters, delete, and file groups. Each route validates, calls the library
 * service and renders; the rules (cursors, boxes, caps) are the service's.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { normalizeCaptureTime } from '../../../features/media/capture-time.ts';
import {
  FACET_SCAN_CAP,
  MAP_SCAN_CAP,
  type MediaLibraryService,
} from '../../../features/media/media-library.service.ts';
import type { LibraryFile, MediaFilter } from '../../../features/media/media.repo.ts';
import { Envelope, ErrorResponses, MediaTypeSchema, Nullable, ok } from '../../envelope.ts';
import type { PublicAddresses } from '../../public-address.ts';

export interface LibraryApiRoutesOptions {
  library: MediaLibraryService;
  addresses: PublicAddresses;
}

const security = [{ token: [] }];
const tags = ['web library'];

const WorkspaceParams = Type.Object({ workspace_id: Type.String() });
const FileParams = Type.Object({ workspace_id: Type.String(), file_id: Type.String({ maxLength: 64 }) });

/** The filters of docs/web-api.md, shared by the list, the facets and the map. */
const FilterQuery = {
  device_sn: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, description: 'aircraft serial number' }),
  ),
  type: Type.Optional(MediaTypeSchema),
  from: Type.Optional(Type.Integer({ description: 'epoch ms, inclusive, on taken_at' })),
  to: Type.Optional(Type.Integer({ description: 'epoch ms, inclusive, on taken_at' })),
  group: Type.Optional(
    Type.String({ minLength: 1, maxLength: 128, description: 'file group (flight task) id' }),
  ),
  q: Type.Optional(
    Type.String({
      maxLength: 200,
      description:
        'text in the file name or path, case-insensitive; 3 characters or more use the text index, shorter ones a scan',
    }),
  ),
};

function filterOf(query: {
  device_sn?: string | undefined;
  type?: 'image' | 'video' | 'other' | undefined;
  from?: number | undefined;
  to?: number | undefined;
  group?: string | undefined;
  q?: string | undefined;
}): MediaFilter {
  return {
    droneSn: query.device_sn,
    mediaType: query.type,
    from: query.from,
    to: query.to,
    fileGroupId: query.group,
    text: query.q?.trim() || undefined,
  };
}

const MediaItem = Type.Object({
  id: Type.String(),
  name: Type.String(),
  path: Type.String({ description: 'DJI business path (wayline folder), "" when none' }),
  media_type: MediaTypeSchema,
  source: Type.Union([Type.Literal('pilot'), Type.Literal('dock')]),
  size: Type.Integer({ description: 'bytes' }),
  content_type: Type.String(),
  is_original: Type.Boolean(),
  taken_at: Type.Integer({ description: 'epoch ms: captured_at, else created_at; the order of the library' }),
  captured_at: Nullable(
    Type.Integer({ description: 'epoch ms, when the device placed it on the time line' }),
  ),
  created_at: Type.Integer({ description: 'epoch ms, when Skyvault recorded it' }),
  captured_time_local: Nullable(
    Type.String({
      description: 'capture time in ISO 8601 with the zone the device gave, or none (its local clock)',
    }),
  ),
  captured_time_is_device_local: Nullable(
    Type.Boolean({
      description: 'true when the device gave no zone: captured_time_local is its local clock',
    }),
  ),
  drone_sn: Nullable(Type.String({ description: 'aircraft serial number' })),
  drone_model_key: Nullable(Type.String()),
  drone_name: Nullable(Type.String({ description: 'the aircraft model’s name (device dictionary)' })),
  payload_model_key: Nullable(Type.String()),
  payload_name: Nullable(Type.String({ description: 'the payload model’s name (device dictionary)' })),
  file_group_id: Nullable(Type.String({ description: 'file group (flight task) id' })),
  latitude: Nullable(Type.Number()),
  longitude: Nullable(Type.Number()),
  absolute_altitude: Nullable(Type.Number()),
  relative_altitude: Nullable(Type.Number()),
  gimbal_yaw_degree: Nullable(Type.Number()),
  duration_ms: Nullable(Type.Integer({ description: 'videos: their length, when known' })),
  enrichment_error: Nullable(
    Type.String({ description: 'why no thumbnail or preview could be made (a bomb, a damaged file…)' }),
  ),
  thumbnail_url: Nullable(Type.String({ description: 'time-limited URL of a 256 px JPEG' })),
});

const MediaDetail = Type.Object({
  ...MediaItem.properties,
  preview_url: Nullable(
    Type.String({ description: 'time-limited URL of a large JPEG rendition, once made' }),
  ),
  stream_url: Type.String({ description: 'time-limited URL of the file, inline (for <img>/<video>, Range)' }),
  download_url: Type.String({ description: 'time-limited URL of the file, as an attachment under its name' }),
});

const Facets = Type.Object({
  total: Type.Integer({
    description: 'files matching every filter; a lower bound when total_exact is false',
  }),
  total_exact: Type.Boolean({
    description: `false when a time, group or text filter matched more than ${FACET_SCAN_CAP} files: the counts are of the first ${FACET_SCAN_CAP}`,
  }),
  types: Type.Array(Type.Object({ type: MediaTypeSchema, count: Type.Integer() }), {
    description: 'files per type, matching every filter but the type',
  }),
  devices: Type.Array(
    Type.Object({
      device_sn: Nullable(Type.String({ description: 'null: files that name no aircraft' })),
      name: Nullable(Type.String({ description: 'the model’s name (device dictionary)' })),
      model_key: Nullable(Type.String()),
      count: Type.Integer(),
    }),
    { description: 'files per aircraft, matching every filter but the aircraft; most first' },
  ),
});

const MapAnswer = Type.Object({
  clusters: Type.Array(
    Type.Object({
      latitude: Type.Number({ description: 'centroid of the cluster’s files' }),
      longitude: Type.Number(),
      count: Type.Integer(),
      file_id: Nullable(
        Type.String({ description: 'one file of the cluster: the file itself when count is 1' }),
      ),
    }),
  ),
  exact: Type.Boolean({
    description: `false when a filter matched more than ${MAP_SCAN_CAP} geotagged files: only that many are clustered`,
  }),
  cell_degrees: Type.Number({ description: 'side of the clustering grid’s cells' }),
});

const FileGroup = Type.Object({
  id: Type.String(),
  expected: Nullable(Type.Integer({ description: 'media the device said the group holds' })),
  stored: Type.Integer({ description: 'media of the group in the library' }),
  reported_uploaded: Nullable(Type.Integer({ description: 'what Pilot reported as uploaded' })),
  complete: Nullable(Type.Boolean({ description: 'stored ≥ expected; null when expected is unknown' })),
  uploading: Type.Boolean({
    description:
      'its dock uploads it first now (while incomplete), or a file of it arrived within the last minute',
  }),
  gateway_sn: Nullable(Type.String({ description: 'the dock or controller uploading it, when known' })),
  updated_at: Type.Integer({ description: 'epoch ms' }),
  thumbnail_url: Nullable(Type.String({ description: 'thumbnail of its newest file' })),
});

const FileIds = Type.Object({
  file_ids: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 1000 }),
});

export const libraryApiRoutes: FastifyPluginAsyncTypebox<LibraryApiRoutesOptions> = async (
  app,
  { library, addresses },
) => {
  const hostOf = (request: FastifyRequest) => addresses.hostname(request);
  const render = async (file: LibraryFile, hostname: string): Promise<Static<typeof MediaItem>> => {
    const local = normalizeCaptureTime(file.capturedAtRaw);
    return {
      id: file.id,
      name: file.name,
      path: file.path,
      media_type: file.mediaType,
      source: file.source,
      size: file.size,
      content_type: file.contentType,
      is_original: file.isOriginal === 1,
      taken_at: file.takenAt,
      captured_at: file.capturedAt,
      created_at: file.createdAt,
      captured_time_local: local?.iso ?? null,
      captured_time_is_device_local: local?.deviceLocal ?? null,
      drone_sn: file.droneSn,
      drone_model_key: file.droneModelKey,
      drone_name: file.droneName,
      payload_model_key: file.payloadModelKey,
      payload_name: file.payloadName,
      file_group_id: file.fileGroupId,
      latitude: file.latitude,
      longitude: file.longitude,
      absolute_altitude: file.absoluteAltitude,
      relative_altitude: file.relativeAltitude,
      gimbal_yaw_degree: file.gimbalYawDegree,
      duration_ms: file.durationMs,
      enrichment_error: file.enrichmentError ?? null,
      thumbnail_url: (await library.thumbnailUrl(file, hostname)) ?? null,
    };
  };

  app.get(
    '/api/v1/workspaces/:workspace_id/media',
    {
      config: { permission: 'library.read' },
      schema: {
        tags,
        security,
        summary: 'A page of media, newest taken_at first; pass next_cursor for the next page',
        params: WorkspaceParams,
        querystring: Type.Object({
          ...FilterQuery,
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
          cursor: Type.Optional(
            Type.String({ maxLength: 200, description: 'next_cursor of the previous page' }),
          ),
        }),
        response: {
          200: Envelope(
            Type.Object({
              items: Type.Array(MediaItem),
              next_cursor: Nullable(Type.String({ description: 'null on the last page' })),
            }),
          ),
          ...ErrorResponses,
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const page = await library.browse(request.params.workspace_id, filterOf(request.query), {
        cursor,
        limit,
      });
      const hostname = hostOf(request);
      return ok({
        items: await Promise.all(page.items.map((file) => render(file, hostname))),
        next_cursor: page.nextCursor,
      });
    },
  );

  app.get(
    '/api/v1/workspaces/:workspace_id/media/facets',
    {
      config: { permission: 'library.read' },
      schema: {
        tags,
        security,
        summary: 'Counts for the filter menus: total, per type, per aircraft',
        params: WorkspaceParams,
        querystring: Type.Object(FilterQuery),
        response: { 200: Envelope(Facets), ...ErrorResponses },
      },
    },
    async (request) => {
      const facets = await library.facets(request.params.workspace_id, filterOf(request.query));
      return ok({
        total: facets.total,
        total_exact: facets.totalExact,
        types: facets.types,
        devices: facets.devices.map((d) => ({
          device_sn: d.droneSn,
          name: d.name,
          model_key: d.modelKey,
          count: d.count,
        })),
      });
    },
  );

  app.get(
    '/api/v1/workspaces/:workspace_id/media/map',
    {
      config: { permission: 'library.read' },
      schema: {
        tags,
        security,
        summary: 'Map markers: geotagged media clustered on a grid of about 64 px at the zoom, in the box',
        params: WorkspaceParams,
        querystring: Type.Object({
          ...FilterQuery,
          zoom: Type.Integer({ minimum: 0, maximum: 22, description: 'web map zoom level' }),
          bbox: Type.Optional(
            Type.String({
              maxLength: 200,
              description:
                'west,south,east,north in degrees; west > east crosses the antimeridian; default the world',
            }),
          ),
        }),
        response: { 200: Envelope(MapAnswer), ...ErrorResponses },
      },
    },
    async (request) => {
      const { zoom, bbox } = request.query;
      const view = await library.map(request.params.workspace_id, filterOf(request.query), { zoom, bbox });
      return ok({
        clusters: view.clusters.map((c) => ({
          latitude: c.latitude,
          longitude: c.longitude,
          count: c.count,
          file_id: c.fileId,
        })),
        exact: view.exact,
        cell_degrees: view.cellDegrees,
      });
    },
  );

  app.get(
    '/api/v1/workspaces/:workspace_id/media/:file_id',
    {
      config: { permission: 'library.read' },
      schema: {
        tags,
        security,
        summary: 'One file, with its preview, stream and download links',
        params: FileParams,
        response: { 200: Envelope(MediaDetail), ...ErrorResponses },
      },
    },
    async (request) => {
      const file = await library.get(request.params.workspace_id, request.params.file_id);
      const hostname = hostOf(request);
      const [item, links] = await Promise.all([render(file, hostname), library.links(file, hostname)]);
      return ok({
        ...item,
        preview_url: links.previewUrl,
        stream_url: links.streamUrl,
        download_url: links.downloadUrl,
      });
    },
  );

  app.delete(
    '/api/v1/workspaces/:workspace_id/media',
    {
      config: { permission: 'library.write' },
      schema: {
        tags,
        security,
        summary: 'Delete files with their objects, thumbnails and previews; answers the ids deleted',
        params: WorkspaceParams,
        body: FileIds,
        response: { 200: Envelope(Type.Object({ deleted: Type.Array(Type.String()) })), ...ErrorResponses },
      },
    },
    async (request) =>
      ok({ deleted: await library.delete(request.params.workspace_id, request.body.file_ids) }),
  );

  app.get(
    '/api/v1/workspaces/:workspace_id/file-groups',
    {
      config: { permission: 'library.read' },
      schema: {
        tags,
        security,
        summary: 'File groups (flight tasks) with expected and stored counts, and which are uploading now',
        params: WorkspaceParams,
        response: { 200: Envelope(Type.Object({ items: Type.Array(FileGroup) })), ...ErrorResponses },
      },
    },
    async (request) => {
      const groups = await library.fileGroups(request.params.workspace_id, hostOf(request));
      return ok({
        items: groups.map((g) => ({
          id: g.id,
          expected: g.expected,
          stored: g.stored,
          reported_uploaded: g.reportedUploaded,
          complete: g.complete,
          uploading: g.uploading,
          gateway_sn: g.gatewaySn,
          updated_at: g.updatedAt,
          thumbnail_url: g.thumbnailUrl,
        })),
      });
    },
  );
};
