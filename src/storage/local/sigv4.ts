/**
 * AWS Signature Version 4 verification for the embedded S3 endpoint: header auth
 * (`Authorization: AWS4-HMAC-SHA256 …`) and presigned query auth (`X-Amz-Signature=…`), plus the
 * chained signatures of `aws-chunked` bodies. The same endpoint answers STS `AssumeRole` (sts.ts), signed
 * with service `sts` instead of `s3`: the service is part of the parsed credential scope.
 *
 * The signing math (canonical request, string to sign, signing key, HMAC) is @smithy/signature-v4's, the
 * library the AWS SDK signs with. What it does not do is written here: parsing what the client sent,
 * rebuilding the request exactly as the client signed it (only its signed headers, its date, the path
 * decoded once and re-encoded per segment), checking scope, clock skew and expiry.
 */
import { Hash } from '@smithy/hash-node';
import { getCanonicalHeaders, SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { S3Error } from './s3-errors.ts';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** Largest clock difference accepted for header-signed requests (S3's own limit). */
export const MAX_SKEW_SECONDS = 15 * 60;
const MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600;
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The signing services the endpoint accepts: S3 requests, and STS AssumeRole (sts.ts). */
export type SigningService = 's3' | 'sts';

export interface ParsedAuth {
  kind: 'header' | 'query';
  /** The service of the credential scope. */
  service: SigningService;
  accessKeyId: string;
  /** yyyymmdd of the credential scope. */
  shortDate: string;
  region: string;
  /** The request time the client signed, yyyymmddThhmmssZ. */
  longDate: string;
  signedHeaders: string[];
  signature: string;
  sessionToken: string | undefined;
  /**
   * The x-amz-content-sha256 the client signed (UNSIGNED-PAYLOAD for presigned URLs). For `sts`, '' when
   * the client sent none (AWS STS does not require it): the STS handler hashes the body itself.
   */
  payloadHash: string;
}

/** An incoming request as the verifier needs it: raw path and query exactly as received. */
export interface IncomingRequestParts {
  method: string;
  rawPath: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string | string[] | undefined>;
}

export function scopeOf(auth: ParsedAuth): string {
  return `${auth.shortDate}/${auth.region}/${auth.service}/aws4_request`;
}

/**
 * Reads the signature parameters from the Authorization header or the query; S3Error when malformed.
 * The credential scope must name `service` (S3 requests: `s3`).
 */
export function parseAuth(
  request: IncomingRequestParts,
  region: string,
  nowMs: number,
  service: SigningService = 's3',
): ParsedAuth | undefined {
  const header = single(request.headers.authorization);
  const query = request.query;
  let auth: ParsedAuth;
  if (header) {
    const match =
      /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-f]{64})\s*$/.exec(
        header,
      );
    if (!match) {
      throw new S3Error(
        'AuthorizationHeaderMalformed',
        header.startsWith('AWS ')
          ? 'Signature Version 2 is not supported; use AWS Signature Version 4.'
          : 'The authorization header is malformed.',
      );
    }
    const longDate = single(request.headers['x-amz-date']);
    if (!longDate)
      throw new S3Error('AccessDenied', 'AWS authentication requires a valid x-amz-date header.');
    const payloadHash = single(request.headers['x-amz-content-sha256']);
    if (!payloadHash && service === 's3')
      throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256.');
    auth = {
      kind: 'header',
      service,
      ...parseCredential(match[1]!, 'AuthorizationHeaderMalformed', service),
      longDate,
      signedHeaders: match[2]!.split(';'),
      signature: match[3]!,
      sessionToken: single(request.headers['x-amz-security-token']),
      payloadHash: payloadHash ?? '',
    };
  } else if (query['X-Amz-Algorithm'] !== undefined || query['X-Amz-Signature'] !== undefined) {
    const param = (name: string) => {
      const value = query[name];
      if (typeof value !== 'string' || value === '') {
        throw new S3Error(
          'AuthorizationQueryParametersError',
          `Query-string authentication requires ${name}.`,
        );
      }
      return value;
    };
    if (param('X-Amz-Algorithm') !== ALGORITHM) {
      throw new S3Error(
        'AuthorizationQueryParametersError',
        'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256".',
      );
    }
    const expires = Number(param('X-Amz-Expires'));
    if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGNED_EXPIRES) {
      throw new S3Error(
        'AuthorizationQueryParametersError',
        'X-Amz-Expires must be between 1 and 604800 seconds.',
      );
    }
    auth = {
      kind: 'query',
      service,
      ...parseCredential(param('X-Amz-Credential'), 'AuthorizationQueryParametersError', service),
      longDate: param('X-Amz-Date'),
      signedHeaders: param('X-Amz-SignedHeaders').split(';'),
      signature: param('X-Amz-Signature'),
      sessionToken:
        typeof query['X-Amz-Security-Token'] === 'string' ? query['X-Amz-Security-Token'] : undefined,
      payloadHash:
        typeof query['X-Amz-Content-Sha256'] === 'string' ? query['X-Amz-Content-Sha256'] : UNSIGNED_PAYLOAD,
    };
    const signedAt = parseAmzDate(auth.longDate);
    if (signedAt + expires * 1000 < nowMs)
      throw new S3Error('AccessDenied', 'Request has expired', {
        Expires: new Date(signedAt + expires * 1000).toISOString(),
      });
  } else {
    return undefined;
  }

  if (!auth.signedHeaders.includes('host')) {
    throw new S3Error('AccessDenied', 'The host header must be signed.');
  }
  const signedAt = parseAmzDate(auth.longDate);
  if (auth.longDate.slice(0, 8) !== auth.shortDate) {
    throw new S3Error('SignatureDoesNotMatch', 'The credential date does not match the request date.');
  }
  if (auth.region !== region) {
    throw new S3Error(
      auth.kind === 'header' ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError',
      `The authorization region '${auth.region}' is wrong; expecting '${region}'.`,
      { Region: region },
    );
  }
  if (auth.kind === 'header' && Math.abs(nowMs - signedAt) > MAX_SKEW_SECONDS * 1000) {
    throw new S3Error(
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
      {
        RequestTime: auth.longDate,
        ServerTime: new Date(nowMs).toISOString(),
        MaxAllowedSkewMilliseconds: String(MAX_SKEW_SECONDS * 1000),
      },
    );
  }
  return auth;
}

