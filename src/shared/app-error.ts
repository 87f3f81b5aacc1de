/**
 * The one error catalogue of Skyvault. Services throw `AppError`s; each transport renders them:
 * HTTP as the DJI envelope `{code, message}` with `status` (src/http/errors.ts), MQTT (later) as `result`.
 *
 * `status` is the HTTP status. DJI Pilot 2 reacts to statuses (dji-protocol.md §2): 401 logs the pilot out
 * of the cloud, so it is used only for a missing, invalid or expired token. Errors a client should show
 * as a message (a wrong password, say) keep HTTP 200 with a non-zero `code`, as DJI's demo does.
 * `code` is the envelope code: stable, documented in docs/errors.md (a test checks that).
 */
export interface ErrorSpec {
  status: number;
  code: number;
  message: string;
}

export const ERRORS = {
  BadRequest: { status: 400, code: 400, message: 'The request is not valid.' },
  MalformedJson: { status: 400, code: 400, message: 'The request body is not valid JSON.' },
  ValidationFailed: { status: 400, code: 400, message: 'The request does not match the expected shape.' },
  BodyTooLarge: { status: 413, code: 413, message: 'The request body is larger than the server accepts.' },
  UnsupportedMediaType: {
    status: 415,
    code: 415,
    message: 'The request body must be JSON (Content-Type: application/json).',
  },
  TokenMissing: { status: 401, code: 401, message: 'No access token: send it in the x-auth-token header.' },
  TokenInvalid: { status: 401, code: 401, message: 'The access token is not valid.' },
  TokenExpired: {
    status: 401,
    code: 401,
    message: 'The access token has expired: refresh it or log in again.',
  },
  InvalidCredentials: { status: 200, code: 401, message: 'Invalid username or password.' },
  WorkspaceForbidden: {
    status: 403,
    code: 403,
    message: 'The access token does not belong to this workspace.',
  },
  // A valid token whose user or workspace was deleted: the session really is over, so 401.
  UserNotFound: { status: 401, code: 401, message: 'The user of this access token no longer exists.' },
  WorkspaceNotFound: {
    status: 401,
    code: 401,
    message: 'The workspace of this access token no longer exists.',
  },
  MediaNotInCloud: { status: 200, code: 100404, message: 'The file is not in the cloud yet: upload it.' },
  ObjectKeyOutsidePrefix: {
    status: 403,
    code: 100403,
    message: 'The object key is outside the prefix issued to this workspace.',
  },
  ObjectNotInStorage: {
    status: 200,
    code: 100410,
    message: 'The object is not in storage: upload it before reporting it.',
  },
  MediaFileNotFound: { status: 404, code: 100406, message: 'There is no such file in this workspace.' },
  StorageUnavailable: { status: 503, code: 100503, message: 'Object storage is not answering; try again.' },
  DeviceNotFound: { status: 404, code: 210404, message: 'There is no such device in this workspace.' },
  DeviceNotSeen: {
    status: 200,
    code: -1,
    message: 'The device has not connected to Skyvault yet: connect it (MQTT) and try again.',
  },
  FileGroupNotFound: {
    status: 404,
    code: 100407,
    message: 'There is no such flight task media group in this workspace.',
  },
  DeviceRefused: { status: 502, code: 211002, message: 'The device refused the command.' },
  DeviceNoReply: {
    status: 504,
    code: 211001,
    message: 'The device did not answer; check that it is online.',
  },
  MqttUnavailable: { status: 503, code: 211503, message: 'The MQTT broker is not reachable; try again.' },
  RouteNotFound: { status: 404, code: 404, message: 'There is nothing at this address.' },
  Internal: { status: 500, code: 500, message: 'Something went wrong on the server; it has been logged.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorName = keyof typeof ERRORS;

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly kind: ErrorName;
  readonly status: number;
  readonly code: number;
  /** Extra machine-readable detail rendered into `data` (never secrets). */
  readonly details: unknown;

  constructor(kind: ErrorName, message?: string, options?: { cause?: unknown; details?: unknown }) {
    const spec: ErrorSpec = ERRORS[kind];
    // Errors that answer a client (4xx, and code-carrying 200s) are expected: a stack trace would cost
    // more than the rest of the request and nobody reads it. Server errors keep theirs.
    const stackTraceLimit = Error.stackTraceLimit;
    if (spec.status < 500) Error.stackTraceLimit = 0;
    super(message ?? spec.message, options?.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.kind = kind;
    this.status = spec.status;
    this.code = spec.code;
    this.details = options?.details;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
