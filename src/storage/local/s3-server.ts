/**
 * The embedded S3-compatible endpoint (provider `local`, announced to devices as `minio`): path-style
 * requests to one bucket, authenticated with the temporary credentials of credentials.ts and AWS
 * Signature V4, or Aliyun's OSS Signature V4 (oss-auth.ts), so that clients written with Aliyun's SDK,
 * and the `ali` provider's tests, run against it too: the object operations are the same in both
 * dialects. Written on node:http rather than a framework because S3 needs what frameworks hide:
 * the raw request target for signature checks, the body as a stream (aws-chunked, trailers, gigabytes),
 * and `Expect: 100-continue` answered only after the signature is verified. No maintained embeddable S3
 * server exists for Node (s3rver stores aws-chunked framing inside objects, see docs/protocol.md §13.3).
 *
 * This file is the HTTP front only: it answers CORS (s3-cors.ts), hands `POST /` to STS (sts.ts for
 * AWS-signed requests, aliyun-sts.ts for Aliyun's RPC), authenticates (s3-auth.ts), picks the operation
 * from method, path and query with what it needs the credentials to allow, and renders errors. The
 * operations are in s3-objects.ts, s3-multipart.ts and s3-bucket.ts.
 *
 * What each operation needs, for scoped credentials (action letters) and session policies (IAM, as AWS
 * and MinIO map them; resource `arn:aws:s3:::<bucket>[/<key>]`; RAM policies are translated to these by
 * ram-policy.ts):
 *
 * | operation                                               | scoped   | IAM action                              |
 * | ------------------------------------------------------- | -------- | --------------------------------------- |
 * | PutObject, CreateMultipartUpload, UploadPart, Complete… | put key  | s3:PutObject on the object              |
 * | AbortMultipartUpload                                    | put key  | s3:AbortMultipartUpload on the object   |
 * | ListParts                                               | put key  | s3:ListMultipartUploadParts on the object |
 * | GetObject, HeadObject                                   | get key  | s3:GetObject on the object              |
 * | DeleteObject; DeleteObjects (each key)                  | delete   | s3:DeleteObject on the object           |
 * | ListObjects (V1, V2)                                    | list     | s3:ListBucket on the bucket, s3:prefix = the prefix parameter ('' if none) |
 * | HeadBucket                                              | any      | s3:ListBucket on the bucket (no s3:prefix) |
 * | GetBucketLocation                                       | any      | s3:GetBucketLocation on the bucket      |
 * | ListMultipartUploads                                    | put      | s3:ListBucketMultipartUploads on the bucket |
 * | ListBuckets                                             | any      | s3:ListAllMyBuckets on arn:aws:s3:::*, or s3:ListBucket / s3:GetBucketLocation on the bucket (MinIO lists the buckets either allows) |
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { objectKeyProblem } from '../object-key.ts';
import { AliyunSts, isAliyunRpc } from './aliyun-sts.ts';
import { MIN_PART_SIZE } from './object-store.ts';
import type { IamRequest, S3Action } from './iam-policy.ts';
import { authenticate, authorize, dialectOf, type Permission, s3Arn } from './s3-auth.ts';
import { getBucketLocation, headBucket, listBuckets, listObjects } from './s3-bucket.ts';
import { handleCors } from './s3-cors.ts';
import { errorXml, S3Error } from './s3-errors.ts';
import {
  abortUpload,
  completeUpload,
  createUpload,
  listParts,
  listUploads,
  uploadPart,
} from './s3-multipart.ts';
import { deleteObject, deleteObjects, getObject, putObject } from './s3-objects.ts';
import { type EndpointSettings, type S3Context, type S3EndpointOptions, str } from './s3-request.ts';
import { type IncomingRequestParts, parseQuery, safeDecode } from './sigv4.ts';
import { handleSts, type StsSettings } from './sts.ts';

export { MAX_PUT_SIZE } from './s3-body.ts';
export { parseRange } from './s3-objects.ts';
export type { S3EndpointOptions } from './s3-request.ts';

interface Operation extends Permission {
  run: () => Promise<void>;
}

export class S3Endpoint {
  private readonly endpoint: EndpointSettings;
  private readonly sts: StsSettings;
  private readonly aliyunSts: AliyunSts;

  constructor(private readonly options: S3EndpointOptions) {
    const now = options.now ?? Date.now;
    this.sts = {
      authority: options.authority,
      root: options.rootCredentials,
      region: options.region,
      logger: options.logger,
      now,
    };
    this.aliyunSts = new AliyunSts(this.sts);
    this.endpoint = {
      store: options.store,
      bucket: options.bucket,
      region: options.region,
      logger: options.logger,
      now,
      created: now(),
      minPartSize: options.minPartSize ?? MIN_PART_SIZE,
    };
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
    if (handleCors(req, res)) return;
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
      // S3 has no POST on the service root: there, MinIO (and so the embedded store) serves STS. Aliyun's
      // RPC carries no AWS signature (it signs inside its parameters): that is Aliyun's STS.
      if (parts.method === 'POST' && resource === '/') {
        if (isAliyunRpc(parts)) await this.aliyunSts.handle(req, res, parts, requestId, expectContinue);
        else await handleSts(this.sts, req, res, parts, requestId, expectContinue);
        return;
      }
      // ali-oss names the request of a failed call by this header (it is all a HEAD error carries).
      if (dialectOf(parts) === 'oss') res.setHeader('x-oss-request-id', requestId);
      const { dialect, auth, signature, principal } = await authenticate(
        parts,
        this.options.authority,
        this.options.rootCredentials,
        this.options.region,
        this.endpoint.now,
      );
      const slash = resource.indexOf('/', 1);
      const bucket = slash === -1 ? resource.slice(1) : resource.slice(1, slash);
      const key = slash === -1 ? '' : resource.slice(slash + 1);
      if (bucket !== '' && bucket !== this.options.bucket) {
        throw new S3Error(
          'NoSuchBucket',
          `The bucket "${bucket}" does not exist; this endpoint serves "${this.options.bucket}".`,
        );
      }
      const context: S3Context = {
        endpoint: this.endpoint,
        req,
        res,
        query,
        key,
        dialect,
        auth,
        signature,
        principal,
      };
      const operation = this.operation(context, bucket);
      authorize(principal, operation);
      if (expectContinue) res.writeContinue();
      await operation.run();
    } catch (error) {
      this.fail(req, res, error, resource, requestId);
    }
  }

  private operation(c: S3Context, bucket: string): Operation {
    const { req, query, key } = c;
    const method = req.method ?? 'GET';
    const has = (name: string) => query[name] !== undefined;
    const op = (
      name: string,
      action: Operation['action'],
      target: string,
      iam: IamRequest[] | undefined,
      run: () => Promise<void>,
    ): Operation => ({ name, action, target, iam, run });
    const served = this.options.bucket;
    const onBucket = (iamAction: S3Action, prefix?: string): IamRequest[] => [
      { action: iamAction, resource: s3Arn(served), prefix },
    ];
    const onObject = (iamAction: S3Action): IamRequest[] => [
      { action: iamAction, resource: s3Arn(served, key) },
    ];
    if (bucket === '') {
      if (method === 'GET') {
        const iam: IamRequest[] = [
          { action: 's3:ListAllMyBuckets', resource: 'arn:aws:s3:::*' },
          ...onBucket('s3:ListBucket'),
          ...onBucket('s3:GetBucketLocation'),
        ];
        return op('ListBuckets', 'any', '', iam, async () => listBuckets(c));
      }
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
    if (key === '') {
      // The store answers CORS itself (s3-cors.ts) and keeps no bucket rules. Said plainly, rather than
      // a listing for GetBucketCors and "already exists" for PutBucketCors.
      if (has('cors'))
        throw new S3Error(
          'NotImplemented',
          'The embedded store answers CORS itself and keeps no bucket CORS rules.',
        );
      const prefix = str(query.prefix) ?? '';
      switch (method) {
        case 'GET':
          if (has('location'))
            return op('GetBucketLocation', 'any', '', onBucket('s3:GetBucketLocation'), async () =>
              getBucketLocation(c),
            );
          if (has('uploads'))
            return op(
              'ListMultipartUploads',
              'put',
              prefix,
              onBucket('s3:ListBucketMultipartUploads'),
              async () => listUploads(c, prefix),
            );
          return op('list', 'list', prefix, onBucket('s3:ListBucket', prefix), async () =>
            listObjects(c, prefix),
          );
        case 'HEAD':
          return op('HeadBucket', 'any', '', onBucket('s3:ListBucket'), async () => headBucket(c));
        case 'PUT':
          throw new S3Error('BucketAlreadyOwnedByYou', `The bucket "${bucket}" already exists and is yours.`);
        case 'POST':
          // Each key of the body is checked by deleteObjects itself.
          if (has('delete')) return op('DeleteObjects', 'any', '', undefined, async () => deleteObjects(c));
          break;
        default:
          break;
      }
      throw new S3Error('NotImplemented', `${method} on a bucket is not supported by the embedded store.`);
    }
    // Every write checks its key (object-key.ts); reads and deletes take keys literally, so a key that
    // cannot be written names no object, and one stored before the rule can still be read and removed.
    switch (method) {
      case 'PUT':
        if (req.headers['x-amz-copy-source'])
          throw new S3Error('NotImplemented', 'CopyObject is not supported by the embedded store.');
        writableKey(key);
        if (has('uploadId') || has('partNumber'))
          return op('upload parts of', 'put', key, onObject('s3:PutObject'), async () => uploadPart(c));
        return op('write', 'put', key, onObject('s3:PutObject'), async () => putObject(c));
      case 'POST':
        if (has('uploads') || has('uploadId')) writableKey(key);
        if (has('uploads'))
          return op('write', 'put', key, onObject('s3:PutObject'), async () => createUpload(c));
        if (has('uploadId'))
          return op('write', 'put', key, onObject('s3:PutObject'), async () => completeUpload(c));
        break;
      case 'GET':
        if (has('uploadId'))
          return op('list parts of', 'put', key, onObject('s3:ListMultipartUploadParts'), async () =>
            listParts(c),
          );
        return op('read', 'get', key, onObject('s3:GetObject'), async () => getObject(c, false));
      case 'HEAD':
        return op('read', 'get', key, onObject('s3:GetObject'), async () => getObject(c, true));
      case 'DELETE':
        if (has('uploadId'))
          return op('abort uploads of', 'put', key, onObject('s3:AbortMultipartUpload'), async () =>
            abortUpload(c),
          );
        return op('delete', 'delete', key, onObject('s3:DeleteObject'), async () => deleteObject(c));
      default:
        break;
    }
    throw new S3Error(
      'NotImplemented',
      `${method} with these parameters is not supported by the embedded store.`,
    );
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

/** Refuses a key no object may have, as MinIO does (S3's KeyTooLongError past 1,024 bytes). */
function writableKey(key: string): void {
  const problem = objectKeyProblem(key);
  if (!problem) return;
  if (problem.kind === 'too-long')
    throw new S3Error('KeyTooLongError', `Your key is too long. ${problem.message}`);
  throw new S3Error(
    'XMinioInvalidObjectName',
    `Object name contains unsupported characters. ${problem.message}`,
  );
}
