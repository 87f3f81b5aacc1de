/**
 * The server's API as the web app uses it: the `x-auth-token` header, the `{code, message, data}`
 * envelope, and one error type whose message is the server's own plain-words explanation.
 */
import { signal } from '@preact/signals';
import { type Role, session, signOut } from './session.ts';

export type { LoginAnswer, Role } from './session.ts';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: number,
  ) {
    super(message);
  }
}

/** Counts answers refused for the caller's role (403), so the app re-reads who it is (App.tsx). */
export const refused = signal(0);

/** What went wrong, in words: an error's message, else the thrown value as text. */
export const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

interface Envelope<T> {
  code: number;
  message: string;
  data?: T;
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await send(method, path, body);
  const envelope = (await response.json().catch(() => undefined)) as Envelope<T> | undefined;
  if (!envelope) throw new ApiError(`${response.status} ${response.statusText}`, response.status, -1);
  // An expired or revoked session (HTTP 401): back to the login page, saying why. A wrong current
  // password answers code 401 with HTTP 200, and the session goes on.
  if (response.status === 401 && session.value) signOut(envelope.message);
  // The role (or workspace) refused: what the page knows of the session is stale, the overview reloads.
  if (response.status === 403 && !path.endsWith('/overview')) refused.value += 1;
  if (!response.ok || envelope.code !== 0) {
    throw new ApiError(envelope.message || response.statusText, response.status, envelope.code);
  }
  return envelope.data as T;
}

/** The raw response (the zip stream); errors still come as an envelope. */
export async function send(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  const token = session.value?.token;
  if (token) headers['x-auth-token'] = token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!response.ok && !response.headers.get('content-type')?.includes('json')) {
    throw new ApiError(`${response.status} ${response.statusText}`, response.status, -1);
  }
  return response;
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

export interface MediaItem {
  id: string;
  name: string;
  path: string;
  media_type: 'image' | 'video' | 'other';
  source: 'pilot' | 'dock';
  size: number;
  content_type: string;
  is_original: boolean;
  taken_at: number;
  captured_at: number | null;
  created_at: number;
  captured_time_local: string | null;
  captured_time_is_device_local: boolean | null;
  drone_sn: string | null;
  drone_model_key: string | null;
  drone_name: string | null;
  payload_model_key: string | null;
  payload_name: string | null;
  file_group_id: string | null;
  latitude: number | null;
  longitude: number | null;
  absolute_altitude: number | null;
  relative_altitude: number | null;
  gimbal_yaw_degree: number | null;
  duration_ms: number | null;
  thumbnail_url: string | null;
}

export interface MediaDetail extends MediaItem {
  preview_url: string | null;
  stream_url: string;
  download_url: string;
}

export interface MediaPage {
  items: MediaItem[];
  next_cursor: string | null;
}

export interface Facets {
  total: number;
  /** false: `total` is an estimate (labelled as such on the page). */
  total_exact: boolean;
  types: { type: MediaItem['media_type']; count: number }[];
  devices: { device_sn: string | null; name: string | null; model_key: string | null; count: number }[];
}

export interface Cluster {
  latitude: number;
  longitude: number;
  count: number;
  /** One file of the cluster; the file itself when count is 1. */
  file_id: string;
}

export interface MapAnswer {
  clusters: Cluster[];
  /** false: the filter matched more files than are clustered on the fly. */
  exact: boolean;
  /** Side of the clustering grid's cells. */
  cell_degrees: number;
}

export interface FileGroup {
  id: string;
  expected: number | null;
  stored: number;
  reported_uploaded: number | null;
  complete: boolean | null;
  uploading: boolean;
  gateway_sn: string | null;
  updated_at: number;
  thumbnail_url?: string | null;
}

export interface Overview {
  workspace: { id: string; name: string; description: string; platform_name: string; bind_code: string };
  user: { username: string; user_type: number; role: Role; server_admin: boolean };
  pilot_url: string;
  mqtt_address: string;
  mqtt_username: string;
  mqtt_password: string | null;
  map_tiles: string | null;
  version: string;
}

/** A user of a workspace as its administrators see it (`/api/v1/workspaces/{ws}/users`). */
export interface Account {
  user_id: string;
  username: string;
  role: Role;
  disabled: boolean;
  server_admin: boolean;
  mqtt_username: string;
  /** Logins open now. */
  sessions: number;
  /** Epoch ms. */
  created_at: number;
}

/** A workspace as server administrators list it (`/api/v1/workspaces`). */
export interface WorkspaceItem {
  workspace_id: string;
  name: string;
  description: string;
  bind_code: string;
  users: number;
  devices: number;
  /** Its objects and records are being deleted. */
  deleting: boolean;
  /** The workspace created on first start: it cannot be deleted. */
  default: boolean;
  created_at: number;
}

/** Sessions, a workspace's users and workspaces (docs/accounts.md). */
export const accountPaths = {
  logout: () => '/api/v1/session/logout',
  password: () => '/api/v1/session/password',
  users: (ws: string) => `/api/v1/workspaces/${ws}/users`,
  user: (ws: string, id: string) => `/api/v1/workspaces/${ws}/users/${encodeURIComponent(id)}`,
  userPassword: (ws: string, id: string) =>
    `/api/v1/workspaces/${ws}/users/${encodeURIComponent(id)}/password`,
  userMqttPassword: (ws: string, id: string) =>
    `/api/v1/workspaces/${ws}/users/${encodeURIComponent(id)}/mqtt-password`,
  bindCode: (ws: string) => `/api/v1/workspaces/${ws}/bind-code`,
  workspaces: () => '/api/v1/workspaces',
  workspace: (ws: string) => `/api/v1/workspaces/${encodeURIComponent(ws)}`,
};

