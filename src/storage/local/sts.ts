/**
 * STS `AssumeRole` on the embedded endpoint, answered as MinIO answers it (minio/minio
 * cmd/sts-handlers.go, cmd/sts-errors.go and docs/sts/assume-role.md), so that the `minio` and `aws`
 * storage providers and the AWS SDK's STSClient can be tested against the embedded store:
 *
 * - `POST /` with a form body (`application/x-www-form-urlencoded`): `Action=AssumeRole`,
 *   `Version=2011-06-15`, optional `DurationSeconds` (900..43200, default 3600) and `Policy` (a session
 *   policy, iam-policy.ts, at most 2048 bytes once minified). `RoleArn`, `RoleSessionName` and the other
 *   AWS parameters are ignored, as MinIO ignores them, except `PolicyArns`, which would restrict the
 *   session and is refused rather than dropped. Parameters in the query string are accepted too.
 * - Signed with SigV4, service `sts`, the store's region, by the root credentials only: a request with a
 *   session token (temporary credentials) is refused. The body is part of the signature: it is read
 *   (at most 64 KiB) and hashed before the signature is checked, unlike S3 requests (s3-auth.ts).
 * - Errors are STS `<ErrorResponse>` documents (the AWS SDK names an STS error only in that shape), and
 *   every authentication failure is `AccessDenied`, as in MinIO (`apiToSTSError`). Parameter checks come
 *   before the authentication verdict, in MinIO's order (Version, Action, then auth, Policy, Duration).
 *
 * This is the AWS dialect: s3-server.ts sends here a `POST /` that carries an AWS signature. Aliyun's
 * STS AssumeRole (an RPC signed inside its parameters, for clients written with Aliyun's SDK and the
 * `ali` provider's tests) is aliyun-sts.ts; both issue the same session credentials.
 *
 * The handler is written here: MinIO is Go, and no Node package serves STS.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/logger.ts';
import type { CredentialAuthority, RootCredentials } from './credentials.ts';
import { parsePolicy, PolicyError } from './iam-policy.ts';
import { sameHex } from './s3-auth.ts';
import { collect } from './s3-body.ts';
import { escapeXml as x, S3Error } from './s3-errors.ts';
import { str } from './s3-request.ts';
import { type IncomingRequestParts, parseAuth, SignatureContext } from './sigv4.ts';

export const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
export const STS_API_VERSION = '2011-06-15';
/** Largest AssumeRole body read; a 2 KiB policy form-encoded is under 7 KiB. */
export const MAX_STS_BODY = 64 * 1024;
/** MinIO's and AWS's limit on an inline session policy (MinIO measures it re-marshalled, i.e. minified). */
export const MAX_SESSION_POLICY_BYTES = 2048;
/** DurationSeconds bounds every MinIO generation accepts (and Skyvault's SKYVAULT_CREDENTIAL_TTL). */
export const MIN_DURATION_SECONDS = 900;
export const MAX_DURATION_SECONDS = 43_200;
export const DEFAULT_DURATION_SECONDS = 3600;

/** MinIO's STS error codes (cmd/sts-errors.go) that AssumeRole can answer, with their statuses. */
const STATUS = {
  AccessDenied: 403,
  MissingParameter: 400,
  InvalidParameterValue: 400,
  MalformedPolicyDocument: 400,
  InternalError: 500,
} as const;

export type StsErrorCode = keyof typeof STATUS;

export class StsError extends Error {
  readonly status: number;

  constructor(
    readonly code: StsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StsError';
    this.status = STATUS[code];
  }
}

export interface StsSettings {
  authority: CredentialAuthority;
  root: RootCredentials | undefined;
  region: string;
  logger: Logger;
  now: () => number;
}

