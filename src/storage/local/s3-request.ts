/**
 * What the S3 operation handlers share: the context s3-server.ts hands each one once the request is
 * authenticated, and the few response helpers they all use. Handlers are plain functions of this context,
 * one module per group of operations, so none of them depends on the HTTP server or on the others.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/logger.ts';
import type { CredentialAuthority, RootCredentials } from './credentials.ts';
import type { ObjectStore } from './object-store.ts';
import type { OssAuth } from './oss-auth.ts';
import type { Dialect, Principal } from './s3-auth.ts';
import type { ParsedAuth, SignatureContext } from './sigv4.ts';

export interface S3EndpointOptions {
  store: ObjectStore;
  authority: CredentialAuthority;
  /** The store's long-term credentials (all rights, and STS AssumeRole); undefined = none accepted. */
  rootCredentials?: RootCredentials | undefined;
  bucket: string;
  region: string;
  logger: Logger;
  now?: () => number;
  /** Smallest part but the last of a multipart upload; S3's 5 MiB unless a benchmark lowers it. */
  minPartSize?: number;
}

/** The endpoint's settings as the handlers read them, defaults resolved once. */
export interface EndpointSettings {
  store: ObjectStore;
  bucket: string;
  region: string;
  logger: Logger;
  now: () => number;
  /** When the endpoint was created: the bucket's creation date in ListBuckets. */
  created: number;
  minPartSize: number;
}

export type Query = Record<string, string | string[]>;

/** One authenticated request, as a handler sees it. */
export interface S3Context {
  endpoint: EndpointSettings;
  req: IncomingMessage;
  res: ServerResponse;
  query: Query;
  key: string;
  /** How the request was signed: AWS SigV4 (sigv4.ts) or OSS V4 (oss-auth.ts). */
  dialect: Dialect;
  /** The verified signature parameters (`aws`: ParsedAuth, `oss`: OssAuth). */
  auth: ParsedAuth | OssAuth;
  /** AWS only: the request's SigV4 context, from which aws-chunked bodies chain their signatures. */
  signature: SignatureContext | undefined;
  principal: Principal;
}

export function sendXml(res: ServerResponse, status: number, body: string): void {
  res
    .writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) })
    .end(body);
}

export function contentTypeOf(req: IncomingMessage): string {
  return str(req.headers['content-type']) ?? 'binary/octet-stream';
}

export function str(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
