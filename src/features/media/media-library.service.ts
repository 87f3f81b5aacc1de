/**
 * The media library: finding, downloading and deleting what devices uploaded, and the completeness of
 * file groups. Recording uploads is media.service.ts's job; this service only reads and removes.
 */
import { AppError } from '../../shared/app-error.ts';
import type { StorageProvider } from '../../storage/provider.ts';
import type { LibraryFile, MediaFile, MediaFilter, MediaRepo } from './media.repo.ts';

export interface MediaLibraryOptions {
  repo: MediaRepo;
  storage: StorageProvider;
  /** Lifetime of download links. */
  linkTtlSeconds: number;
}

export interface FileGroupSummary {
  id: string;
  /** Media Pilot said the group holds; null when it never reported the group. */
  expected: number | null;
  /** What Pilot reported as uploaded. */
  reportedUploaded: number | null;
  /** Media of the group recorded in the library. */
  stored: number;
  /** stored ≥ expected (unknown when expected is). */
  complete: boolean | null;
  updatedAt: number;
}

export class MediaLibraryService {
  private readonly repo: MediaRepo;

  constructor(private readonly options: MediaLibraryOptions) {
    this.repo = options.repo;
  }

  list(workspaceId: string, filter: MediaFilter, page: { page: number; pageSize: number }) {
    return this.repo.list(workspaceId, filter, {
      offset: (page.page - 1) * page.pageSize,
      limit: page.pageSize,
    });
  }

  async get(workspaceId: string, fileId: string): Promise<LibraryFile> {
    const file = await this.repo.findById(workspaceId, fileId);
    if (!file) throw new AppError('MediaFileNotFound', `There is no file ${fileId} in this workspace.`);
    return file;
  }

  /** A time-limited URL that downloads the file under its own name. */
  async downloadUrl(
    workspaceId: string,
    fileId: string,
    publicHostname: string | undefined,
  ): Promise<string> {
    const file = await this.get(workspaceId, fileId);
    return this.options.storage.presignGet(file.objectKey, {
      ttlSeconds: this.options.linkTtlSeconds,
      publicHostname,
      downloadName: file.name,
    });
  }

  /** A time-limited URL of the file's thumbnail, if it has one. */
  thumbnailUrl(file: MediaFile, publicHostname: string | undefined): Promise<string> | undefined {
    if (!file.thumbnailKey) return undefined;
    return this.options.storage.presignGet(file.thumbnailKey, {
      ttlSeconds: this.options.linkTtlSeconds,
      publicHostname,
    });
  }

  /**
   * Deletes files of the workspace: the records first (so nothing shows a file whose object is gone),
   * then their objects and thumbnails. Returns the ids deleted; ids of other workspaces or unknown ones
   * are simply not among them.
   */
  async delete(workspaceId: string, fileIds: string[]): Promise<string[]> {
    const deleted = await this.repo.deleteMany(workspaceId, [...new Set(fileIds)]);
    for (const file of deleted) {
      await this.options.storage.delete(file.objectKey);
      if (file.thumbnailKey) await this.options.storage.delete(file.thumbnailKey);
    }
    return deleted.map((f) => f.id);
  }

  async groups(workspaceId: string): Promise<FileGroupSummary[]> {
    const [reported, counted] = await Promise.all([
      this.repo.groups(workspaceId),
      this.repo.groupCounts(workspaceId),
    ]);
    const byId = new Map<string, FileGroupSummary>();
    for (const count of counted) {
      byId.set(count.fileGroupId, {
        id: count.fileGroupId,
        expected: null,
        reportedUploaded: null,
        stored: count.stored,
        complete: null,
        updatedAt: count.lastAt,
      });
    }
    for (const group of reported) {
      const stored = byId.get(group.id)?.stored ?? 0;
      byId.set(group.id, {
        id: group.id,
        expected: group.expectedCount,
        reportedUploaded: group.reportedUploadedCount,
        stored,
        complete: group.expectedCount === null ? null : stored >= group.expectedCount,
        updatedAt: Math.max(group.updatedAt, byId.get(group.id)?.updatedAt ?? 0),
      });
    }
    return [...byId.values()].sort((a, b) => b.updatedAt - a.updatedAt);
  }
}
