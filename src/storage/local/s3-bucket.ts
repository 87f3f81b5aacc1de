/**
 * S3 operations on the bucket itself: ListObjectsV2 (and V1), HeadBucket, GetBucketLocation and
 * ListBuckets. The endpoint serves exactly one bucket, which always exists, so only listing has logic.
 */
import type { ObjectInfo } from '../provider.ts';
import { type S3Context, sendXml, str } from './s3-request.ts';
import * as xml from './s3-xml.ts';

export async function listObjects(c: S3Context, prefix: string): Promise<void> {
  const version = str(c.query['list-type']) === '2' ? 2 : 1;
  const delimiter = str(c.query.delimiter) ?? '';
  const maxKeys = Math.min(1000, Math.max(0, Number(str(c.query['max-keys']) ?? 1000) || 0));
  const token = str(c.query['continuation-token']);
  const startAfter = str(c.query['start-after']);
  const marker = str(c.query.marker);
  const after =
    version === 2
      ? token
        ? Buffer.from(token, 'base64url').toString('utf8')
        : startAfter
      : marker || undefined;
  const result = listPage(c.endpoint.store.iterate(prefix, after), prefix, delimiter, maxKeys);
  sendXml(
    c.res,
    200,
    xml.listObjectsXml({
      version,
      bucket: c.endpoint.bucket,
      prefix,
      delimiter,
      maxKeys,
      urlEncode: str(c.query['encoding-type']) === 'url',
      result,
      continuationToken: token,
      startAfter,
      marker,
    }),
  );
}

export async function headBucket(c: S3Context): Promise<void> {
  c.res.writeHead(200, { 'x-amz-bucket-region': c.endpoint.region }).end();
}

export async function getBucketLocation(c: S3Context): Promise<void> {
  sendXml(c.res, 200, xml.locationXml(c.endpoint.region));
}

export async function listBuckets(c: S3Context): Promise<void> {
  sendXml(c.res, 200, xml.listBucketsXml(c.endpoint.bucket, c.endpoint.created));
}

function listPage(
  objects: Iterable<ObjectInfo>,
  prefix: string,
  delimiter: string,
  maxKeys: number,
): xml.ListResult {
  const contents: ObjectInfo[] = [];
  const commonPrefixes: string[] = [];
  let nextAfter: string | undefined;
  let truncated = false;
  for (const object of objects) {
    const rest = object.key.slice(prefix.length);
    const cut = delimiter ? rest.indexOf(delimiter) : -1;
    const common = cut === -1 ? undefined : prefix + rest.slice(0, cut + delimiter.length);
    if (common !== undefined && common === commonPrefixes.at(-1)) continue;
    if (contents.length + commonPrefixes.length >= maxKeys) {
      truncated = true;
      break;
    }
    if (common !== undefined) {
      commonPrefixes.push(common);
      // Resume after every key of this group (U+10FFFF sorts after any character that can follow it).
      nextAfter = `${common}\u{10FFFF}`;
    } else {
      contents.push(object);
      nextAfter = object.key;
    }
  }
  return { contents, commonPrefixes, truncated, nextAfter };
}
