/**
 * Row types of every table, as the code sees them: Kysely's CamelCasePlugin maps these camelCase names
 * to the snake_case columns that the migrations create. Times are epoch milliseconds (integers).
 */
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
}

export interface DB {
  serverSettings: ServerSettingsTable;
  workspaces: WorkspacesTable;
  users: UsersTable;
}
