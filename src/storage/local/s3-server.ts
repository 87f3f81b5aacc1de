/**
 * The embedded S3-compatible endpoint (provider `local`, announced to devices as `minio`): path-style
 * requests to one bucket, authenticated with the temporary credentials of credentials.ts and AWS
 * Signature V4. Written on node:http rather than a framework because S3 needs what frameworks hide:
 * the raw request target for signature checks, the body as a stream (aws-chunked, trailers, gigabytes),
 * and `Expect: 100-continue` answered only after the signature is verified. No maintained embeddable S3
 * server exists for Node (s3rver stores aws-chunked framing inside objects, see stack-notes.md §3.5).
 *
 * Operations: PutObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
 * AbortMultipartUpload, ListParts, ListMultipartUploads, HeadObject, GetObject (with Range),
 * DeleteObject, DeleteObjects, ListObjectsV2 (and V1), HeadBucket, GetBucketLocation, ListBuckets.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../../shared/logger.ts';
import type { ByteRange, ObjectInfo, StorageAction } from '../provider.ts';
import { AwsChunkedDecoder } from './aws-chunked.ts';
import { announcedChecksum, BodyDigests } from './checksums.ts';
import { allows, type CredentialAuthority, type CredentialClaims } from './credentials.ts';
import { MAX_PARTS, MIN_PART_SIZE, type ObjectStore, type StagedBlob } from './object-store.ts';
import { errorXml, S3Error } from './s3-errors.ts';
import * as xml from './s3-xml.ts';
import {
  type IncomingRequestParts,
  parseAuth,
  parseQuery,
  type ParsedAuth,
  SignatureContext,
  safeDecode,
  UNSIGNED_PAYLOAD,
} from './sigv4.ts';

/** S3's limit for one PUT (object or part). */
export const MAX_PUT_SIZE = 5 * 1024 ** 3;
/** Largest XML request body read (CompleteMultipartUpload with 10,000 parts is ~1 MB). */
const MAX_XML_BODY = 4 * 1024 * 1024;

export interface S3EndpointOptions {
  store: ObjectStore;
  authority: CredentialAuthority;
  bucket: string;
  region: string;
  logger: Logger;
  now?: () => number;
  /** Smallest part but the last of a multipart upload; S3's 5 MiB unless a benchmark lowers it. */
  minPartSize?: number;
}

type Query = Record<string, string | string[]>;

interface Operation {
  name: string;
  /** 'any' = any valid credential. */
  action: StorageAction | 'any';
  /** The key (or, for listings, prefix) the action applies to. */
  target: string;
  run: () => Promise<void>;
}

interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  query: Query;
  key: string;
  auth: ParsedAuth;
  signature: SignatureContext;
  claims: CredentialClaims;
}

export class S3Endpoint {
  private readonly now: () => number;
  private readonly created: number;

  constructor(private readonly options: S3EndpointOptions) {
    this.now = options.now ?? Date.now;
    this.created = this.now();
  }

  /** For `server.on('request')`. */
  readonly handleRequest = (req: IncomingMessage, res: ServerResponse): void => {
    void this.handle(req, res, false);
  };

  /** For `server.on('checkContinue')`: 100 Continue is sent only once the request is authorized. */
  readonly handleCheckContinue = (req: IncomingMessage, res: ServerResponse): void => {
    void this.handle(req, res, true);
  };