/** Answers one STS request (`POST /`); never throws. */
export async function handleSts(
  settings: StsSettings,
  req: IncomingMessage,
  res: ServerResponse,
  parts: IncomingRequestParts,
  requestId: string,
  expectContinue: boolean,
): Promise<void> {
  try {
    const declared = Number(str(req.headers['content-length']) ?? 0);
    if (declared > MAX_STS_BODY) {
      throw new StsError('InvalidParameterValue', `The request body is larger than ${MAX_STS_BODY} bytes.`);
    }
    if (str(req.headers['x-amz-content-sha256'])?.startsWith('STREAMING-')) {
      throw new StsError('InvalidParameterValue', 'STS requests do not accept an aws-chunked body.');
    }
    if (expectContinue) res.writeContinue();
    const body = await collect(req, MAX_STS_BODY).catch((error: unknown) => {
      throw error instanceof S3Error ? new StsError('InvalidParameterValue', error.message) : error;
    });
    const denied = await authenticateCaller(settings, parts, body);
    const params = formParameters(req, parts, body);
    const version = params.get('Version');
    if (version !== STS_API_VERSION) {
      throw new StsError(
        'MissingParameter',
        `Invalid STS API version ${version ?? ''}, expecting ${STS_API_VERSION}`,
      );
    }
    const action = params.get('Action');
    if (action !== 'AssumeRole') {
      throw new StsError('InvalidParameterValue', `Unsupported action ${action ?? ''}`);
    }
    if (denied) throw denied;
    if ([...params.keys()].some((key) => key.startsWith('PolicyArns.'))) {
      throw new StsError(
        'InvalidParameterValue',
        'Managed session policies (PolicyArns) are not supported by the embedded store; pass an inline Policy.',
      );
    }
    const policy = sessionPolicy(params.get('Policy'));
    const duration = durationSeconds(params.get('DurationSeconds'));
    const expiresAt = Math.floor(settings.now() / 1000) + duration;
    const issued = settings.authority.issueSession(settings.root!.accessKey, policy?.document, expiresAt);
    settings.logger.info(
      {
        requestId,
        accessKeyId: issued.accessKeyId,
        expiresAt: expiresAt * 1000,
        policyBytes: policy ? Buffer.byteLength(policy.minified) : 0,
      },
      'issued STS credentials',
    );
    const xml = assumeRoleXml(issued, requestId);
    res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml) }).end(xml);
  } catch (error) {
    fail(settings.logger, req, res, error, requestId);
  }
}

/**
 * The verdict on the caller, as an error to answer once the parameters are checked (MinIO's order), or
 * undefined when the root credentials signed the request, body included.
 */
