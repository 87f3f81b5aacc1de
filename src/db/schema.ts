/**
 * Row types of every table, as the code sees them: Kysely's CamelCasePlugin maps these camelCase names
 * to the snake_case columns that the migrations create. Times are epoch milliseconds (integers).
 */
import type { Generated, GeneratedAlways } from 'kysely';

export interface ServerSettingsTable {
  key: string;
  value: string;
}

export interface WorkspacesTable {
  /** UUID (DJI requires a UUID workspace id in the JSBridge). */
  id: string;
  name: string;
  description: string;
  platformName: string;
  /** Code an installer types in Pilot 2 to bind a dock to this workspace (DJI "organization"). */
  bindCode: string;
  createdAt: number;
  updatedAt: number;
  /** Epoch ms when deletion started (its objects go, then its rows); null otherwise. */
  deletingAt: number | null;
}

/** DJI user types: 1 = web user, 2 = pilot (the `flag` of the login call). */
export type UserType = 1 | 2;

export interface UsersTable {
  id: string;
  workspaceId: string;
  username: string;
  /** scrypt hash, see features/users/password.ts. */
  passwordHash: string;
  userType: UserType;
  /** Credentials devices log in to MQTT with (DJI `mqtt_username` / `mqtt_password`). */
  mqttUsername: string;
  mqttPassword: string;
  createdAt: number;
  updatedAt: number;
  /** The user's role in its workspace (features/users/roles.ts). */
  role: Role;
  /** 1 = server administrator: manages workspaces and their accounts. */
  serverAdmin: number;
  /** Epoch ms when an administrator disabled the user; null = enabled. */
  disabledAt: number | null;
}

/** Roles within a workspace (features/users/roles.ts says what each may do). */
export type Role = 'administrator' | 'operator' | 'viewer' | 'device';

/** One login: a token names its session, which ends at logout, at its lifetime, or when revoked. */
export interface SessionsTable {
  id: string;
  userId: string;
  /** The login's client (`flag`): 1 web, 2 Pilot 2. */
  client: UserType;
  createdAt: number;
  /** Epoch ms: the absolute end of the session, however often its token is refreshed. */
  expiresAt: number;
  refreshedAt: number;
}

export type MediaSource = 'pilot' | 'dock';
export type MediaType = 'image' | 'video' | 'other';

export interface MediaFilesTable {
  id: string;
  workspaceId: string;
  objectKey: string;
  name: string;
  /** DJI business path (wayline folder name), '' when none. */
  path: string;
  source: MediaSource;
  /** From the content type, else the file name's extension. */
  mediaType: MediaType;
  /** Pilot's file fingerprint, upper-cased (compared case-insensitively, docs/protocol.md §10.9). */
  fingerprint: string | null;
  /** Pilot's tiny fingerprint, exactly as sent (never computed, §9). */
  tinyFingerprint: string | null;
  /** 1 original, 0 not (DJI `is_original`). */
  isOriginal: number;
  /** Images: 0 normal, 1 panorama. */
  subFileType: number | null;
  fileGroupId: string | null;
  /** Aircraft serial number. */
  droneSn: string | null;
  droneModelKey: string | null;
  payloadModelKey: string | null;
  size: number;
  contentType: string;
  etag: string;
  latitude: number | null;
  longitude: number | null;
  absoluteAltitude: number | null;
  relativeAltitude: number | null;
  gimbalYawDegree: number | null;
  /** Capture time, epoch ms, when the device said it with a zone or we could place it. */
  capturedAt: number | null;
  /** Capture time exactly as the device sent it. */
  capturedAtRaw: string | null;
  /** Key of the generated thumbnail (images), outside the prefix devices may write to. */
  thumbnailKey: string | null;
  /** When metadata enrichment and the thumbnail were done; null = still to do. */
  enrichedAt: number | null;
  /** Large JPEG rendition for the web's detail view (images; a frame of videos). */
  previewKey: string | null;
  /** Videos: their length, when it could be read. */
  durationMs: number | null;
  /** Why enrichment gave up on the file (migration 0009); null when it did not. */
  enrichmentError: string | null;
  /** Enrichments of the file started and never ended: the process died on it (migration 0009). */
  enrichmentAttempts: Generated<number>;
  /** What the library sorts and filters by: capturedAt, else createdAt (a generated column). */
  takenAt: GeneratedAlways<number>;
  createdAt: number;
  updatedAt: number;
}

/** An upload the device reported as failed (`result` ≠ 0): kept for the record, never shown as media. */
export interface MediaUploadFailuresTable {
  id: string;
  workspaceId: string;
  objectKey: string;
  name: string;
  source: MediaSource;
  result: number;
  fingerprint: string | null;
  reportedAt: number;
}

