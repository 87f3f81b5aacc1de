/**
 * "Download selected" of the web library: the chosen files as one zip, streamed (docs/web-api.md).
 * The sizes come first, in headers, so the browser can draw a progress line while it reads the body.
 */
import type { Readable } from 'node:stream';
import formBody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MAX_ZIP_FILES } from '../../../features/media/media-zip.service.ts';
import { ErrorResponses } from '../../envelope.ts';
import type { MediaZipService } from '../../../features/media/media-zip.service.ts';

export interface ZipRoutesOptions {
  zips: MediaZipService;
}

/** Sum of the files' sizes in bytes: the zip is this plus its headers (about 100 bytes a file). */
export const MEDIA_BYTES_HEADER = 'x-skyvault-media-bytes';
export const FILE_COUNT_HEADER = 'x-skyvault-file-count';

const pad = (n: number) => String(n).padStart(2, '0');

/** `skyvault-20260102-030405.zip`, in UTC so the name does not depend on the server's zone. */
export function zipFileName(at: Date): string {
  const day = `${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}`;
  const time = `${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}`;
  return `skyvault-${day}-${time}.zip`;
}

export const zipRoutes: FastifyPluginAsyncTypebox<ZipRoutesOptions> = async (app, { zips }) => {
  // Large selections are downloaded by a form the browser submits itself, so that it saves the zip to
  // disk as it arrives: the ids come as repeated `file_ids` fields and the token as `x-auth-token`.
  // The form parser is registered here only, so no other route accepts form bodies.
  await app.register(formBody);

  // Downloads in progress. A zip can take minutes, and the server closes only once every response has
  // ended: on shutdown they are cut (the browser reports a failed download) instead of holding it up.
  const streaming = new Set<Readable>();
  app.addHook('preClose', async () => {
    for (const stream of streaming) stream.destroy();
  });

  app.post(
    '/api/v1/workspaces/:workspace_id/media/zip',
    {
      config: { permission: 'library.read', tokenInForm: true },
      schema: {
        tags: ['web library'],
        security: [{ token: [] }],
        summary: 'The files chosen, as one zip streamed as it is made',
        description:
          'JSON (`{file_ids}`, token in `x-auth-token`), or a browser form (`application/x-www-form-urlencoded`: repeated `file_ids` fields and an `x-auth-token` field) so the browser saves the zip as it arrives. Files are stored uncompressed, in the order given (repeated ids once), under their own names, made unique inside the zip (`name (2).jpg`), dated with their capture time. Unknown ids are refused before the zip starts (404, `data.unknown_file_ids`). `X-Skyvault-Media-Bytes` (the sum of the file sizes) and `X-Skyvault-File-Count` come first, for a progress line. If a file cannot be read once the zip has started, the connection is cut: the download fails rather than ending with a truncated zip.',
        params: Type.Object({ workspace_id: Type.String() }),
        body: Type.Object({
          file_ids: Type.Array(Type.String({ maxLength: 64 }), {
            minItems: 1,
            maxItems: MAX_ZIP_FILES,
            description: 'ids of media files of the workspace, in the order wanted in the zip',
          }),
        }),
        response: {
          200: {
            description: 'the zip (application/zip), streamed',
            content: { 'application/zip': { schema: Type.String({ format: 'binary' }) } },
            headers: {
              'content-disposition': Type.String({
                description: 'attachment; filename="skyvault-YYYYMMDD-HHmmss.zip" (UTC)',
              }),
              [MEDIA_BYTES_HEADER]: Type.Integer({ description: 'sum of the file sizes, in bytes' }),
              [FILE_COUNT_HEADER]: Type.Integer({ description: 'files in the zip' }),
            },
          },
          ...ErrorResponses,
        },
      },
    },
    async (request, reply) => {
      const download = await zips.open(request.params.workspace_id, request.body.file_ids);
      const headers: Record<string, string> = {
        'content-type': 'application/zip',
        'content-disposition': `attachment; filename="${zipFileName(new Date())}"`,
        'cache-control': 'no-store',
        [MEDIA_BYTES_HEADER]: String(download.mediaBytes),
        [FILE_COUNT_HEADER]: String(download.fileCount),
      };
      // A failure before the first byte (the first object missing) still gets a status and the JSON
      // error from the error handler, which must not go out under the zip's headers. Fastify has
      // already copied them onto the response by then; this listener runs before Fastify's own.
      download.stream.once('error', () => {
        if (reply.raw.headersSent) return;
        for (const name of Object.keys(headers)) {
          reply.removeHeader(name);
          reply.raw.removeHeader(name);
        }
      });
      streaming.add(download.stream);
      download.stream.once('close', () => streaming.delete(download.stream));
      return reply.headers(headers).send(download.stream);
    },
  );
};
