/**
 * DJI Pilot 2's media calls at their exact paths (docs/protocol.md §3): fast-upload, tiny-fingerprints,
 * upload-callback, group-upload-callback; and the storage credentials call (`sts`). Each handler only
 * translates the wire (pilot-media.wire.ts), calls the media service and renders the DJI envelope.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { MediaService } from '../../../features/media/media.service.ts';
import { AppError } from '../../../shared/app-error.ts';
import { Envelope, ErrorResponses, ok } from '../../envelope.ts';
import type { PublicAddresses } from '../../public-address.ts';
import {
  FastUploadBody,
  GroupUploadCallbackBody,
  TinyFingerprintsBody,
  TinyFingerprintsQuery,
  tinyFingerprintsOf,
  tinyFingerprintsOfQuery,
  UploadCallbackBody,
  uploadReportOf,
} from './pilot-media.wire.ts';
import { nonEmpty } from '../../../dji/media-metadata.wire.ts';
import { withoutNulls } from '../../../dji/values.ts';

export interface PilotMediaRoutesOptions {
  media: MediaService;
  addresses: PublicAddresses;
}

const security = [{ token: [] }];
const tags = ['pilot media'];
const WorkspaceParams = Type.Object({ workspace_id: Type.String() });
const TinyResponse = Envelope(Type.Object({ tiny_fingerprints: Type.Array(Type.String()) }));

const StsData = Type.Object({
  bucket: Type.String(),
  credentials: Type.Object({
    access_key_id: Type.String(),
    access_key_secret: Type.String(),
    security_token: Type.String(),
    expire: Type.Integer({ description: 'seconds the credentials remain valid, less a safety margin' }),
  }),
  endpoint: Type.String({ description: 'http(s) URL of the object storage, reachable by the device' }),
  object_key_prefix: Type.String({ description: 'keys must start with this prefix and a slash' }),
  provider: Type.Union([Type.Literal('minio'), Type.Literal('aws'), Type.Literal('ali')]),
  region: Type.String(),
});

export const pilotMediaRoutes: FastifyPluginAsyncTypebox<PilotMediaRoutesOptions> = async (
  app,
  { media, addresses },
) => {
  // Pilot sends null for absent fields: removed before validation, so null never becomes 0 or false.
  app.addHook('preValidation', async (request) => {
    if (request.body !== undefined) request.body = withoutNulls(request.body);
  });

  app.post(
    '/media/api/v1/workspaces/:workspace_id/fast-upload',
    {
      config: { permission: 'pilot' },
      schema: {
        tags,
        security,
        summary: 'Whether a file (by fingerprint) is already in the cloud',
        description: 'code 0: it is, Pilot skips the upload; code 100404 (HTTP 200): upload it.',
        params: WorkspaceParams,
        body: FastUploadBody,
        response: { 200: Envelope(Type.Object({})), ...ErrorResponses },
      },
    },
    async (request) => {
      const { fingerprint, ext } = request.body;
      const group = nonEmpty(ext?.file_group_id);
      if (!(await media.isInCloud(request.params.workspace_id, fingerprint, group))) {
        throw new AppError(
          'MediaNotInCloud',
          `${request.body.fingerprint} is not in the cloud yet: upload it.`,
        );
      }
      return ok({});
    },
  );

  const tinyHandler = async (workspaceId: string, tinyFingerprints: string[]) =>
    ok({ tiny_fingerprints: await media.existingTinyFingerprints(workspaceId, tinyFingerprints) });

  app.post(
    '/media/api/v1/workspaces/:workspace_id/files/tiny-fingerprints',
    {
      config: { permission: 'pilot' },
      schema: {
        tags,
        security,
        summary: 'Which of these tiny fingerprints the cloud already holds (request order)',
        params: WorkspaceParams,
        body: TinyFingerprintsBody,
        response: { 200: TinyResponse, ...ErrorResponses },
      },
    },
    async (request) => tinyHandler(request.params.workspace_id, tinyFingerprintsOf(request.body)),
  );

  app.get(
    '/media/api/v1/workspaces/:workspace_id/files/tiny-fingerprints',
    {
      config: { permission: 'pilot' },
      schema: {
        tags,
        security,
        summary:
          'The same, as older Pilot versions call it (GET, tiny_fingerprint repeated or comma-separated)',
        params: WorkspaceParams,
        querystring: TinyFingerprintsQuery,
        response: { 200: TinyResponse, ...ErrorResponses },
      },
    },
    async (request) => tinyHandler(request.params.workspace_id, tinyFingerprintsOfQuery(request.query)),
  );

  app.post(
    '/media/api/v1/workspaces/:workspace_id/upload-callback',
    {
      config: { permission: 'pilot' },
      schema: {
        tags,
        security,
        summary: 'Pilot reports a file it uploaded to storage',
        description:
          'The object must be in storage under the prefix issued to the workspace. A repeated report changes nothing; result ≠ 0 is logged as a failed upload and not shown.',
        params: WorkspaceParams,
        body: UploadCallbackBody,
        response: { 200: Envelope(Type.Object({ object_key: Type.String() })), ...ErrorResponses },
      },
    },
    async (request) => {
      await media.recordUpload(request.params.workspace_id, uploadReportOf(request.body));
      return ok({ object_key: request.body.object_key });
    },
  );

  app.post(
    '/media/api/v1/workspaces/:workspace_id/group-upload-callback',
    {
      config: { permission: 'pilot' },
      schema: {
        tags,
        security,
        summary: 'Pilot reports the counts of a file group (the media of one wayline task)',
        params: WorkspaceParams,
        body: GroupUploadCallbackBody,
        response: { 200: Envelope(Type.Object({})), ...ErrorResponses },
      },
    },
    async (request) => {
      const { file_group_id: id, file_count: expected, file_uploaded_count: uploaded } = request.body;
      const groupId = nonEmpty(id);
      if (groupId === undefined) {
        request.log.info({ expected, uploaded }, 'group counts without a file group id: nothing to record');
        return ok({});
      }
      await media.recordGroup(request.params.workspace_id, groupId, expected, uploaded);
      return ok({});
    },
  );

  for (const method of ['POST', 'GET'] as const) {
    app.route({
      method,
      url: '/storage/api/v1/workspaces/:workspace_id/sts',
      config: { permission: 'pilot' },
      schema: {
        tags,
        security,
        summary: 'Temporary credentials to upload to the workspace media prefix',
        params: WorkspaceParams,
        response: { 200: Envelope(StsData), ...ErrorResponses },
      },
      handler: async (request) => {
        const credentials = await media.uploadCredentials(
          request.params.workspace_id,
          addresses.hostname(request),
        );
        return ok({
          bucket: credentials.bucket,
          credentials: {
            access_key_id: credentials.accessKeyId,
            access_key_secret: credentials.accessKeySecret,
            security_token: credentials.securityToken,
            expire: credentials.announcedExpireSeconds,
          },
          endpoint: credentials.endpoint,
          object_key_prefix: credentials.prefix,
          provider: credentials.provider,
          region: credentials.region,
        });
      },
    });
  }
};
