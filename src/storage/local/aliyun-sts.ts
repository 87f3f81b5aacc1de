/**
 * Aliyun STS `AssumeRole` (API version 2015-04-01) on the embedded endpoint, answered as Aliyun answers
 * it, so that the `ali` storage provider and clients written with Aliyun's SDKs (ali-oss's `OSS.STS`)
 * can be tested against the embedded store: no Aliyun is reachable from CI.
 *
 * - `POST /` with the RPC parameters in an `application/x-www-form-urlencoded` body (the query string is
 *   read too): `Action=AssumeRole`, `Version=2015-04-01`, `Format=JSON`, `AccessKeyId`,
 *   `SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`, `SignatureNonce`, `Timestamp` (ISO 8601 UTC),
 *   `RoleArn`, `RoleSessionName` (2 to 32 of `[A-Za-z0-9.@_-]`), optional `DurationSeconds`
 *   (900..43200, Aliyun's range for a role allowing 12 hours; default 3600) and `Policy` (a RAM policy,
 *   ram-policy.ts, at most 2048 bytes, the limit the `ali` provider keeps to; the older AssumeRole.md
 *   cited below says 1024), and `Signature`. s3-server.ts sends here a `POST /`
 *   that carries no AWS signature (Aliyun's RPC signs inside its parameters, never in a header).
 * - Signed with the RPC signature V1 (rpcStringToSign, the one implementation of it), by the store's root
 *   credentials only, within 15 minutes of the store's clock, each SignatureNonce once.
 * - The store has no roles: any well-formed RoleArn is accepted (as MinIO ignores AWS's), and the session
 *   has what the Policy allows, or root's rights without one. The credentials are the same STS sessions
 *   sts.ts issues (credentials.ts `sv2`, access key `STS.…`), so they sign with OSS V4 and AWS SigV4
 *   alike and carry the RAM policy translated to IAM.
 * - Answers are Aliyun's JSON; errors are `{RequestId, HostId, Code, Message, Recommend}` with Aliyun's
 *   codes and statuses: the RPC gateway's client errors (help.aliyun.com/document_detail/48054.html
 *   and help.aliyun.com/document_detail/51132.html: Missing<Parameter>, IncompleteSignature,
 *   InvalidTimeStamp.Format/.Expired, SignatureDoesNotMatch, SignatureNonceUsed,
 *   InvalidAccessKeyId.NotFound) and AssumeRole's (AlibabaCloudDocs/ram, "intl.en-US/API Reference/API
 *   Reference (STS)/Operation interfaces/AssumeRole.md": InvalidParameter.RoleArn, .RoleSessionName,
 *   .DurationSeconds, .PolicyGrammar, .PolicySize, NoPermission; www.alibabacloud.com/help/doc-detail/
 *   42775.htm). Gateway checks come first (the API, then the signature), then AssumeRole's own.
 *
 * Written here: Aliyun's STS is a cloud service, and ali-oss only calls it.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PolicyError } from './iam-policy.ts';
import { parseRamPolicy } from './ram-policy.ts';
import { collect } from './s3-body.ts';
import { S3Error } from './s3-errors.ts';
import { str } from './s3-request.ts';
import type { IncomingRequestParts } from './sigv4.ts';
import {
  DEFAULT_DURATION_SECONDS,
  MAX_DURATION_SECONDS,
  MAX_STS_BODY,
  MIN_DURATION_SECONDS,
  type StsSettings,
} from './sts.ts';

export const ALIYUN_STS_VERSION = '2015-04-01';
/** Aliyun STS's limit on the Policy parameter. */
export const MAX_RAM_POLICY_BYTES = 2048;
/** How far a Timestamp may be from the store's clock (the gateway's InvalidTimeStamp.Expired). */
const MAX_SKEW_MS = 15 * 60 * 1000;
/** Nonces remembered at most; past it the oldest are forgotten (they are then older than most requests). */
const MAX_NONCES = 100_000;

export class AliyunStsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AliyunStsError';
  }
}

const missing = (name: string) =>
  new AliyunStsError(400, `Missing${name}`, `${name} is mandatory for this action.`);