  private async handle(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('server', 'Skyvault');
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    let resource = rawPath;
    try {
      resource = safeDecode(rawPath);
      const query = parseQuery(q === -1 ? '' : url.slice(q + 1));
      const parts: IncomingRequestParts = {
        method: req.method ?? 'GET',
        rawPath,
        query,
        headers: req.headers,
      };
      const auth = parseAuth(parts, this.options.region, this.now());
      if (!auth)
        throw new S3Error(
          'AccessDenied',
          'Anonymous access is not allowed; sign the request with temporary credentials.',
        );
      const verified = this.options.authority.verify(
        auth.accessKeyId,
        auth.sessionToken,
        Math.floor(this.now() / 1000),
      );
      if ('problem' in verified) throw tokenError(verified.problem, auth.sessionToken);
      const signature = new SignatureContext(auth, verified.secretAccessKey);
      const expected = await signature.expectedRequestSignature(parts);
      if (!sameHex(expected, auth.signature)) {
        throw new S3Error(
          'SignatureDoesNotMatch',
          'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        );
      }
      const slash = resource.indexOf('/', 1);
      const bucket = slash === -1 ? resource.slice(1) : resource.slice(1, slash);
      const key = slash === -1 ? '' : resource.slice(slash + 1);
      if (bucket !== '' && bucket !== this.options.bucket) {
        throw new S3Error(
          'NoSuchBucket',
          `The bucket "${bucket}" does not exist; this endpoint serves "${this.options.bucket}".`,
        );
      }
      const context: Context = { req, res, query, key, auth, signature, claims: verified.claims };
      const operation = this.operation(context, bucket);
      if (operation.action !== 'any' && !allows(verified.claims, operation.action, operation.target)) {
        throw new S3Error(
          'AccessDenied',
          `These credentials may not ${operation.name} "${operation.target}".`,
        );
      }
      if (expectContinue) res.writeContinue();
      await operation.run();
    } catch (error) {
      this.fail(req, res, error, resource, requestId);
    }
  }

  private operation(c: Context, bucket: string): Operation {
    const { req, query, key } = c;
    const method = req.method ?? 'GET';
    const has = (name: string) => query[name] !== undefined;
    const op = (
      name: string,
      action: Operation['action'],
      target: string,
      run: () => Promise<void>,
    ): Operation => ({ name, action, target, run });
    if (bucket === '') {
      if (method === 'GET')
        return op('ListBuckets', 'any', '', async () =>
          this.sendXml(c.res, 200, xml.listBucketsXml(this.options.bucket, this.created)),
        );
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
    if (key === '') {
      const prefix = str(query.prefix) ?? '';
      switch (method) {
        case 'GET':
          if (has('location'))
            return op('GetBucketLocation', 'any', '', async () =>
              this.sendXml(c.res, 200, xml.locationXml(this.options.region)),
            );
          if (has('uploads'))
            return op('ListMultipartUploads', 'put', prefix, async () =>
              this.sendXml(
                c.res,
                200,
                xml.listUploadsXml(this.options.bucket, prefix, this.options.store.listUploads(prefix)),
              ),
            );
          return op('list', 'list', prefix, async () => this.listObjects(c, prefix));
        case 'HEAD':
          return op(
            'HeadBucket',
            'any',
            '',
            async () => void c.res.writeHead(200, { 'x-amz-bucket-region': this.options.region }).end(),
          );
        case 'PUT':
          throw new S3Error('BucketAlreadyOwnedByYou', `The bucket "${bucket}" already exists and is yours.`);
        case 'POST':
          if (has('delete')) return op('DeleteObjects', 'any', '', async () => this.deleteObjects(c));
          break;
        default:
          break;
      }
      throw new S3Error('NotImplemented', `${method} on a bucket is not supported by the embedded store.`);
    }
    switch (method) {
      case 'PUT':
        if (req.headers['x-amz-copy-source'])
          throw new S3Error('NotImplemented', 'CopyObject is not supported by the embedded store.');
        if (has('uploadId') || has('partNumber'))
          return op('upload parts of', 'put', key, async () => this.uploadPart(c));
        return op('write', 'put', key, async () => this.putObject(c));
      case 'POST':
        if (has('uploads')) return op('write', 'put', key, async () => this.createUpload(c));
        if (has('uploadId')) return op('write', 'put', key, async () => this.completeUpload(c));
        break;
      case 'GET':
        if (has('uploadId')) return op('list parts of', 'put', key, async () => this.listParts(c));
        return op('read', 'get', key, async () => this.getObject(c, false));
      case 'HEAD':
        return op('read', 'get', key, async () => this.getObject(c, true));
      case 'DELETE':
        if (has('uploadId')) return op('abort uploads of', 'put', key, async () => this.abortUpload(c));
        return op('delete', 'delete', key, async () => this.deleteObject(c));
      default:
        break;
    }
    throw new S3Error(
      'NotImplemented',
      `${method} with these parameters is not supported by the embedded store.`,
    );
  }

  // --- objects ---

  private async putObject(c: Context): Promise<void> {
    const staged = await this.receiveBody(c);
    const info = await this.options.store.putObject(c.key, staged, contentTypeOf(c.req), this.now());
    c.res.writeHead(200, { etag: info.etag, ...staged.checksumHeader }).end();
  }

  private async getObject(c: Context, headOnly: boolean): Promise<void> {
    const current = this.options.store.head(c.key);
    if (!current) throw new S3Error('NoSuchKey', 'The specified key does not exist.');
    const range = parseRange(str(c.req.headers.range), current.size);
    const result = headOnly
      ? { info: current, body: undefined }
      : await this.options.store.read(c.key, range);
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
      this.options.logger.debug({ err: error, key: c.key }, 'object read ended early');
      c.res.destroy();
    });
  }