export interface FileGroupsTable {
  workspaceId: string;
  id: string;
  /** Media the group should hold (Pilot's `file_count`). */
  expectedCount: number | null;
  /** What Pilot reported as uploaded (`file_uploaded_count`); the stored count is counted from media_files. */
  reportedUploadedCount: number | null;
  /** The gateway that uploads the group's media (docks: the `flight_id` of its wayline task). */
  gatewaySn: string | null;
  /** When the dock last said it uploads this group's media first (`highest_priority_upload_flighttask_media`). */
  prioritizedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export type DeviceKind = 'gateway' | 'sub_device';

export interface DevicesTable {
  sn: string;
  /** null = not bound to a workspace yet. */
  workspaceId: string | null;
  kind: DeviceKind;
  /** Sub-devices: the gateway they were last seen under. */
  parentSn: string | null;
  domain: number;
  type: number;
  subType: number;
  /** `domain-type-sub_type`, e.g. `3-1-0` (Dock), `0-67-0` (M30). Opaque: new models need no code. */
  modelKey: string;
  callsign: string | null;
  thingVersion: string | null;
  /** Sub-devices: the gateway's control channel ("A"/"B"). */
  controlIndex: string | null;
  /** As the device last reported it (osd/state `firmware_version`). */
  firmwareVersion: string | null;
  online: number;
  lastSeenAt: number | null;
  boundAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/** A file counted in a group it is not recorded under (a fast-upload hit for another group). */
/** How many files are recorded under each file group (kept by triggers: migration 0013). */
export interface MediaGroupCountsTable {
  workspaceId: string;
  fileGroupId: string;
  fileCount: number;
}

export interface FileGroupMembersTable {
  workspaceId: string;
  fileGroupId: string;
  fileId: string;
  linkedAt: number;
}

/** The device dictionary: what DJI calls each model (docs/protocol.md §7.6). */
export interface DeviceModelsTable {
  modelKey: string;
  domain: number;
  type: number;
  subType: number;
  name: string;
}

export interface PendingDeviceReportsTable {
  id: string;
  gatewaySn: string;
  method: string;
  /** The envelope's `data`, as received. */
  payload: string;
  receivedAt: number;
}

/**
 * Files per (workspace, aircraft, type), kept by triggers (migration 0007): totals and facets without
 * counting media_files.
 */
export interface MediaCountsTable {
  workspaceId: string;
  /** '' for files that name no aircraft. */
  droneSn: string;
  mediaType: MediaType;
  fileCount: number;
  /** The aircraft model its files last named. */
  droneModelKey: string | null;
}

/**
 * Geotagged files per map grid cell, aircraft and type, kept by triggers (migration 0007): cells are
 * 360 / 2^level degrees square; cx counts from longitude -180, cy from latitude -90.
 */
export interface MediaMapCellsTable {
  workspaceId: string;
  level: number;
  cx: number;
  cy: number;
  /** The files' aircraft ('' for none) and type: the map filtered by them reads these rows. */
  droneSn: string;
  mediaType: MediaType;
  fileCount: number;
  /** Sums of the files' coordinates: the cell's centroid is sum / fileCount. */
  sumLat: number;
  sumLon: number;
  /** One file of the cell. */
  sampleId: string | null;
}

/** SQLite only: the text index's stable document number of each file (migration 0007). */
export interface MediaSearchDocsTable {
  doc: GeneratedAlways<number>;
  fileId: string;
}

/** DJI's log task status (docs/protocol.md §5.1): 1 uploading, 2 done, 3 canceled, 4 failed. */
export type LogTaskStatus = 1 | 2 | 3 | 4;

/** One device-log upload a user asked a dock for (migration 0008); id = the fileupload_start bid. */
export interface LogTasksTable {
  id: string;
  workspaceId: string;
  gatewaySn: string;
  userId: string | null;
  username: string;
  description: string;
  /** Its files' modules, comma-separated ("3,0"). */
  modules: string;
  happenAt: number | null;
  status: LogTaskStatus;
  uploadStatus: string | null;
  /** The DJI error code that ended it, 0 when none. */
  result: number;
  /** Skyvault's own reason when it ended the task itself (silence, no answer). */
  failure: string | null;
  deadlineAt: number;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

/** One module's log archive of a task (migration 0008). */
export interface LogTaskFilesTable {
  id: string;
  taskId: string;
  module: '0' | '3';
  deviceSn: string;
  /** The key Skyvault assigned in fileupload_start. */
  objectKey: string;
  /** The `key` the dock reports in its progress, when it says one. */
  reportedKey: string | null;
  /** JSON array of the chosen boot sessions, as the device listed them. */
  bootLogs: string;
  status: string | null;
  rank: number;
  percent: number;
  currentStep: number | null;
  totalStep: number | null;
  uploadRate: number | null;
  result: number;
  size: number | null;
  fingerprint: string | null;
  finishTime: number | null;
  updatedAt: number;
}

export interface DB {
  serverSettings: ServerSettingsTable;
  workspaces: WorkspacesTable;
  users: UsersTable;
  sessions: SessionsTable;
  mediaFiles: MediaFilesTable;
  mediaUploadFailures: MediaUploadFailuresTable;
  fileGroups: FileGroupsTable;
  devices: DevicesTable;
  pendingDeviceReports: PendingDeviceReportsTable;
  deviceModels: DeviceModelsTable;
  fileGroupMembers: FileGroupMembersTable;
  mediaGroupCounts: MediaGroupCountsTable;
  mediaCounts: MediaCountsTable;
  mediaMapCells: MediaMapCellsTable;
  mediaSearchDocs: MediaSearchDocsTable;
  logTasks: LogTasksTable;
  logTaskFiles: LogTaskFilesTable;
}
