/**
 * The server's API as the web app uses it: the `x-auth-token` header, the `{code, message, data}`
 * envelope, and one error type whose message is the server's own plain-words explanation.
 */
import { session, signOut } from './session.ts';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: number,
  ) {
    super(message);
  }
}

interface Envelope<T> {
  code: number;
  message: string;
  data?: T;
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await send(method, path, body);
  const envelope = (await response.json().catch(() => undefined)) as Envelope<T> | undefined;
  if (!envelope) throw new ApiError(`${response.status} ${response.statusText}`, response.status, -1);
  if (response.status === 401 || envelope.code === 401) {
    // An expired or revoked session: back to the login page, saying why.
    if (session.value) signOut(envelope.message);
  }
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
  user: { username: string; user_type: number };
  pilot_url: string;
  mqtt_address: string;
  mqtt_username: string;
  mqtt_password: string | null;
  map_tiles: string | null;
  version: string;
}

export interface LoginAnswer {
  username: string;
  workspace_id: string;
  access_token: string;
  expires_at: number;
}

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
