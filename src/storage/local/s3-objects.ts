/**
 * S3 operations on single objects: PutObject, GetObject (with Range), HeadObject, DeleteObject, and
 * DeleteObjects, which names its keys in the body and so checks each against what the credentials allow
 * itself (the dispatcher can only check what the URL names).
 */
import { pipeline } from 'node:stream/promises';
import type { ByteRange } from '../provider.ts';
import { permits, s3Arn } from './s3-auth.ts';
import { readSmallBody, receiveBody } from './s3-body.ts';
import { S3Error } from './s3-errors.ts';
import { contentTypeOf, type S3Context, sendXml, str } from './s3-request.ts';
import * as xml from './s3-xml.ts';

export async function putObject(c: S3Context): Promise<void> {
  const staged = await receiveBody(c);
  const info = await c.endpoint.store.putObject(c.key, staged, contentTypeOf(c.req), c.endpoint.now());
  c.res.writeHead(200, { etag: info.etag, ...staged.checksumHeader }).end();
}

/** GetObject, or HeadObject when `headOnly`. */
export async function getObject(c: S3Context, headOnly: boolean): Promise<void> {
  const { store, logger } = c.endpoint;
  const current = store.head(c.key);
  if (!current) throw new S3Error('NoSuchKey', 'The specified key does not exist.');
  const range = parseRange(str(c.req.headers.range), current.size);
  const result = headOnly ? { info: current, body: undefined } : await store.read(c.key, range);
  if (!result) throw new S3Error('NoSuchKey', 'The specified key does not exist.');
  const { info } = result;
  const headers: Record<string, string | number> = {
    'content-type': str(c.query['response-content-type']) ?? info.contentType,
    'content-length': range ? range.end - range.start + 1 : info.size,
    etag: info.etag,
    'last-modified': new Date(info.lastModified).toUTCString(),
    'accept-ranges': 'bytes',
  };
  const disposition = str(c.query['response-content-disposition']);
  if (disposition) headers['content-disposition'] = disposition;
  if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${info.size}`;
  c.res.writeHead(range ? 206 : 200, headers);
  if (!result.body) {
    c.res.end();
    return;
  }
  await pipeline(result.body, c.res).catch((error: unknown) => {
    // The reader went away or the blob vanished mid-stream: nothing more can be sent.
    logger.debug({ err: error, key: c.key }, 'object read ended early');
    c.res.destroy();
  });
}

export async function deleteObject(c: S3Context): Promise<void> {
  c.endpoint.store.deleteObject(c.key);
  c.res.writeHead(204).end();
}

export async function deleteObjects(c: S3Context): Promise<void> {
  const { keys, quiet } = xml.parseDeleteObjects(await readSmallBody(c));
  const deleted: string[] = [];
  const errors: { key: string; error: S3Error }[] = [];
  for (const key of keys) {
    const permission = {
      name: 'delete',
      action: 'delete' as const,
      target: key,
      iam: [{ action: 's3:DeleteObject' as const, resource: s3Arn(c.endpoint.bucket, key) }],
    };
    if (!permits(c.principal, permission)) {
      errors.push({
        key,
        error: new S3Error('AccessDenied', 'These credentials may not delete this key.'),
      });
      continue;
    }
    c.endpoint.store.deleteObject(key);
    deleted.push(key);
  }
  sendXml(c.res, 200, xml.deleteResultXml(deleted, errors, quiet));
}

/** A single `bytes=` range clamped to the object, undefined for none; S3Error 416 when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined; // multiple or malformed ranges: whole object, as S3
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) throw invalidRange(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (end < start && match[2] !== '') return undefined;
  }
  if (start >= size) throw invalidRange(size);
  return { start, end };
}

function invalidRange(size: number): S3Error {
  return new S3Error('InvalidRange', 'The requested range is not satisfiable.', {
    ActualObjectSize: String(size),
  });
}
