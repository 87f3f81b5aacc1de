/** The XML bodies of the S3 operations the embedded endpoint serves (written by hand: they are small and fixed). */
import { XMLParser } from 'fast-xml-parser';
import type { ObjectInfo } from '../provider.ts';
import type { PartRow, UploadRow } from './object-store.ts';
import { escapeXml as x, S3Error } from './s3-errors.ts';
import { uriEncode } from './sigv4.ts';

const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';
const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
const iso = (ms: number) => new Date(ms).toISOString();

export interface ListResult {
  contents: ObjectInfo[];
  commonPrefixes: string[];
  truncated: boolean;
  /** The key (or marker) the next page starts after. */
  nextAfter: string | undefined;
}

export function listObjectsXml(options: {
  version: 1 | 2;
  bucket: string;
  prefix: string;
  delimiter: string;
  maxKeys: number;
  urlEncode: boolean;
  result: ListResult;
  continuationToken?: string | undefined;
  startAfter?: string | undefined;
  marker?: string | undefined;
}): string {
  const enc = (value: string) => x(options.urlEncode ? uriEncode(value).replace(/%2F/g, '/') : value);
  const { result } = options;
  const parts = [`<Name>${x(options.bucket)}</Name>`, `<Prefix>${enc(options.prefix)}</Prefix>`];
  if (options.version === 2) {
    if (options.continuationToken)
      parts.push(`<ContinuationToken>${x(options.continuationToken)}</ContinuationToken>`);
    if (options.startAfter) parts.push(`<StartAfter>${enc(options.startAfter)}</StartAfter>`);
    parts.push(`<KeyCount>${result.contents.length + result.commonPrefixes.length}</KeyCount>`);
  } else {
    parts.push(`<Marker>${enc(options.marker ?? '')}</Marker>`);
  }
  parts.push(`<MaxKeys>${options.maxKeys}</MaxKeys>`);
  if (options.delimiter) parts.push(`<Delimiter>${enc(options.delimiter)}</Delimiter>`);
  if (options.urlEncode) parts.push('<EncodingType>url</EncodingType>');
  parts.push(`<IsTruncated>${result.truncated}</IsTruncated>`);
  if (result.truncated && result.nextAfter !== undefined) {
    if (options.version === 2) {
      parts.push(
        `<NextContinuationToken>${Buffer.from(result.nextAfter).toString('base64url')}</NextContinuationToken>`,
      );
    } else if (options.delimiter) {
      parts.push(`<NextMarker>${enc(result.nextAfter)}</NextMarker>`);
    }
  }
  for (const o of result.contents) {
    parts.push(
      `<Contents><Key>${enc(o.key)}</Key><LastModified>${iso(o.lastModified)}</LastModified><ETag>${x(o.etag)}</ETag><Size>${o.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    );
  }
  for (const p of result.commonPrefixes)
    parts.push(`<CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`);
  return `${HEAD}<ListBucketResult ${NS}>${parts.join('')}</ListBucketResult>`;
}

export function initiateUploadXml(bucket: string, key: string, uploadId: string): string {
  return `${HEAD}<InitiateMultipartUploadResult ${NS}><Bucket>${x(bucket)}</Bucket><Key>${x(key)}</Key><UploadId>${x(uploadId)}</UploadId></InitiateMultipartUploadResult>`;
}

export function completeUploadXml(location: string, bucket: string, key: string, etag: string): string {
  return `${HEAD}<CompleteMultipartUploadResult ${NS}><Location>${x(location)}</Location><Bucket>${x(bucket)}</Bucket><Key>${x(key)}</Key><ETag>${x(etag)}</ETag></CompleteMultipartUploadResult>`;
}

export function listPartsXml(options: {
  bucket: string;
  upload: UploadRow;
  marker: number;
  maxParts: number;
  parts: PartRow[];
  truncated: boolean;
}): string {
  const parts = options.parts
    .map(
      (p) =>
        `<Part><PartNumber>${p.part_number}</PartNumber><LastModified>${iso(p.last_modified)}</LastModified><ETag>${x(p.etag)}</ETag><Size>${p.size}</Size></Part>`,
    )
    .join('');
  const next = options.parts.at(-1)?.part_number ?? options.marker;
  return `${HEAD}<ListPartsResult ${NS}><Bucket>${x(options.bucket)}</Bucket><Key>${x(options.upload.key)}</Key><UploadId>${x(options.upload.upload_id)}</UploadId><PartNumberMarker>${options.marker}</PartNumberMarker><NextPartNumberMarker>${next}</NextPartNumberMarker><MaxParts>${options.maxParts}</MaxParts><IsTruncated>${options.truncated}</IsTruncated><StorageClass>STANDARD</StorageClass>${parts}</ListPartsResult>`;
}

export function listUploadsXml(bucket: string, prefix: string, uploads: UploadRow[]): string {
  const items = uploads
    .map(
      (u) =>
        `<Upload><Key>${x(u.key)}</Key><UploadId>${x(u.upload_id)}</UploadId><StorageClass>STANDARD</StorageClass><Initiated>${iso(u.initiated)}</Initiated></Upload>`,
    )
    .join('');
  return `${HEAD}<ListMultipartUploadsResult ${NS}><Bucket>${x(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>${x(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${items}</ListMultipartUploadsResult>`;
}

export function locationXml(region: string): string {
  return `${HEAD}<LocationConstraint ${NS}>${x(region)}</LocationConstraint>`;
}

export function listBucketsXml(bucket: string, created: number): string {
  return `${HEAD}<ListAllMyBucketsResult ${NS}><Owner><ID>skyvault</ID><DisplayName>skyvault</DisplayName></Owner><Buckets><Bucket><Name>${x(bucket)}</Name><CreationDate>${iso(created)}</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>`;
}

export function deleteResultXml(
  deleted: string[],
  errors: { key: string; error: S3Error }[],
  quiet: boolean,
): string {
  const ok = quiet ? '' : deleted.map((k) => `<Deleted><Key>${x(k)}</Key></Deleted>`).join('');
  const failed = errors
    .map(
      (e) =>
        `<Error><Key>${x(e.key)}</Key><Code>${e.error.code}</Code><Message>${x(e.error.message)}</Message></Error>`,
    )
    .join('');
  return `${HEAD}<DeleteResult ${NS}>${ok}${failed}</DeleteResult>`;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  isArray: (name) => name === 'Part' || name === 'Object',
  processEntities: true,
});

function parse(xml: string): Record<string, unknown> {
  try {
    return parser.parse(xml) as Record<string, unknown>;
  } catch {
    throw new S3Error('MalformedXML', 'The XML you provided was not well-formed.');
  }
}

/** The part list of a CompleteMultipartUpload request body. */
export function parseCompleteUpload(xml: string): { partNumber: number; etag: string }[] {
  const root = parse(xml).CompleteMultipartUpload as
    { Part?: { PartNumber?: string; ETag?: string }[] } | undefined;
  if (!root?.Part?.length) throw new S3Error('MalformedXML', 'The XML you provided did not list any part.');
  return root.Part.map((p) => {
    const partNumber = Number(p.PartNumber);
    if (!Number.isInteger(partNumber) || typeof p.ETag !== 'string') {
      throw new S3Error('MalformedXML', 'Each Part needs a PartNumber and an ETag.');
    }
    return { partNumber, etag: p.ETag.startsWith('"') ? p.ETag : `"${p.ETag}"` };
  });
}

/** The keys of a DeleteObjects request body. */
export function parseDeleteObjects(xml: string): { keys: string[]; quiet: boolean } {
  const root = parse(xml).Delete as { Object?: { Key?: string }[]; Quiet?: string } | undefined;
  const keys = (root?.Object ?? []).map((o) => o.Key).filter((k): k is string => typeof k === 'string');
  if (keys.length === 0 || keys.length > 1000) {
    throw new S3Error('MalformedXML', 'A delete request names 1 to 1000 objects.');
  }
  return { keys, quiet: root?.Quiet === 'true' };
}
