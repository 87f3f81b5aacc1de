/**
 * S3 multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
 * AbortMultipartUpload, ListParts, ListMultipartUploads. DJI devices and the AWS SDK send large media
 * this way; the checks on part numbers, order, ETags and sizes are S3's, since clients rely on them, but
 * for the minimum part size of an OSS-signed upload, which is OSS's (ali-oss's default part is 1 MiB).
 */
import { createHash } from 'node:crypto';
import { MAX_PARTS } from './object-store.ts';
import { readSmallBody, receiveBody } from './s3-body.ts';
import { S3Error } from './s3-errors.ts';
import { contentTypeOf, type S3Context, sendXml, str } from './s3-request.ts';
import * as xml from './s3-xml.ts';

/** OSS's smallest part but the last (S3's is 5 MiB). */
export const OSS_MIN_PART_SIZE = 100 * 1024;

export async function createUpload(c: S3Context): Promise<void> {
  const { store, bucket, now } = c.endpoint;
  const uploadId = store.createUpload(c.key, contentTypeOf(c.req), now());
  sendXml(c.res, 200, xml.initiateUploadXml(bucket, c.key, uploadId));
}

export async function uploadPart(c: S3Context): Promise<void> {
  const uploadId = str(c.query.uploadId);
  const partNumber = Number(str(c.query.partNumber));
  if (!uploadId || !Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS) {
    throw new S3Error(
      'InvalidArgument',
      `Part number must be an integer between 1 and ${MAX_PARTS}, with an uploadId.`,
    );
  }
  uploadFor(c, uploadId);
  const staged = await receiveBody(c);
  const part = await c.endpoint.store.putPart(uploadId, partNumber, staged, c.endpoint.now());
  if (!part)
    throw new S3Error(
      'NoSuchUpload',
      'The specified multipart upload does not exist (it was completed or aborted).',
    );
  c.res.writeHead(200, { etag: part.etag, ...staged.checksumHeader }).end();
}

export async function completeUpload(c: S3Context): Promise<void> {
  const { store, bucket, now } = c.endpoint;
  const minPartSize =
    c.dialect === 'oss' ? Math.min(c.endpoint.minPartSize, OSS_MIN_PART_SIZE) : c.endpoint.minPartSize;
  const uploadId = str(c.query.uploadId)!;
  uploadFor(c, uploadId);
  const requested = xml.parseCompleteUpload(await readSmallBody(c));
  const stored = new Map(store.parts(uploadId).map((p) => [p.part_number, p]));
  const chosen = requested.map(({ partNumber, etag }, index) => {
    if (index > 0 && partNumber <= requested[index - 1]!.partNumber) {
      throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order.');
    }
    const part = stored.get(partNumber);
    if (!part || part.etag !== etag) {
      throw new S3Error('InvalidPart', `Part ${partNumber} was not uploaded, or its ETag does not match.`);
    }
    return part;
  });
  chosen.slice(0, -1).forEach((part) => {
    if (part.size < minPartSize) {
      throw new S3Error(
        'EntityTooSmall',
        `Part ${part.part_number} is smaller than the minimum part size of ${sizeText(minPartSize)}.`,
      );
    }
  });
  const md5s = Buffer.concat(chosen.map((p) => Buffer.from(p.etag.slice(1, -1), 'hex')));
  const etag = `"${createHash('md5').update(md5s).digest('hex')}-${chosen.length}"`;
  const info = store.completeUpload(uploadId, chosen, etag, now());
  if (!info) throw new S3Error('NoSuchUpload', 'The specified multipart upload does not exist.');
  const location = `http://${c.req.headers.host ?? 'localhost'}/${bucket}/${c.key}`;
  // OSS answers the ETag in a header too, and ali-oss's completeMultipartUpload reads it from there.
  if (c.dialect === 'oss') c.res.setHeader('etag', info.etag);
  sendXml(c.res, 200, xml.completeUploadXml(location, bucket, c.key, info.etag));
}

export async function abortUpload(c: S3Context): Promise<void> {
  const uploadId = str(c.query.uploadId)!;
  uploadFor(c, uploadId);
  await c.endpoint.store.abortUpload(uploadId);
  c.res.writeHead(204).end();
}

export async function listParts(c: S3Context): Promise<void> {
  const uploadId = str(c.query.uploadId)!;
  const upload = uploadFor(c, uploadId);
  const marker = Number(str(c.query['part-number-marker']) ?? 0) || 0;
  const maxParts = Math.min(1000, Number(str(c.query['max-parts']) ?? 1000) || 1000);
  const parts = c.endpoint.store.parts(uploadId, marker, maxParts + 1);
  const truncated = parts.length > maxParts;
  sendXml(
    c.res,
    200,
    xml.listPartsXml({
      bucket: c.endpoint.bucket,
      upload,
      marker,
      maxParts,
      parts: parts.slice(0, maxParts),
      truncated,
    }),
  );
}

/** ListMultipartUploads of the bucket, under `prefix`. */
export async function listUploads(c: S3Context, prefix: string): Promise<void> {
  const { store, bucket } = c.endpoint;
  sendXml(c.res, 200, xml.listUploadsXml(bucket, prefix, store.listUploads(prefix)));
}

/** The upload `uploadId` of the request's key; NoSuchUpload when it is gone or belongs to another key. */
function uploadFor(c: S3Context, uploadId: string) {
  const upload = c.endpoint.store.upload(uploadId);
  if (!upload || upload.key !== c.key) {
    throw new S3Error(
      'NoSuchUpload',
      'The specified multipart upload does not exist (it was completed or aborted).',
    );
  }
  return upload;
}

function sizeText(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`;
}
