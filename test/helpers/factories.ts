/** Rows for tests, written through the real repositories. */
import type { Kysely } from 'kysely';
import type { DB, Role, UserType } from '../../src/db/schema.ts';
import type { NewMediaFile } from '../../src/features/media/media.repo.ts';
import { hashPassword } from '../../src/features/users/password.ts';
import { UserRepo } from '../../src/features/users/user.repo.ts';
import { WorkspaceRepo } from '../../src/features/workspaces/workspace.repo.ts';
import { newId, readableCode } from '../../src/shared/ids.ts';

export async function createWorkspace(db: Kysely<DB>, name = 'Other workspace'): Promise<string> {
  const id = newId();
  await new WorkspaceRepo(db).insert({
    id,
    name,
    description: '',
    platformName: 'test',
    bindCode: readableCode(8),
    createdAt: Date.now(),
    updatedAt: Date.now(),
    deletingAt: null,
  });
  return id;
}

export async function createUser(
  db: Kysely<DB>,
  workspaceId: string,
  username: string,
  password = 'user-password',
  options: { userType?: UserType; role?: Role; serverAdmin?: boolean; createdAt?: number } = {},
): Promise<string> {
  const id = newId();
  const at = options.createdAt ?? Date.now();
  await new UserRepo(db).insert({
    id,
    workspaceId,
    username,
    passwordHash: await hashPassword(password, { cost: 10 }),
    userType: options.userType ?? 2,
    mqttUsername: `mqtt-${username}`,
    mqttPassword: `mqtt-pass-${username}`,
    // A web user (type 1) administers its workspace unless told otherwise; a Pilot user operates.
    role: options.role ?? (options.userType === 1 ? 'administrator' : 'operator'),
    serverAdmin: options.serverAdmin ? 1 : 0,
    disabledAt: null,
    createdAt: at,
    updatedAt: at,
  });
  return id;
}

/** A report's row, for repository tests: `<workspace>/media/<name>.JPG`, 1,000 bytes, no metadata. */
export function newMediaFile(
  workspaceId: string,
  name: string,
  changes: Partial<NewMediaFile> = {},
): NewMediaFile {
  return {
    id: newId(),
    workspaceId,
    objectKey: `${workspaceId}/media/${name}.JPG`,
    name: `${name.split('/').pop()}.JPG`,
    path: '',
    source: 'dock',
    mediaType: 'image',
    fingerprint: null,
    tinyFingerprint: null,
    isOriginal: 1,
    subFileType: null,
    fileGroupId: null,
    droneSn: null,
    droneModelKey: null,
    payloadModelKey: null,
    size: 1000,
    contentType: 'image/jpeg',
    etag: 'etag-1',
    latitude: null,
    longitude: null,
    absoluteAltitude: null,
    relativeAltitude: null,
    gimbalYawDegree: null,
    capturedAt: null,
    capturedAtRaw: null,
    createdAt: 1,
    updatedAt: 1,
    ...changes,
  };
}