async function authenticateCaller(
  settings: StsSettings,
  parts: IncomingRequestParts,
  body: Buffer,
): Promise<StsError | undefined> {
  const denied = (message: string) => new StsError('AccessDenied', message);
  let auth;
  try {
    auth = parseAuth(parts, settings.region, settings.now(), 'sts');
  } catch (error) {
    if (error instanceof S3Error) return denied(error.message);
    throw error;
  }
  if (!auth)
    return denied('Sign AssumeRole with the root credentials (AWS Signature Version 4, service sts).');
  if (auth.sessionToken !== undefined) {
    return denied('Temporary credentials may not generate further temporary credentials.');
  }
  const root = settings.root;
  if (!root) return denied('This store has no root credentials, so it issues no temporary credentials.');
  if (auth.accessKeyId !== root.accessKey) {
    return denied('The Access Key Id you provided does not exist in our records.');
  }
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const declared = str(parts.headers['x-amz-content-sha256']) ?? str(parts.query['X-Amz-Content-Sha256']);
  if (declared !== undefined && declared !== bodyHash) {
    return denied("The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  const signature = new SignatureContext({ ...auth, payloadHash: bodyHash }, root.secretKey);
  if (!sameHex(await signature.expectedRequestSignature(parts), auth.signature)) {
    return denied(
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  }
  return undefined;
}

/** The query's parameters (signature ones aside), then the form body's, which win. */
function formParameters(req: IncomingMessage, parts: IncomingRequestParts, body: Buffer): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(parts.query)) {
    if (key.startsWith('X-Amz-')) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(key, v);
  }
  if (body.length === 0) return params;
  if (!/^application\/x-www-form-urlencoded\b/i.test(str(req.headers['content-type']) ?? '')) {
    throw new StsError(
      'InvalidParameterValue',
      'STS parameters must be sent as an application/x-www-form-urlencoded body.',
    );
  }
  for (const [key, value] of new URLSearchParams(body.toString('utf8'))) params.set(key, value);
  return params;
}

function sessionPolicy(text: string | null): ReturnType<typeof parsePolicy> | undefined {
  if (text === null || text === '') return undefined;
  let parsed: ReturnType<typeof parsePolicy>;
  try {
    parsed = parsePolicy(text);
  } catch (error) {
    if (error instanceof PolicyError) {
      throw new StsError('MalformedPolicyDocument', `The session policy is malformed: ${error.message}`);
    }
    throw error;
  }
  if (Buffer.byteLength(parsed.minified) > MAX_SESSION_POLICY_BYTES) {
    // MinIO's code and message (errSessionPolicyTooLarge); AWS would say PackedPolicyTooLarge.
    throw new StsError(
      'InvalidParameterValue',
      `Session policy should not exceed ${MAX_SESSION_POLICY_BYTES} characters (it has ${Buffer.byteLength(parsed.minified)} once minified).`,
    );
  }
  return parsed;
}

function durationSeconds(text: string | null): number {
  if (text === null || text === '') return DEFAULT_DURATION_SECONDS;
  const value = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(value >= MIN_DURATION_SECONDS && value <= MAX_DURATION_SECONDS)) {
    throw new StsError(
      'InvalidParameterValue',
      `DurationSeconds must be an integer between ${MIN_DURATION_SECONDS} and ${MAX_DURATION_SECONDS}; got "${text}".`,
    );
  }
  return value;
}

/** ISO 8601 in whole seconds, as MinIO and AWS write Expiration. */
function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function assumeRoleXml(
  issued: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiresAt: number },
  requestId: string,
): string {
  // AssumedRoleUser is empty, as in MinIO's reply: the embedded store has no roles.
  return `<?xml version="1.0" encoding="UTF-8"?>\n<AssumeRoleResponse xmlns="${STS_NAMESPACE}"><AssumeRoleResult><AssumedRoleUser><Arn></Arn><AssumeRoleId></AssumeRoleId></AssumedRoleUser><Credentials><AccessKeyId>${x(issued.accessKeyId)}</AccessKeyId><SecretAccessKey>${x(issued.secretAccessKey)}</SecretAccessKey><SessionToken>${x(issued.sessionToken)}</SessionToken><Expiration>${isoSeconds(issued.expiresAt)}</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>${x(requestId)}</RequestId></ResponseMetadata></AssumeRoleResponse>`;
}

export function stsErrorXml(error: StsError, requestId: string): string {
  const type = error.status >= 500 ? 'Receiver' : 'Sender';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${STS_NAMESPACE}"><Error><Type>${type}</Type><Code>${error.code}</Code><Message>${x(error.message)}</Message></Error><RequestId>${x(requestId)}</RequestId></ErrorResponse>`;
}

function fail(
  logger: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  requestId: string,
): void {
  if (!(error instanceof StsError) && (req.destroyed || res.destroyed) && !req.complete) {
    logger.info({ requestId, method: req.method }, 'client aborted the STS request');
    res.destroy();
    return;
  }
  const stsError =
    error instanceof StsError
      ? error
      : new StsError(
          'InternalError',
          'We encountered an internal error generating credentials, please try again.',
        );
  if (stsError.code === 'InternalError') logger.error({ err: error, requestId }, 'STS request failed');
  else logger.info({ code: stsError.code, reason: stsError.message, requestId }, 'STS request refused');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // A body we did not read (or stopped reading) cannot be drained safely: close the connection after answering.
  const bodyPending = !req.complete;
  if (bodyPending) res.setHeader('connection', 'close');
  const body = stsErrorXml(stsError, requestId);
  res
    .writeHead(stsError.status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) })
    .end(body);
  if (bodyPending) res.once('finish', () => req.destroy());
}