function parseCredential(
  credential: string,
  errorCode: 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError',
  service: SigningService,
): Pick<ParsedAuth, 'accessKeyId' | 'shortDate' | 'region'> {
  const parts = credential.split('/');
  if (
    parts.length !== 5 ||
    parts[3] !== service ||
    parts[4] !== 'aws4_request' ||
    !/^\d{8}$/.test(parts[1]!)
  ) {
    throw new S3Error(
      errorCode,
      `The credential "${credential}" is malformed; expected "<key>/<yyyymmdd>/<region>/${service}/aws4_request".`,
    );
  }
  return { accessKeyId: parts[0]!, shortDate: parts[1]!, region: parts[2]! };
}

/** Epoch ms of an ISO 8601 basic timestamp (yyyymmddThhmmssZ). */
export function parseAmzDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) throw new S3Error('AccessDenied', `X-Amz-Date "${value}" is not of the form yyyymmddThhmmssZ.`);
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

export class Sha256 extends Hash {
  constructor(secret?: Parameters<typeof Hash.prototype.update>[0]) {
    super('sha256', secret as never);
  }
}

/** smithy's signer, opened up to sign a canonical request we rebuilt and the strings of aws-chunked bodies. */
class Signer extends SignatureV4 {
  async requestSignature(
    request: HttpRequest,
    payloadHash: string,
    longDate: string,
    scope: string,
  ): Promise<string> {
    const canonicalHeaders = getCanonicalHeaders(request, undefined, new Set(Object.keys(request.headers)));
    const canonicalRequest = this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    const stringToSign = await this.createStringToSign(longDate, scope, canonicalRequest, ALGORITHM);
    return this.sign(stringToSign, { signingDate: new Date(parseAmzDate(longDate)) });
  }
}

export class SignatureContext {
  private readonly signer: Signer;

  constructor(
    private readonly auth: ParsedAuth,
    secretAccessKey: string,
  ) {
    this.signer = new Signer({
      credentials: { accessKeyId: auth.accessKeyId, secretAccessKey },
      region: auth.region,
      service: auth.service,
      sha256: Sha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  /** The signature the client should have sent for this request. */
  expectedRequestSignature(request: IncomingRequestParts): Promise<string> {
    const headers: Record<string, string> = {};
    for (const name of this.auth.signedHeaders) headers[name] = joinHeader(request.headers[name]);
    const query = { ...request.query };
    delete query['X-Amz-Signature'];
    const rebuilt = {
      method: request.method,
      protocol: 'http:',
      hostname: headers.host ?? '',
      path: canonicalPath(request.rawPath),
      query,
      headers,
    } as HttpRequest;
    return this.signer.requestSignature(
      rebuilt,
      this.auth.payloadHash,
      this.auth.longDate,
      scopeOf(this.auth),
    );
  }

  /** Signature of one aws-chunked chunk, chained from the previous one (seed = the request signature). */
  chunkSignature(previousSignature: string, chunkSha256Hex: string): Promise<string> {
    return this.signString(
      [
        'AWS4-HMAC-SHA256-PAYLOAD',
        this.auth.longDate,
        scopeOf(this.auth),
        previousSignature,
        EMPTY_SHA256,
        chunkSha256Hex,
      ].join('\n'),
    );
  }

  /** Signature of the trailing headers of a signed aws-chunked body. */
  trailerSignature(previousSignature: string, trailerSha256Hex: string): Promise<string> {
    return this.signString(
      [
        'AWS4-HMAC-SHA256-TRAILER',
        this.auth.longDate,
        scopeOf(this.auth),
        previousSignature,
        trailerSha256Hex,
      ].join('\n'),
    );
  }

  private signString(stringToSign: string): Promise<string> {
    return this.signer.sign(stringToSign, { signingDate: new Date(parseAmzDate(this.auth.longDate)) });
  }
}

/**
 * The canonical URI of S3: the path as received, decoded once and re-encoded per segment with the
 * RFC 3986 unreserved set. No normalisation: `//`, `.` and `..` stay as they are (S3 does not collapse them).
 */
export function canonicalPath(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => uriEncode(safeDecode(segment)))
    .join('/');
}

export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new S3Error('InvalidArgument', 'The request path or query is not valid percent-encoding.');
  }
}

/** Query parameters decoded once, without turning '+' into a space (S3 clients encode spaces as %20). */
export function parseQuery(rawQuery: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  if (!rawQuery) return query;
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = safeDecode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : safeDecode(pair.slice(eq + 1));
    const existing = query[key];
    if (existing === undefined) query[key] = value;
    else query[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function joinHeader(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}
