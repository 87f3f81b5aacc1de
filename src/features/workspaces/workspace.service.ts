/**
 * Workspaces as a server administrator manages them (issue 13, docs/accounts.md): create, rename,
 * delete. A workspace is a tenant: its users, devices, media and logs belong to it alone.
 *
 * Deleting one is confirmed by its name and happens in three steps. First, at once, it is marked
 * (`deleting_at`): its users can no longer log in, their sessions and MQTT connections end, no new
 * upload credentials are issued for it, and it is listed as being deleted. Then, in the background,
 * every object under its prefix (`<id>/…`: media, thumbnails, previews, logs) is deleted, page by page.
 * Upload credentials handed out before the mark stay valid until they expire (cloud STS credentials
 * cannot be revoked), so the last step waits for that: once `credentialTtlMs` has passed since the mark,
 * the prefix is swept again and the rows go (users, media, log tasks with it; its devices become
 * unbound). A deletion cut short (a restart) resumes at the next start. The default workspace and the
 * administrator's own cannot be deleted.
 */
import { AppError } from '../../shared/app-error.ts';
import { newId, readableCode } from '../../shared/ids.ts';
import type { Logger } from '../../shared/logger.ts';
import type { StorageProvider } from '../../storage/provider.ts';
import type { UserRepo } from '../users/user.repo.ts';
import type { Workspace, WorkspaceListItem, WorkspaceRepo } from './workspace.repo.ts';

export interface WorkspaceServiceOptions {
  workspaces: WorkspaceRepo;
  users: UserRepo;
  storage: Pick<StorageProvider, 'list' | 'delete'>;
  /**
   * How long upload credentials issued before a deletion may still write (SKYVAULT_CREDENTIAL_TTL, plus
   * a margin): the final sweep waits this long after the mark.
   */
  credentialTtlMs: number;
  defaultWorkspaceId: string;
  platformName: string;
  /** Every session check cached before a deletion started is dropped (SessionService.forgetAll). */
  forgetSessions: () => void;
  onMqttAccountRevoked?: ((mqttUsername: string) => void) | undefined;
  logger: Logger;
  now?: () => number;
}

const PAGE = 500;
/** How often deletions waiting for their final sweep are looked at. */
const FINISH_CHECK_MS = 60_000;

export class WorkspaceService {
  private readonly now: () => number;
  /** Deletions running in this process, by workspace id. */
  private readonly running = new Map<string, Promise<void>>();
  private closing = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: WorkspaceServiceOptions) {
    this.now = options.now ?? Date.now;
  }

  list(): Promise<WorkspaceListItem[]> {
    return this.options.workspaces.listWithCounts();
  }

  async create(request: { name: string; description?: string | undefined }): Promise<Workspace> {
    const now = this.now();
    const workspace: Workspace = {
      id: newId(),
      name: request.name.trim(),
      description: request.description?.trim() ?? '',
      platformName: this.options.platformName,
      bindCode: readableCode(6),
      createdAt: now,
      updatedAt: now,
      deletingAt: null,
    };
    if (!workspace.name) throw new AppError('BadRequest', 'A workspace needs a name.');
    await this.options.workspaces.insert(workspace);
    return workspace;
  }

  async update(
    id: string,
    change: { name?: string | undefined; description?: string | undefined },
  ): Promise<Workspace> {
    const workspace = await this.live(id);
    const fields: { name?: string; description?: string } = {};
    if (change.name !== undefined) {
      fields.name = change.name.trim();
      if (!fields.name) throw new AppError('BadRequest', 'A workspace needs a name.');
    }
    if (change.description !== undefined) fields.description = change.description.trim();
    await this.options.workspaces.update(id, fields, this.now());
    return { ...workspace, ...fields };
  }

  /**
   * Starts deleting a workspace, confirmed by its exact name; resolves once it is marked (its accounts
   * are shut out), while its objects and rows go in the background (`whenDeleted` waits for that).
   */
  async delete(callerWorkspaceId: string, id: string, confirm: string): Promise<Workspace> {
    const workspace = await this.live(id);
    if (id === this.options.defaultWorkspaceId || id === callerWorkspaceId) {
      throw new AppError('WorkspaceProtected');
    }
    if (confirm !== workspace.name) throw new AppError('ConfirmationMismatch');
    const now = this.now();
    await this.options.workspaces.update(id, { deletingAt: now }, now);
    this.options.forgetSessions();
    for (const name of await this.options.users.mqttUsernamesOf(id)) {
      this.options.onMqttAccountRevoked?.(name);
    }
    this.purge(id, now);
    return { ...workspace, deletingAt: now };
  }

  /**
   * At start: resumes the deletions a previous run did not finish (their objects are swept again, and
   * those whose credentials have expired are finished), then looks every minute for deletions to finish.
   */
  async start(): Promise<void> {
    for (const workspace of await this.options.workspaces.listDeleting()) {
      this.purge(workspace.id, workspace.deletingAt ?? 0);
    }
    this.timer ??= setInterval(() => void this.finishDue(), FINISH_CHECK_MS).unref();
  }

  /** Finishes the deletions whose earlier credentials have all expired: a last sweep, then the rows. */
  async finishDue(): Promise<void> {
    const due = (await this.options.workspaces.listDeleting()).filter((w) => this.isDue(w.deletingAt ?? 0));
    for (const workspace of due) this.purge(workspace.id, workspace.deletingAt ?? 0);
    await Promise.allSettled(due.map((w) => this.settled(w.id)));
  }

  /** Resolves when this process's current work on the workspace's deletion is done (tests, shutdown). */
  async settled(id: string): Promise<void> {
    await this.running.get(id);
  }

  /** Stops running deletions after the object being deleted (they resume at the next start). */
  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.running.values()]);
  }

  private isDue(deletingAt: number): boolean {
    return this.now() >= deletingAt + this.options.credentialTtlMs;
  }

  /** Sweeps the workspace's objects; once its credentials have expired, removes its rows too. */
  private purge(id: string, deletingAt: number): void {
    if (this.running.has(id) || this.closing) return;
    const { logger } = this.options;
    const job = this.deleteObjects(id)
      .then(async (count) => {
        if (!this.isDue(deletingAt)) {
          logger.info(
            { workspaceId: id, objects: count },
            'workspace objects deleted; rows go once its credentials expire',
          );
          return;
        }
        await this.options.workspaces.delete(id);
        logger.info({ workspaceId: id, objects: count }, 'workspace deleted');
      })
      .catch((error: unknown) => {
        logger.error(
          { err: error, workspaceId: id },
          'workspace deletion stopped; it resumes at the next start',
        );
      })
      .finally(() => this.running.delete(id));
    this.running.set(id, job);
  }

  private async deleteObjects(id: string): Promise<number> {
    const { storage, logger } = this.options;
    let count = 0;
    let after: string | undefined;
    for (;;) {
      const page = await storage.list(`${id}/`, { limit: PAGE, ...(after ? { after } : {}) });
      for (const object of page.objects) {
        if (this.closing) throw new Error('shutting down');
        await storage.delete(object.key);
      }
      count += page.objects.length;
      if (page.objects.length > 0)
        logger.info({ workspaceId: id, objects: count }, 'deleting workspace objects');
      if (page.nextAfter === undefined) return count;
      after = page.nextAfter;
    }
  }

  private async live(id: string): Promise<Workspace> {
    const workspace = await this.options.workspaces.findById(id);
    if (!workspace || workspace.deletingAt !== null) throw new AppError('WorkspaceMissing');
    return workspace;
  }
}
