/**
 * Aliyun OSS Signature V4 verification for the embedded endpoint, so that clients written with Aliyun's
 * SDKs (`ali-oss` with `authorizationV4: true`, which the `ali` storage provider uses) can be run against
 * it: header auth (`Authorization: OSS4-HMAC-SHA256 Credential=…,AdditionalHeaders=…,Signature=…`) and
 * presigned query auth (`x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=…&x-oss-signature=…`).
 * s3-auth.ts picks this verifier or sigv4.ts's by the shape of the request; the credentials, principals
 * and policies behind them are the same.
 *
 * Written here because ali-oss signs but has no verifier, and no other package checks OSS V4. The rules
 * are those of Aliyun's signers (ali-oss lib/common/signUtils.js, the Go SDK v2 oss/signer/v4.go), pinned
 * by Aliyun's published vectors in test/unit/oss-signature.test.ts:
 *
 * - canonical request = method, canonical URI (`/<bucket>/<key>`, always with the bucket whatever the
 *   addressing, RFC 3986-encoded but for `/`), canonical query (sorted by encoded name; a parameter
 *   without a value is its name alone; `x-oss-signature` left out), canonical headers (`content-type`,
 *   `content-md5`, every `x-oss-*` header and the additional headers, `name:trimmed value\n` each,
 *   sorted), the additional header names joined by `;`, and the payload hash (`x-oss-content-sha256`, or
 *   `UNSIGNED-PAYLOAD`), joined by `\n`;
 * - string to sign = `OSS4-HMAC-SHA256\n<x-oss-date>\n<yyyymmdd>/<region>/oss/aliyun_v4_request\n` +
 *   hex SHA-256 of the canonical request;
 * - signing key = HMAC-SHA256 chained from the key `"aliyun_v4" + secret` over the date, the region,
 *   `oss` and `aliyun_v4_request`; the signature is the hex HMAC of the string to sign with it.
 *
 * `Host` is not signed (unless named in AdditionalHeaders), and ali-oss rewrites it to
 * `<bucket>.oss-<region>.aliyuncs.com` for an IP endpoint: the bucket is always taken from the path.
 * Clock skew (15 minutes, header auth) and presigned expiry are checked as sigv4.ts checks them, and the
 * scope must name the store's region, as OSS scopes name it: `cn-hangzhou`, never `oss-cn-hangzhou`.
 * OSS Signature V1 (`Authorization: OSS <key>:<signature>`) is refused: Aliyun itself no longer accepts it
 * for new buckets.
 */
import { createHash, createHmac } from 'node:crypto';
import { S3Error } from './s3-errors.ts';
import { type IncomingRequestParts, MAX_SKEW_SECONDS, safeDecode, UNSIGNED_PAYLOAD } from './sigv4.ts';

export const OSS_ALGORITHM = 'OSS4-HMAC-SHA256';
const PRODUCT = 'oss';
const TERMINATOR = 'aliyun_v4_request';
/** OSS's limit on x-oss-expires, as S3's on X-Amz-Expires: 7 days. */
const MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600;

export interface OssAuth {
  kind: 'header' | 'query';
  accessKeyId: string;
  /** yyyymmdd of the credential scope. */
  shortDate: string;
  region: string;
  /** The request time the client signed (x-oss-date), yyyymmddThhmmssZ. */
  longDate: string;
  /** The additional signed headers, lower-cased, in the order the client listed them. */
  additionalHeaders: string[];
  signature: string;
  sessionToken: string | undefined;
  /** x-oss-content-sha256: UNSIGNED-PAYLOAD or the hex SHA-256 of the body (checked as it is read). */
  payloadHash: string;
}

/**
 * Whether the request is signed the OSS way (header or query). An AWS Authorization header wins, as in
 * parseAuth: a request is verified by one dialect only.
 */
export function isOssRequest(request: IncomingRequestParts): boolean {
  const header = single(request.headers.authorization);
  if (header !== undefined) return header.startsWith(OSS_ALGORITHM) || header.startsWith('OSS ');
  const q = request.query;
  return (
    q['x-oss-signature-version'] !== undefined ||
    q['x-oss-signature'] !== undefined ||
    q['x-oss-credential'] !== undefined ||
    q.OSSAccessKeyId !== undefined
  );
}