  private async deleteObject(c: Context): Promise<void> {
    this.options.store.deleteObject(c.key);
    c.res.writeHead(204).end();
  }

  private async deleteObjects(c: Context): Promise<void> {
    const { keys, quiet } = xml.parseDeleteObjects(await this.readSmallBody(c));
    const deleted: string[] = [];
    const errors: { key: string; error: S3Error }[] = [];
    for (const key of keys) {
      if (!allows(c.claims, 'delete', key)) {
        errors.push({
          key,
          error: new S3Error('AccessDenied', 'These credentials may not delete this key.'),
        });
        continue;
      }
      this.options.store.deleteObject(key);
      deleted.push(key);
    }
    this.sendXml(c.res, 200, xml.deleteResultXml(deleted, errors, quiet));
  }

  private async listObjects(c: Context, prefix: string): Promise<void> {
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
    const result = listPage(this.options.store.iterate(prefix, after), prefix, delimiter, maxKeys);
    this.sendXml(
      c.res,
      200,
      xml.listObjectsXml({
        version,
        bucket: this.options.bucket,
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

  // --- multipart ---

  private async createUpload(c: Context): Promise<void> {
    const uploadId = this.options.store.createUpload(c.key, contentTypeOf(c.req), this.now());
    this.sendXml(c.res, 200, xml.initiateUploadXml(this.options.bucket, c.key, uploadId));
  }

  private async uploadPart(c: Context): Promise<void> {
    const uploadId = str(c.query.uploadId);
    const partNumber = Number(str(c.query.partNumber));
    if (!uploadId || !Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS) {
      throw new S3Error(
        'InvalidArgument',
        `Part number must be an integer between 1 and ${MAX_PARTS}, with an uploadId.`,
      );
    }
    this.uploadFor(uploadId, c.key);
    const staged = await this.receiveBody(c);
    const part = await this.options.store.putPart(uploadId, partNumber, staged, this.now());
    if (!part)
      throw new S3Error(
        'NoSuchUpload',
        'The specified multipart upload does not exist (it was completed or aborted).',
      );
    c.res.writeHead(200, { etag: part.etag, ...staged.checksumHeader }).end();
  }

  private async completeUpload(c: Context): Promise<void> {
    const uploadId = str(c.query.uploadId)!;
    this.uploadFor(uploadId, c.key);
    const requested = xml.parseCompleteUpload(await this.readSmallBody(c));
    const stored = new Map(this.options.store.parts(uploadId).map((p) => [p.part_number, p]));
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
      if (part.size < (this.options.minPartSize ?? MIN_PART_SIZE)) {
        throw new S3Error(
          'EntityTooSmall',
          `Part ${part.part_number} is smaller than the minimum part size of ${(this.options.minPartSize ?? MIN_PART_SIZE) / 1024 / 1024} MiB.`,
        );
      }
    });
    const md5s = Buffer.concat(chosen.map((p) => Buffer.from(p.etag.slice(1, -1), 'hex')));
    const etag = `"${createHash('md5').update(md5s).digest('hex')}-${chosen.length}"`;
    const info = this.options.store.completeUpload(uploadId, chosen, etag, this.now());
    if (!info) throw new S3Error('NoSuchUpload', 'The specified multipart upload does not exist.');
    const location = `http://${c.req.headers.host ?? 'localhost'}/${this.options.bucket}/${c.key}`;
    this.sendXml(c.res, 200, xml.completeUploadXml(location, this.options.bucket, c.key, info.etag));
  }

  private async abortUpload(c: Context): Promise<void> {
    const uploadId = str(c.query.uploadId)!;
    this.uploadFor(uploadId, c.key);
    await this.options.store.abortUpload(uploadId);
    c.res.writeHead(204).end();
  }

  private async listParts(c: Context): Promise<void> {
    const uploadId = str(c.query.uploadId)!;
    const upload = this.uploadFor(uploadId, c.key);
    const marker = Number(str(c.query['part-number-marker']) ?? 0) || 0;
    const maxParts = Math.min(1000, Number(str(c.query['max-parts']) ?? 1000) || 1000);
    const parts = this.options.store.parts(uploadId, marker, maxParts + 1);
    const truncated = parts.length > maxParts;
    this.sendXml(
      c.res,
      200,
      xml.listPartsXml({
        bucket: this.options.bucket,
        upload,
        marker,
        maxParts,
        parts: parts.slice(0, maxParts),
        truncated,
      }),
    );
  }

  private uploadFor(uploadId: string, key: string) {
    const upload = this.options.store.upload(uploadId);
    if (!upload || upload.key !== key) {
      throw new S3Error(
        'NoSuchUpload',
        'The specified multipart upload does not exist (it was completed or aborted).',
      );
    }
    return upload;
  }

  // --- bodies ---

  /**
   * Streams a PUT body to a temporary file through the aws-chunked decoder (if any) and the digests, then
   * checks everything the client declared: size, payload hash, Content-MD5 and the additional checksum.
   */
  private async receiveBody(c: Context): Promise<StagedBlob & { checksumHeader: Record<string, string> }> {
    const { req, auth } = c;
    const mode = auth.payloadHash;
    const chunked = mode.startsWith('STREAMING-');
    const declared = str(
      chunked ? req.headers['x-amz-decoded-content-length'] : req.headers['content-length'],
    );
    if (declared === undefined || !/^\d+$/.test(declared)) {
      throw new S3Error(
        'MissingContentLength',
        chunked
          ? 'An aws-chunked upload needs x-amz-decoded-content-length.'
          : 'You must provide the Content-Length HTTP header.',
      );
    }
    const size = Number(declared);
    if (size > MAX_PUT_SIZE)
      throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size of 5 GiB.');
    let decoder: AwsChunkedDecoder | undefined;
    if (chunked) {
      if (mode === 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') decoder = new AwsChunkedDecoder(undefined);
      else if (
        mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' ||
        mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'
      ) {
        decoder = new AwsChunkedDecoder({
          context: c.signature,
          seedSignature: auth.signature,
          signedTrailer: mode.endsWith('-TRAILER'),
        });
      } else
        throw new S3Error(
          'InvalidArgument',
          `x-amz-content-sha256 "${mode}" is not a supported payload mode.`,
        );
    } else if (mode !== UNSIGNED_PAYLOAD && !/^[0-9a-f]{64}$/.test(mode)) {
      throw new S3Error(
        'InvalidArgument',
        'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING- mode or a hex SHA-256.',
      );
    }
    const checksum = announcedChecksum(req.headers);
    if (checksum && checksum.value === undefined && !decoder) {
      throw new S3Error('InvalidRequest', 'x-amz-trailer needs an aws-chunked body.');
    }
    const hexHash = !chunked && mode !== UNSIGNED_PAYLOAD;
    const digests = new BodyDigests({ sha256: hexHash, checksum: checksum?.algorithm });
    const tmpPath = this.options.store.tmpPath();
    try {
      const out = createWriteStream(tmpPath);
      await (decoder ? pipeline(req, decoder, digests, out) : pipeline(req, digests, out));
      const { md5Hex, sha256Hex, checksum: computed } = digests.digests();
      if (digests.bytes !== size) {
        throw new S3Error(
          'IncompleteBody',
          `You provided ${digests.bytes} bytes of the ${size} bytes declared.`,
        );
      }
      if (hexHash && sha256Hex !== mode) {
        throw new S3Error(
          'XAmzContentSHA256Mismatch',
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
      }
      const contentMd5 = str(req.headers['content-md5']);
      if (contentMd5 !== undefined && Buffer.from(md5Hex, 'hex').toString('base64') !== contentMd5) {
        throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
      }
      const checksumHeader: Record<string, string> = {};
      if (checksum) {
        const name = `x-amz-checksum-${checksum.algorithm}`;
        const given = checksum.value ?? decoder?.trailers[name];
        if (given === undefined)
          throw new S3Error('InvalidRequest', `The trailer ${name} was announced but not sent.`);
        if (given !== computed) {
          throw new S3Error(
            'BadDigest',
            `The ${checksum.algorithm.toUpperCase()} you specified did not match the calculated checksum.`,
          );
        }
        checksumHeader[name] = given;
      }
      return { tmpPath, size, md5Hex, checksumHeader };
    } catch (error) {
      await unlink(tmpPath).catch(() => {});
      throw error;
    }
  }

  /** Reads a small XML body, checking its declared payload hash. */
  private async readSmallBody(c: Context): Promise<string> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of c.req as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_XML_BODY) throw new S3Error('InvalidRequest', 'The request body is too large.');
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks);
    const mode = c.auth.payloadHash;
    if (/^[0-9a-f]{64}$/.test(mode) && createHash('sha256').update(body).digest('hex') !== mode) {
      throw new S3Error(
        'XAmzContentSHA256Mismatch',
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
      );
    }
    if (mode.startsWith('STREAMING-'))
      throw new S3Error('InvalidRequest', 'This request does not accept an aws-chunked body.');
    return body.toString('utf8');
  }

  // --- responses ---

  private sendXml(res: ServerResponse, status: number, body: string): void {
    res
      .writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) })
      .end(body);
  }

  private fail(
    req: IncomingMessage,
    res: ServerResponse,
    error: unknown,
    resource: string,
    requestId: string,
  ): void {
    if (!(error instanceof S3Error) && (req.destroyed || res.destroyed) && !req.complete) {
      // The client went away mid-request (killed upload, closed connection): not a server fault.
      this.options.logger.info({ requestId, method: req.method, resource }, 'client aborted the request');
      res.destroy();
      return;
    }
    const s3Error =
      error instanceof S3Error
        ? error
        : new S3Error('InternalError', 'We encountered an internal error. Please try again.');
    if (s3Error.code === 'InternalError')
      this.options.logger.error({ err: error, requestId }, 'storage request failed');
    else
      this.options.logger.info(
        { code: s3Error.code, reason: s3Error.message, requestId, method: req.method },
        'storage request refused',
      );
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A body we did not read (or stopped reading) cannot be drained safely: close the connection after answering.
    const bodyPending = !req.complete;
    if (bodyPending) res.setHeader('connection', 'close');
    if (req.method === 'HEAD') {
      res.writeHead(s3Error.status).end();
    } else {
      const body = errorXml(s3Error, resource, requestId);
      res
        .writeHead(s3Error.status, {
          'content-type': 'application/xml',
          'content-length': Buffer.byteLength(body),
        })
        .end(body);
    }
    if (bodyPending) res.once('finish', () => req.destroy());
  }
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

function tokenError(problem: string, token: string | undefined): S3Error {
  if (!token)
    return new S3Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records (temporary credentials need their session token).',
    );
  if (problem === 'expired') return new S3Error('ExpiredToken', 'The provided token has expired.');
  if (problem === 'wrong-key')
    return new S3Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not match the session token.',
    );
  return new S3Error('InvalidToken', 'The provided token is malformed or otherwise invalid.');
}

function contentTypeOf(req: IncomingMessage): string {
  return str(req.headers['content-type']) ?? 'binary/octet-stream';
}

function str(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
