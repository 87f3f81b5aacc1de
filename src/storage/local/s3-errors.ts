/** S3 error responses: the codes real S3 clients recognise, with their HTTP statuses. */
const STATUS = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BucketAlreadyOwnedByYou: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  ExpiredToken: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidToken: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  RequestTimeTooSkewed: 403,
  SignatureDoesNotMatch: 403,
  XAmzContentSHA256Mismatch: 400,
  /** MinIO's code for a key it does not accept (`..` segments, `//`, control characters). */
  XMinioInvalidObjectName: 400,
} as const;

export type S3ErrorCode = keyof typeof STATUS;

export class S3Error extends Error {
  readonly code: S3ErrorCode;
  readonly status: number;
  /** Extra elements of the XML error body (e.g. ServerTime). */
  readonly extra: Record<string, string>;

  constructor(code: S3ErrorCode, message: string, extra: Record<string, string> = {}) {
    super(message);
    this.name = 'S3Error';
    this.code = code;
    this.status = STATUS[code];
    this.extra = extra;
  }
}

export function escapeXml(value: string): string {
  return value.replace(
    /[<>&'"]/g,
    (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', "'": 'apos', '"': 'quot' }[c]};`,
  );
}

export function errorXml(error: S3Error, resource: string, requestId: string): string {
  const extra = Object.entries(error.extra)
    .map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${escapeXml(error.message)}</Message>${extra}<Resource>${escapeXml(xmlSafe(resource))}</Resource><RequestId>${requestId}</RequestId></Error>`;
}

/**
 * The resource of a refused request may hold what XML 1.0 cannot carry, even as a character reference
 * (control characters, lone surrogates: the keys the store refuses): those are percent-encoded, so that
 * clients can still parse the error.
 */
function xmlSafe(value: string): string {
  // eslint-disable-next-line no-control-regex -- the characters XML 1.0 forbids
  return value.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]|\p{Cs}/gu, (c) =>
    c.length === 1 && c.charCodeAt(0) < 0x80
      ? `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`
      : '\ufffd',
  );
}