/**
 * Reads the OSS V4 signature parameters from the Authorization header or the query and checks scope,
 * clock skew and expiry; S3Error when they are malformed or refused. Only for requests isOssRequest()
 * accepted.
 */
export function parseOssAuth(request: IncomingRequestParts, region: string, nowMs: number): OssAuth {
  const header = single(request.headers.authorization);
  const query = request.query;
  const payloadHash = single(request.headers['x-oss-content-sha256']) ?? UNSIGNED_PAYLOAD;
  let auth: OssAuth;
  if (header !== undefined) {
    if (header.startsWith('OSS ')) {
      throw new S3Error(
        'AuthorizationHeaderMalformed',
        'OSS Signature Version 1 is not supported; sign with OSS Signature V4 (ali-oss: authorizationV4: true).',
      );
    }
    const match =
      /^OSS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*(?:,\s*AdditionalHeaders=([^,\s]*)\s*)?,\s*Signature=([0-9a-f]{64})\s*$/.exec(
        header,
      );
    if (!match) throw new S3Error('AuthorizationHeaderMalformed', 'The authorization header is malformed.');
    const longDate = single(request.headers['x-oss-date']);
    if (!longDate)
      throw new S3Error('AccessDenied', 'OSS V4 authentication requires a valid x-oss-date header.');
    auth = {
      kind: 'header',
      ...parseCredential(match[1]!, 'AuthorizationHeaderMalformed'),
      longDate,
      additionalHeaders: headerList(match[2]),
      signature: match[3]!,
      sessionToken: single(request.headers['x-oss-security-token']),
      payloadHash,
    };
  } else {
    if (query.OSSAccessKeyId !== undefined) {
      throw new S3Error(
        'AuthorizationQueryParametersError',
        'OSS Signature Version 1 is not supported; presign with OSS Signature V4 (ali-oss: signatureUrlV4).',
      );
    }
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
    if (param('x-oss-signature-version') !== OSS_ALGORITHM) {
      throw new S3Error(
        'AuthorizationQueryParametersError',
        `x-oss-signature-version only supports "${OSS_ALGORITHM}".`,
      );
    }
    const expiresText = param('x-oss-expires');
    const expires = /^\d{1,7}$/.test(expiresText) ? Number(expiresText) : NaN;
    if (!(expires >= 1 && expires <= MAX_PRESIGNED_EXPIRES)) {
      throw new S3Error(
        'AuthorizationQueryParametersError',
        `x-oss-expires must be between 1 and ${MAX_PRESIGNED_EXPIRES} seconds.`,
      );
    }
    const signature = param('x-oss-signature');
    if (!/^[0-9a-f]{64}$/.test(signature)) {
      throw new S3Error('AuthorizationQueryParametersError', 'x-oss-signature is not a V4 signature.');
    }
    const additional = query['x-oss-additional-headers'];
    const token = query['x-oss-security-token'];
    auth = {
      kind: 'query',
      ...parseCredential(param('x-oss-credential'), 'AuthorizationQueryParametersError'),
      longDate: param('x-oss-date'),
      additionalHeaders: headerList(typeof additional === 'string' ? additional : undefined),
      signature,
      sessionToken: typeof token === 'string' && token !== '' ? token : undefined,
      payloadHash,
    };
    const signedAt = parseOssDate(auth.longDate);
    if (signedAt + expires * 1000 < nowMs) {
      throw new S3Error('AccessDenied', 'Request has expired', {
        Expires: new Date(signedAt + expires * 1000).toISOString(),
      });
    }
  }

  // An OSS body is never aws-chunked: the payload is either not signed or hashed whole.
  if (auth.payloadHash !== UNSIGNED_PAYLOAD && !/^[0-9a-f]{64}$/.test(auth.payloadHash)) {
    throw new S3Error('InvalidArgument', 'x-oss-content-sha256 must be UNSIGNED-PAYLOAD or a hex SHA-256.');
  }
  const signedAt = parseOssDate(auth.longDate);
  if (auth.longDate.slice(0, 8) !== auth.shortDate) {
    throw new S3Error('SignatureDoesNotMatch', 'The credential date does not match the request date.');
  }
  if (auth.region !== region) {
    const hint =
      auth.region === `oss-${region}` ? ' OSS V4 scopes name the region without its "oss-" prefix.' : '';
    throw new S3Error(
      auth.kind === 'header' ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError',
      `The authorization region '${auth.region}' is wrong; expecting '${region}'.${hint}`,
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

/** The canonical request of an OSS V4 signature, rebuilt from the request as received. */
export function ossCanonicalRequest(request: IncomingRequestParts, auth: OssAuth): string {
  const resource = safeDecode(request.rawPath);
  const slash = resource.indexOf('/', 1);
  const bucket = slash === -1 ? resource.slice(1) : resource.slice(1, slash);
  const key = slash === -1 ? '' : resource.slice(slash + 1);
  const uri = ossEncode(bucket === '' ? '/' : `/${bucket}/${key}`, true);

  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(request.query)) {
    if (name === 'x-oss-signature') continue;
    for (const v of Array.isArray(value) ? value : [value]) pairs.push([ossEncode(name), ossEncode(v)]);
  }
  pairs.sort(([a, x], [b, y]) => compare(a, b) || compare(x, y));
  const canonicalQuery = pairs.map(([name, value]) => (value === '' ? name : `${name}=${value}`)).join('&');

  const names = new Set(auth.additionalHeaders);
  for (const name of Object.keys(request.headers)) {
    if (name === 'content-type' || name === 'content-md5' || name.startsWith('x-oss-')) names.add(name);
  }
  const canonicalHeaders = [...names]
    .sort(compare)
    .map((name) => `${name}:${joinHeader(request.headers[name]).trim()}\n`)
    .join('');

  return [
    request.method,
    uri,
    canonicalQuery,
    canonicalHeaders,
    auth.additionalHeaders.join(';'),
    auth.payloadHash,
  ].join('\n');
}

export function ossStringToSign(auth: OssAuth, canonicalRequest: string): string {
  // Node hands header values over as latin1 strings: hashing them as latin1 hashes the bytes sent, which
  // is what OSS (and the Go SDK, which hashes bytes) sign. Everything else in the request is ASCII.
  const hashed = createHash('sha256').update(Buffer.from(canonicalRequest, 'latin1')).digest('hex');
  return [OSS_ALGORITHM, auth.longDate, scopeOf(auth), hashed].join('\n');
}

/** The hex signature of `stringToSign` with the key derived from `secret` for the auth's date and region. */
export function ossSignature(secret: string, auth: OssAuth, stringToSign: string): string {
  let key = createHmac('sha256', `aliyun_v4${secret}`).update(auth.shortDate).digest();
  for (const part of [auth.region, PRODUCT, TERMINATOR])
    key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

/** The signature the client should have sent for this request. */
export function expectedOssSignature(request: IncomingRequestParts, auth: OssAuth, secret: string): string {
  return ossSignature(secret, auth, ossStringToSign(auth, ossCanonicalRequest(request, auth)));
}

function scopeOf(auth: OssAuth): string {
  return `${auth.shortDate}/${auth.region}/${PRODUCT}/${TERMINATOR}`;
}

function parseCredential(
  credential: string,
  errorCode: 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError',
): Pick<OssAuth, 'accessKeyId' | 'shortDate' | 'region'> {
  const parts = credential.split('/');
  if (
    parts.length !== 5 ||
    parts[0] === '' ||
    parts[3] !== PRODUCT ||
    parts[4] !== TERMINATOR ||
    !/^\d{8}$/.test(parts[1]!)
  ) {
    throw new S3Error(
      errorCode,
      `The credential "${credential}" is malformed; expected "<key>/<yyyymmdd>/<region>/${PRODUCT}/${TERMINATOR}".`,
    );
  }
  return { accessKeyId: parts[0]!, shortDate: parts[1]!, region: parts[2]! };
}

/** Epoch ms of x-oss-date (ISO 8601 basic, yyyymmddThhmmssZ). */
function parseOssDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) throw new S3Error('AccessDenied', `x-oss-date "${value}" is not of the form yyyymmddThhmmssZ.`);
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

function headerList(value: string | undefined): string[] {
  return (value ?? '')
    .split(';')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
}

/**
 * RFC 3986 percent-encoding of the UTF-8 bytes of `value` (Aliyun's escapePath): only `A-Z a-z 0-9 - . _ ~`
 * stay as they are, and `/` too when `keepSlash`. Byte-wise, so that it never throws on a lone surrogate.
 */
export function ossEncode(value: string, keepSlash = false): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out +=
      /[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')
        ? c
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Byte order, as Go's sort.Strings orders the encoded (ASCII) names. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function joinHeader(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}
