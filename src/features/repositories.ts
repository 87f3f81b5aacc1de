/**
 * Every repository, built once over one database handle by the composition root and handed to the
 * services that use them (each service gets only its own). `transaction` gives the same set bound to one
 * transaction, for work that must be all or nothing across tables (the first-start bootstrap).
 */
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import type { SecretBox } from '../shared/secret-box.ts';
import { DeviceRepo } from './devices/device.repo.ts';
import { MediaRepo } from './media/media.repo.ts';
import { PendingReportRepo } from './media/pending-report.repo.ts';
import { SettingsRepo } from './settings/settings.repo.ts';
import { UserRepo } from './users/user.repo.ts';
import { WorkspaceRepo } from './workspaces/workspace.repo.ts';

export class Repositories {
  readonly settings: SettingsRepo;
  readonly workspaces: WorkspaceRepo;
  readonly users: UserRepo;
  readonly devices: DeviceRepo;
  readonly media: MediaRepo;
  readonly pendingReports: PendingReportRepo;

  /** `secrets` seals the secrets some tables keep (device MQTT passwords). */
  constructor(
    /** The handle these repositories use (for repositories built elsewhere over the same one). */
    readonly db: Kysely<DB>,
    private readonly secrets?: SecretBox,
  ) {
    this.settings = new SettingsRepo(db);
    this.workspaces = new WorkspaceRepo(db);
    this.users = new UserRepo(db, secrets);
    this.devices = new DeviceRepo(db);
    this.media = new MediaRepo(db);
    this.pendingReports = new PendingReportRepo(db);
  }

  /** Runs `work` with repositories whose statements all belong to one transaction. */
  transaction<T>(work: (repos: Repositories) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => work(new Repositories(trx, this.secrets)));
  }
}
