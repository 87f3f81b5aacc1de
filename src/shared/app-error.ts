/**
 * The one error catalogue of Skyvault. Services throw `AppError`s; each transport renders them: HTTP as
 * the DJI envelope `{code, message}` with `status` (src/http/errors.ts), MQTT as the reply's `result`
 * (src/mqtt/mqtt-gateway.ts). docs/errors.md lists every entry (a test checks that).
 *
 * Each entry says:
 * - `status`, the HTTP status. DJI Pilot 2 reacts to statuses (docs/protocol.md §2): 401 logs the pilot
 *   out of the cloud, so it is used only for a missing, invalid or expired token. Errors a client should
 *   show as a message (a wrong password, say) keep HTTP 200 with a non-zero `code`, as DJI's demo does.
 * - `code`, the envelope code: stable.
 * - `mqttResult`, where the error can answer a device's MQTT request: the non-zero `result` of the
 *   reply (DJI leaves these values to the cloud, except 1 for "not supported" by convention).
 * - `transient`: the same request may succeed later (storage or broker down, a device that did not
 *   answer). Over MQTT a transient error gets no reply, so the device sends again; a final one is
 *   answered with its `result`, so the device stops retrying what can never succeed.
 */
export interface ErrorSpec {
  status: number;
  code: number;
  message: string;
  mqttResult?: number;
  transient?: boolean;
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
  // Login limits (features/auth/login-limiter.ts, password-hasher.ts): answered with Retry-After.
  TooManyLogins: {
    status: 429,
    code: 429,
    message: 'Too many login attempts for this account or from this address; try again later.',
    transient: true,
  },
  PasswordCheckBusy: {
    status: 429,
    code: 429,
    message: 'Too many passwords are being checked at once; try again in a moment.',
    transient: true,
  },
  WorkspaceForbidden: {
    status: 403,
    code: 403,
    message: 'The access token does not belong to this workspace.',
  },
  // Sessions and roles (issue 13, docs/accounts.md).
  SessionEnded: {
    status: 401,
    code: 401,
    message:
      'This session has ended (logged out, its lifetime is over, the password was changed or the account disabled): log in again.',
  },
  RoleForbidden: { status: 403, code: 403, message: 'Your role in this workspace does not allow this.' },
  AccountDisabled: { status: 200, code: 403, message: 'This account is disabled: ask an administrator.' },
  ClientNotAllowed: {
    status: 200,
    code: 403,
    message:
      'This account cannot log in from this client: viewers use the web app only, device accounts Pilot 2 only.',
  },
  UsernameTaken: {
    status: 409,
    code: 409,
    message: 'A user (or device account) with this name exists already.',
  },
  NotYourself: {
    status: 409,
    code: 409,
    message: 'You cannot demote, disable or remove your own account (ask another administrator).',
  },
  WorkspaceProtected: {
    status: 409,
    code: 409,
    message: 'This workspace cannot be deleted: it is the default workspace or your own.',
  },
  ConfirmationMismatch: {
    status: 400,
    code: 400,
    message: 'Confirm by sending the workspace name exactly as it is in `confirm`.',
  },
  WrongPassword: { status: 200, code: 401, message: 'The current password is not correct.' },
  UserNotInWorkspace: { status: 404, code: 404, message: 'There is no such user in this workspace.' },
  WorkspaceMissing: { status: 404, code: 404, message: 'There is no such workspace.' },
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
  ObjectKeyInvalid: {
    status: 400,
    code: 100400,
    message:
      'The object key is not a valid key: it has a "." or ".." segment, an empty segment, a control character or invalid UTF-8, or more than 1,024 bytes.',
  },
  ObjectNotInStorage: {
    status: 200,
    code: 100410,
    message: 'The object is not in storage: upload it before reporting it.',
  },
  MediaFileNotFound: { status: 404, code: 100406, message: 'There is no such file in this workspace.' },
  StorageUnavailable: {
    status: 503,
    code: 100503,
    message: 'Object storage is not answering; try again.',
    transient: true,
  },
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
  DeviceOffline: {
    status: 200,
    code: 211409,
    message: 'The device is offline: bring it online (power, network) and try again.',
  },
  DeviceResult: {
    status: 200,
    code: 211003,
    message: 'The device answered with an error.',
  },
  LogTaskNotFound: { status: 404, code: 212404, message: 'There is no such log upload for this device.' },
  LogFileNotUploaded: {
    status: 200,
    code: 212410,
    message: 'This log file is not in storage: its upload did not finish.',
  },
  DeviceNoReply: {
    status: 504,
    code: 211001,
    message: 'The device did not answer; check that it is online.',
    transient: true,
  },
  MqttUnavailable: {
    status: 503,
    code: 211503,
    message: 'The MQTT broker is not reachable; try again.',
    transient: true,
  },
  BindingCodeUnknown: {
    status: 404,
    code: 210001,
    mqttResult: 210001,
    message: 'The binding code names no workspace (or not the organization given with it).',
  },
  BindingRequestEmpty: {
    status: 400,
    code: 210002,
    mqttResult: 210002,
    message: 'The binding request names no device.',
  },
  DeviceNotYours: {
    status: 403,
    code: 210003,
    mqttResult: 210003,
    message: 'The device is not this dock or its aircraft, or it is bound to another workspace.',
  },
  GatewayNotBound: {
    status: 403,
    code: 314001,
    mqttResult: 314001,
    message: 'The gateway is not bound to a workspace: bind it first.',
  },
  StorageModuleUnsupported: {
    status: 400,
    code: 314002,
    mqttResult: 314002,
    message: 'Storage credentials are given for media only (module 0).',
  },
  MethodNotSupported: {
    status: 404,
    code: 211404,
    mqttResult: 1,
    message: 'Skyvault does not implement this method.',
  },
  // The MQTT broker hooks (EMQX asking Skyvault to authenticate and authorize clients); never Pilot.
  HookSecretMissing: {
    status: 401,
    code: 401,
    message:
      'No hook secret: the broker must send SKYVAULT_MQTT_HOOK_SECRET in the x-skyvault-hook-secret header.',
  },
  HookSecretInvalid: { status: 403, code: 403, message: 'The hook secret is not this server’s.' },
  // /metrics (Prometheus, with SKYVAULT_METRICS_TOKEN as its bearer token); answered with WWW-Authenticate.
  MetricsTokenMissing: {
    status: 401,
    code: 401,
    message: 'No metrics token: send SKYVAULT_METRICS_TOKEN in an Authorization: Bearer header.',
  },
  MetricsTokenInvalid: { status: 401, code: 401, message: 'The metrics token is not this server’s.' },
  RouteNotFound: { status: 404, code: 404, message: 'There is nothing at this address.' },
  Internal: {
    status: 500,
    code: 500,
    message: 'Something went wrong on the server; it has been logged.',
    transient: true,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorName = keyof typeof ERRORS;

/** The MQTT reply `result` of a catalogue entry: its own, else its envelope code. */
export function mqttResultOf(name: ErrorName): number {
  const spec: ErrorSpec = ERRORS[name];
  return spec.mqttResult ?? spec.code;
}

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly kind: ErrorName;
  readonly status: number;
  readonly code: number;
  /** The MQTT reply `result` for this error (the envelope code where the catalogue names none). */
  readonly mqttResult: number;
  /** The same request may succeed later: over MQTT, left unanswered so the device resends. */
  readonly transient: boolean;
  /** Extra machine-readable detail rendered into `data` (never secrets). */
  readonly details: unknown;

  /**
   * `options.code` replaces the entry's code where the catalogue says the device's own code is passed on
   * (DeviceResult: a dock's DJI error code, as DJI's demo answers it).
   */
  constructor(
    kind: ErrorName,
    message?: string,
    options?: { cause?: unknown; details?: unknown; code?: number },
  ) {
    const spec: ErrorSpec = ERRORS[kind];
    // Errors that answer a client (4xx, and code-carrying 200s) are expected: a stack trace would cost
    // more than the rest of the request and nobody reads it. Server errors keep theirs.
    const stackTraceLimit = Error.stackTraceLimit;
    if (spec.status < 500) Error.stackTraceLimit = 0;
    super(message ?? spec.message, options?.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.kind = kind;
    this.status = spec.status;
    this.code = options?.code ?? spec.code;
    this.mqttResult = options?.code ?? mqttResultOf(kind);
    this.transient = spec.transient ?? false;
    this.details = options?.details;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