/** Paths of the workspace's web API (docs/web-api.md). */
export const paths = {
  overview: (ws: string) => `/api/v1/workspaces/${ws}/overview`,
  media: (ws: string) => `/api/v1/workspaces/${ws}/media`,
  file: (ws: string, id: string) => `/api/v1/workspaces/${ws}/media/${encodeURIComponent(id)}`,
  facets: (ws: string) => `/api/v1/workspaces/${ws}/media/facets`,
  map: (ws: string) => `/api/v1/workspaces/${ws}/media/map`,
  zip: (ws: string) => `/api/v1/workspaces/${ws}/media/zip`,
  groups: (ws: string) => `/api/v1/workspaces/${ws}/file-groups`,
};

/** A device as DJI's DeviceDTO describes it (`…/devices/bound`); a gateway's aircraft in `children`. */
export interface Device {
  device_sn: string;
  /** The model's name from the device dictionary (e.g. "DJI Dock", "Matrice 30"), else its model key. */
  device_name: string;
  device_model_key: string;
  /** The callsign given at binding, else the SN. */
  nickname: string;
  /** 0 aircraft, 1 payload, 2 remote controller, 3 dock. */
  domain: number;
  type: number;
  sub_type: number;
  parent_sn?: string;
  child_device_sn?: string;
  firmware_version?: string;
  /** Online. */
  status: boolean;
  bound_status: boolean;
  /** yyyy-MM-dd HH:mm:ss, the server's time zone. */
  bound_time?: string;
  /** Last seen, yyyy-MM-dd HH:mm:ss, the server's time zone. */
  login_time?: string;
  children?: Device;
}

export interface DevicePage {
  list: Device[];
  pagination: { page: number; page_size: number; total: number };
}

/** Whose logs: "3" the dock, "0" its aircraft. */
export type LogModule = '0' | '3';

export interface LogBoot {
  boot_index: number;
  /** As the device gave them (seconds or ms): sent back unchanged when uploading. */
  start_time?: number;
  end_time?: number;
  /** Bytes. */
  size?: number;
  /** Epoch ms, normalised by the server (the device may send seconds or ms). */
  start_time_ms?: number;
  end_time_ms?: number;
}

export interface LogListing {
  files: {
    device_sn: string;
    module: LogModule;
    /** 0, or the device's error code for this module (e.g. 324015: aircraft off). */
    result: number;
    reason?: string;
    list: LogBoot[];
  }[];
}

export interface LogFileProgress {
  device_sn: string;
  device_model_domain: LogModule;
  progress: number;
  result: number;
  /** Bytes per second. */
  upload_rate: number;
  /** file_pull, file_zip, file_uploading, in_progress, ok, failed, canceled, timeout… */
  status: string;
  reason?: string | null;
  file_id?: string;
}

/** 1 uploading, 2 done, 3 canceled, 4 failed. */
export type LogTaskStatus = 1 | 2 | 3 | 4;

export interface DeviceLogs {
  logs_id: string;
  user_name: string;
  logs_information: string;
  happen_time?: string | null;
  create_time: string;
  created_at: number;
  status: LogTaskStatus;
  result: number;
  reason: string | null;
  logs_progress: LogFileProgress[];
  device_logs: {
    files: {
      file_id: string;
      device_sn: string;
      module: LogModule;
      status: string;
      size: number | null;
      progress?: number;
      /** Present once uploaded. */
      object_key?: string;
      list: { boot_index: number; start_time?: number; end_time?: number; size?: number }[];
    }[];
  };
}

export interface DeviceLogsPage {
  list: DeviceLogs[];
  pagination: { page: number; page_size: number; total: number };
}

/** The `fileupload_progress` live message's `data`. */
export interface LogProgressEvent {
  bid?: string;
  sn: string;
  output: {
    logs_id: string;
    status: string;
    task_status?: LogTaskStatus;
    reason?: string | null;
    files?: LogFileProgress[];
  };
}

/** Devices and their remote logs, at the DJI demo's paths (`/manage/api/v1/…`). */
export const devicePaths = {
  bound: (ws: string) => `/manage/api/v1/devices/${ws}/devices/bound`,
  device: (ws: string, sn: string) => `/manage/api/v1/devices/${ws}/devices/${encodeURIComponent(sn)}`,
  bind: (sn: string) => `/manage/api/v1/devices/${encodeURIComponent(sn)}/binding`,
  unbind: (sn: string) => `/manage/api/v1/devices/${encodeURIComponent(sn)}/unbinding`,
  currentUser: () => '/manage/api/v1/users/current',
  logs: (ws: string, sn: string) => `/manage/api/v1/workspaces/${ws}/devices/${encodeURIComponent(sn)}/logs`,
  logsUploaded: (ws: string, sn: string) =>
    `/manage/api/v1/workspaces/${ws}/devices/${encodeURIComponent(sn)}/logs-uploaded`,
  logsTask: (ws: string, sn: string, logsId: string) =>
    `/manage/api/v1/workspaces/${ws}/devices/${encodeURIComponent(sn)}/logs/${encodeURIComponent(logsId)}`,
  logsFileUrl: (ws: string, logsId: string, fileId: string) =>
    `/manage/api/v1/workspaces/${ws}/logs/${encodeURIComponent(logsId)}/url/${encodeURIComponent(fileId)}`,
};