const incompleteSignature = () =>
  new AliyunStsError(
    400,
    'IncompleteSignature',
    'The request signature does not conform to Aliyun standards.',
  );

/**
 * RFC 3986 percent-encoding, as Aliyun's RPC signature wants it: encodeURIComponent with `!'()*` encoded
 * too (Java's URLEncoder with `+`→%20, `*`→%2A and %7E→`~` gives the same).
 */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * The string an Aliyun RPC request (signature version 1.0) signs: `<METHOD>&%2F&` + the percent-encoded
 * canonicalized query, which is every parameter but Signature, sorted by name, each `name=value`
 * percent-encoded, joined by `&`.
 */
export function rpcStringToSign(method: string, params: Iterable<readonly [string, string]>): string {
  const canonical = [...params]
    .filter(([name]) => name !== 'Signature')
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`)
    .join('&');
  return `${method.toUpperCase()}&${percentEncode('/')}&${percentEncode(canonical)}`;
}

/** The RPC signature V1: base64 HMAC-SHA1 of the string to sign, keyed with the secret followed by `&`. */
export function rpcSignature(
  method: string,
  params: Iterable<readonly [string, string]>,
  secret: string,
): string {
  return createHmac('sha1', `${secret}&`).update(rpcStringToSign(method, params)).digest('base64');
}

export class AliyunSts {
  /** `<access key>\0<nonce>` → when it may be forgotten (its Timestamp is then refused anyway). */
  private readonly nonces = new Map<string, number>();

  constructor(private readonly settings: StsSettings) {}

  /** Answers one Aliyun STS request (`POST /`); never throws. */
  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    parts: IncomingRequestParts,
    requestId: string,
    expectContinue: boolean,
  ): Promise<void> {
    const { logger, authority, now } = this.settings;
    try {
      const declared = Number(str(req.headers['content-length']) ?? 0);
      if (declared > MAX_STS_BODY) {
        throw new AliyunStsError(
          400,
          'InvalidParameter',
          `The request body is larger than ${MAX_STS_BODY} bytes.`,
        );
      }
      if (expectContinue) res.writeContinue();
      const body = await collect(req, MAX_STS_BODY).catch((error: unknown) => {
        throw error instanceof S3Error ? new AliyunStsError(400, 'InvalidParameter', error.message) : error;
      });
      const params = rpcParameters(req, parts, body);
      const root = this.authenticate(params);
      const roleArn = params.get('RoleArn');
      if (!roleArn) throw missing('RoleArn');
      // acs:ram::<account id>:role/<role name>
      if (!/^acs:ram::\d+:role\/[\w.@+=,-]{1,64}$/.test(roleArn)) {
        throw new AliyunStsError(400, 'InvalidParameter.RoleArn', 'The parameter RoleArn is wrongly formed.');
      }
      const sessionName = params.get('RoleSessionName');
      if (!sessionName) throw missing('RoleSessionName');
      if (!/^[\w.@-]{2,32}$/.test(sessionName)) {
        throw new AliyunStsError(
          400,
          'InvalidParameter.RoleSessionName',
          'The parameter RoleSessionName is wrongly formed: 2 to 32 letters, digits, and . @ - _',
        );
      }
      const duration = durationSeconds(params.get('DurationSeconds'));
      const policy = this.sessionPolicy(params.get('Policy'));
      const expiresAt = Math.floor(now() / 1000) + duration;
      const issued = authority.issueSession(root, policy?.document, expiresAt, 'STS.');
      logger.info(
        {
          requestId,
          accessKeyId: issued.accessKeyId,
          expiresAt: expiresAt * 1000,
          policyBytes: policy ? Buffer.byteLength(policy.minified) : 0,
        },
        'issued Aliyun STS credentials',
      );
      // A stable id for the role, in Aliyun's form (digits): the store has no roles of its own.
      const roleId = BigInt(`0x${createHash('sha256').update(roleArn).digest('hex').slice(0, 13)}`);
      sendJson(res, 200, requestId, {
        RequestId: requestId,
        AssumedRoleUser: { Arn: `${roleArn}/${sessionName}`, AssumedRoleId: `${roleId}:${sessionName}` },
        Credentials: {
          AccessKeyId: issued.accessKeyId,
          AccessKeySecret: issued.secretAccessKey,
          SecurityToken: issued.sessionToken,
          Expiration: new Date(expiresAt * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        },
      });
    } catch (error) {
      this.fail(req, res, error, requestId);
    }
  }

  /** The API, then the signature, as Aliyun's gateway checks them; the root access key when they pass. */
  private authenticate(params: Map<string, string>): string {
    const action = params.get('Action');
    if (!action) throw missing('Action');
    const version = params.get('Version');
    if (!version) throw missing('Version');
    if (version !== ALIYUN_STS_VERSION) {
      throw new AliyunStsError(
        400,
        'InvalidVersion',
        `Specified parameter Version is not valid: expecting ${ALIYUN_STS_VERSION}.`,
      );
    }
    if (action !== 'AssumeRole') {
      throw new AliyunStsError(
        404,
        'InvalidAction.NotFound',
        'Specified api is not found, please check your url and method.',
      );
    }
    for (const name of ['AccessKeyId', 'Signature', 'SignatureNonce', 'Timestamp']) {
      if (!params.get(name)) throw missing(name);
    }
    if (params.get('SignatureMethod') !== 'HMAC-SHA1' || params.get('SignatureVersion') !== '1.0') {
      throw incompleteSignature();
    }
    const timestamp = parseTimestamp(params.get('Timestamp')!);
    if (Math.abs(this.settings.now() - timestamp) > MAX_SKEW_MS) {
      throw new AliyunStsError(
        400,
        'InvalidTimeStamp.Expired',
        'Specified time stamp or date value is expired.',
      );
    }
    const root = this.settings.root;
    const accessKeyId = params.get('AccessKeyId')!;
    if (!root || accessKeyId !== root.accessKey) {
      throw new AliyunStsError(
        404,
        'InvalidAccessKeyId.NotFound',
        root
          ? 'Specified access key is not found.'
          : 'Specified access key is not found: this store has no root credentials, so it issues no temporary credentials.',
      );
    }
    const expected = Buffer.from(rpcSignature('POST', params, root.secretKey));
    const given = Buffer.from(params.get('Signature')!);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new AliyunStsError(
        400,
        'SignatureDoesNotMatch',
        'Specified signature is not matched with our calculation.',
      );
    }
    this.useNonce(`${accessKeyId}\0${params.get('SignatureNonce')!}`, timestamp + MAX_SKEW_MS);
    if (params.has('SecurityToken')) {
      throw new AliyunStsError(
        403,
        'NoPermission',
        'You are not authorized to do this action: temporary credentials may not generate further temporary credentials.',
      );
    }
    const format = params.get('Format');
    if (format !== undefined && format.toUpperCase() !== 'JSON') {
      throw new AliyunStsError(400, 'InvalidParameter', 'The embedded store answers Format=JSON only.');
    }
    return root.accessKey;
  }

  /** Refuses a nonce seen before (replays within the Timestamp's 15 minutes), else remembers it. */
  private useNonce(key: string, forgetAt: number): void {
    const now = this.settings.now();
    if ((this.nonces.get(key) ?? 0) > now) {
      throw new AliyunStsError(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    }
    if (this.nonces.size >= MAX_NONCES) {
      for (const [seen, until] of this.nonces) if (until <= now) this.nonces.delete(seen);
      for (const seen of this.nonces.keys()) {
        if (this.nonces.size < MAX_NONCES) break;
        this.nonces.delete(seen);
      }
    }
    this.nonces.set(key, forgetAt);
  }

  private sessionPolicy(text: string | undefined): ReturnType<typeof parseRamPolicy> | undefined {
    if (text === undefined || text === '') return undefined;
    if (Buffer.byteLength(text) > MAX_RAM_POLICY_BYTES) {
      throw new AliyunStsError(
        400,
        'InvalidParameter.PolicySize',
        `The size of Policy must be smaller than ${MAX_RAM_POLICY_BYTES} bytes (it has ${Buffer.byteLength(text)}).`,
      );
    }
    try {
      return parseRamPolicy(text, this.settings.region);
    } catch (error) {
      if (error instanceof PolicyError) {
        throw new AliyunStsError(
          400,
          'InvalidParameter.PolicyGrammar',
          `The parameter Policy has not passed grammar check: ${error.message}`,
        );
      }
      throw error;
    }
  }

  private fail(req: IncomingMessage, res: ServerResponse, error: unknown, requestId: string): void {
    const { logger } = this.settings;
    if (!(error instanceof AliyunStsError) && (req.destroyed || res.destroyed) && !req.complete) {
      logger.info({ requestId, method: req.method }, 'client aborted the Aliyun STS request');
      res.destroy();
      return;
    }
    const stsError =
      error instanceof AliyunStsError
        ? error
        : new AliyunStsError(500, 'InternalError', 'STS Server Internal Error happened.');
    if (stsError.code === 'InternalError')
      logger.error({ err: error, requestId }, 'Aliyun STS request failed');
    else
      logger.info({ code: stsError.code, reason: stsError.message, requestId }, 'Aliyun STS request refused');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A body we did not read (or stopped reading) cannot be drained safely: close the connection after answering.
    const bodyPending = !req.complete;
    if (bodyPending) res.setHeader('connection', 'close');
    sendJson(res, stsError.status, requestId, {
      RequestId: requestId,
      HostId: str(req.headers.host) ?? 'localhost',
      Code: stsError.code,
      Message: stsError.message,
      Recommend: 'docs/storage.md: the embedded store answers Aliyun STS AssumeRole for the `ali` provider.',
    });
    if (bodyPending) res.once('finish', () => req.destroy());
  }
}

/**
 * Whether a `POST /` is Aliyun's RPC rather than AWS STS: it carries no AWS signature (an Authorization
 * header or X-Amz-* query parameters), Aliyun signing inside its parameters.
 */
export function isAliyunRpc(parts: IncomingRequestParts): boolean {
  if (parts.headers.authorization !== undefined) return false;
  return !Object.keys(parts.query).some((name) => name.startsWith('X-Amz-'));
}

/** The query's parameters, then the form body's, which win (each name once, as RPC parameters are). */
function rpcParameters(req: IncomingMessage, parts: IncomingRequestParts, body: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  for (const [name, value] of Object.entries(parts.query)) {
    params.set(name, Array.isArray(value) ? value[0]! : value);
  }
  if (body.length === 0) return params;
  if (!/^application\/x-www-form-urlencoded\b/i.test(str(req.headers['content-type']) ?? '')) {
    throw new AliyunStsError(
      400,
      'InvalidParameter',
      'RPC parameters must be sent as an application/x-www-form-urlencoded body.',
    );
  }
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) params.set(name, value);
  return params;
}

/** Epoch ms of an ISO 8601 UTC Timestamp (`2015-04-09T11:52:19Z`, milliseconds allowed). */
function parseTimestamp(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/.exec(text);
  const ms = m
    ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, Number(`0.${m[7] ?? 0}`) * 1000)
    : NaN;
  if (Number.isNaN(ms)) {
    throw new AliyunStsError(
      400,
      'InvalidTimeStamp.Format',
      'Specified time stamp or date value is not well formatted.',
    );
  }
  return ms;
}

function durationSeconds(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_DURATION_SECONDS;
  const value = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(value >= MIN_DURATION_SECONDS && value <= MAX_DURATION_SECONDS)) {
    throw new AliyunStsError(
      400,
      'InvalidParameter.DurationSeconds',
      `The Min/Max value of DurationSeconds is 15min/12hr (${MIN_DURATION_SECONDS} to ${MAX_DURATION_SECONDS}); got "${text}".`,
    );
  }
  return value;
}

function sendJson(res: ServerResponse, status: number, requestId: string, value: object): void {
  const body = JSON.stringify(value);
  res
    .writeHead(status, {
      'content-type': 'application/json;charset=utf-8',
      'content-length': Buffer.byteLength(body),
      // Aliyun's gateway names the request in this header too.
      'x-acs-request-id': requestId,
    })
    .end(body);
}
