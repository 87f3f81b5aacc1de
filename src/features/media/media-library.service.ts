/**
 * The media library: finding, downloading and deleting what devices uploaded, and the completeness of
 * file groups. Recording uploads is media.service.ts's job; this service only reads and removes.
 *
 * Two ways to page: the DJI paths' page numbers with exact totals (`list`), and the web app's cursors
 * (`browse`, docs/web-api.md), whose pages cost the same however deep. Facets and map clusters read
 * the kept tables of migration 0007 when the filter allows, and count a bounded number of files
 * otherwise, saying so (`totalExact`, `exact`).
 */
import type { MediaType } from '../../db/schema.ts';
import { AppError } from '../../shared/app-error.ts';
import type { StorageProvider } from '../../storage/provider.ts';
import {
  type BoundingBox,
  type CellRange,
  type CountCell,
  isKeptFilter,
  KEPT_MAP_LEVELS,
  type LibraryCursor,
  type LibraryFile,
  type MapCluster,
  type MediaFile,
  type MediaFilter,
  type MediaRepo,
} from './media.repo.ts';

export interface MediaLibraryOptions {
  repo: MediaRepo;
  storage: StorageProvider;
  /** Lifetime of download links. */
  linkTtlSeconds: number;
  /** Current time in epoch ms (which groups are uploading now). */
  now?: () => number;
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
  /** The gateway uploading the group, when a dock said so. */
  gatewaySn: string | null;
  /** When its newest file was recorded; null when it has none. */
  lastArrivalAt: number | null;
}

/** A file group as the web app lists it. */
export interface FileGroupView extends FileGroupSummary {
  /** Its gateway uploads it first now, or one of its files arrived within UPLOADING_WINDOW_MS. */
  uploading: boolean;
  /** The thumbnail of its newest file. */
  thumbnailUrl: string | null;
}

export interface Facets {
  /** Files matching every filter; a lower bound when not exact. */
  total: number;
  totalExact: boolean;
  /** Per type, matching every filter but the type; always the three types. */
  types: { type: MediaType; count: number }[];
  /** Per aircraft, matching every filter but the aircraft; most files first. */
  devices: { droneSn: string | null; name: string | null; modelKey: string | null; count: number }[];
}

export interface MapView {
  clusters: MapCluster[];
  /** False when the filter matched more files than were clustered (MAP_SCAN_CAP). */
  exact: boolean;
  /** The side of the grid's cells, in degrees. */
  cellDegrees: number;
}

/** Links of one file for the web app's detail view. */
export interface FileLinks {
  thumbnailUrl: string | null;
  /** The large rendition, once enrichment made it. */
  previewUrl: string | null;
  /** The file itself, inline (for <img>/<video>, Range requests). */
  streamUrl: string;
  /** The file itself, as an attachment under its name. */
  downloadUrl: string;
}

const MEDIA_TYPES: MediaType[] = ['image', 'video', 'other'];

/** Facets under a filter the kept counts cannot answer count at most this many files. */
export const FACET_SCAN_CAP = 10_000;
/** Map clusters computed for a filter cluster at most this many files. */
export const MAP_SCAN_CAP = 20_000;
/** At most this many grid cells (markers) in one map answer: a coarser grid is used beyond. */
export const MAX_MAP_CELLS = 4096;
/** Finest grid: cells of about 2 m. */
const MAX_GRID_LEVEL = 24;
/** A group whose files arrived this recently is uploading. */
export const UPLOADING_WINDOW_MS = 60_000;

export class MediaLibraryService {
  private readonly repo: MediaRepo;
  private readonly now: () => number;

  constructor(private readonly options: MediaLibraryOptions) {
    this.repo = options.repo;
    this.now = options.now ?? Date.now;
  }

  list(workspaceId: string, filter: MediaFilter, page: { page: number; pageSize: number }) {
    return this.repo.list(workspaceId, filter, {
      offset: (page.page - 1) * page.pageSize,
      limit: page.pageSize,
    });
  }

  /** A page of the web library, newest taken_at first, and the cursor of the next (null on the last). */
  async browse(
    workspaceId: string,
    filter: MediaFilter,
    page: { cursor?: string | undefined; limit: number },
  ): Promise<{ items: LibraryFile[]; nextCursor: string | null }> {
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
    // One more than asked: whether it exists says whether there is a next page.
    const rows = await this.repo.listAfter(workspaceId, filter, { after, limit: page.limit + 1 });
    const items = rows.slice(0, page.limit);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > page.limit && last ? encodeCursor(last) : null };
  }

  /**
   * Counts for the filter menus. Each facet leaves out its own filter, so the menu shows what choosing
   * another value would give. Exact from the kept counts when the filter is by aircraft and type only;
   * otherwise counted over at most FACET_SCAN_CAP matching files.
   */
  async facets(workspaceId: string, filter: MediaFilter): Promise<Facets> {
    const [counted, names] = await Promise.all([
      isKeptFilter(filter)
        ? this.repo.keptCounts(workspaceId).then((cells) => ({ cells, exact: true }))
        : this.repo.countMatching(
            workspaceId,
            { ...filter, droneSn: undefined, mediaType: undefined },
            FACET_SCAN_CAP,
          ),
      this.repo.droneNames(workspaceId),
    ]);
    const ofDevice = (c: CountCell) => !filter.droneSn || c.droneSn === filter.droneSn;
    const ofType = (c: CountCell) => !filter.mediaType || c.mediaType === filter.mediaType;
    const sum = (cells: CountCell[]) => cells.reduce((n, c) => n + c.count, 0);
    const perDevice = new Map<string | null, number>();
    if (filter.droneSn) perDevice.set(filter.droneSn, 0); // the chosen one stays in the menu
    for (const cell of counted.cells.filter(ofType)) {
      perDevice.set(cell.droneSn, (perDevice.get(cell.droneSn) ?? 0) + cell.count);
    }
    const nameOf = new Map(names.map((n) => [n.droneSn, n]));
    return {
      total: sum(counted.cells.filter((c) => ofDevice(c) && ofType(c))),
      totalExact: counted.exact,
      types: MEDIA_TYPES.map((type) => ({
        type,
        count: sum(counted.cells.filter((c) => ofDevice(c) && c.mediaType === type)),
      })),
      devices: [...perDevice]
        .map(([droneSn, count]) => ({
          droneSn,
          name: (droneSn && nameOf.get(droneSn)?.name) ?? null,
          modelKey: (droneSn && nameOf.get(droneSn)?.modelKey) ?? null,
          count,
        }))
        .sort((a, b) => b.count - a.count || String(a.droneSn).localeCompare(String(b.droneSn))),
    };
  }

  /**
   * Map markers for a web map zoom and box: files clustered per grid cell of about 64 px at that zoom
   * (360 / 2^(zoom + 2) degrees), at their centroid. Unfiltered or filtered by aircraft and type, from
   * the kept cells (the nearest kept level; exact); when zoomed in closer than the finest kept level, or
   * with a time, group or text filter, clustered now over at most MAP_SCAN_CAP files.
   */
  async map(
    workspaceId: string,
    filter: MediaFilter,
    view: { zoom: number; bbox?: string | undefined },
  ): Promise<MapView> {
    const box = view.bbox === undefined ? undefined : parseBoundingBox(view.bbox);
    const area = box ?? WORLD;
    let level = Math.min(view.zoom + 2, MAX_GRID_LEVEL);
    const finestKept = KEPT_MAP_LEVELS.at(-1)!;
    if (isKeptFilter(filter) && (level <= finestKept + 1 || cellsIn(area, level) > MAX_MAP_CELLS)) {
      // The finest kept level not finer than asked, coarser while the box holds too many cells.
      const usable = KEPT_MAP_LEVELS.filter((l) => l <= level);
      let kept = usable.at(-1) ?? KEPT_MAP_LEVELS[0]!;
      while (cellsIn(area, kept) > MAX_MAP_CELLS && kept !== KEPT_MAP_LEVELS[0]) {
        kept = KEPT_MAP_LEVELS[KEPT_MAP_LEVELS.indexOf(kept) - 1]!;
      }
      const clusters = await this.repo.keptMapCells(workspaceId, filter, cellRange(area, kept));
      return { clusters, exact: true, cellDegrees: 360 / 2 ** kept };
    }
    while (level > 1 && cellsIn(area, level) > MAX_MAP_CELLS) level--;
    const { clusters, exact } = await this.repo.aggregateMap(workspaceId, filter, {
      level,
      box,
      cap: MAP_SCAN_CAP,
    });
    return { clusters, exact, cellDegrees: 360 / 2 ** level };
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
    return this.presign(file.thumbnailKey, publicHostname);
  }

  /** Every time-limited URL of one file, on the host name the client reached Skyvault by. */
  async links(file: MediaFile, publicHostname: string | undefined): Promise<FileLinks> {
    const [thumbnailUrl, previewUrl, streamUrl, downloadUrl] = await Promise.all([
      this.thumbnailUrl(file, publicHostname),
      file.previewKey ? this.presign(file.previewKey, publicHostname) : undefined,
      this.presign(file.objectKey, publicHostname),
      this.options.storage.presignGet(file.objectKey, {
        ttlSeconds: this.options.linkTtlSeconds,
        publicHostname,
        downloadName: file.name,
      }),
    ]);
    return { thumbnailUrl: thumbnailUrl ?? null, previewUrl: previewUrl ?? null, streamUrl, downloadUrl };
  }

  private presign(key: string, publicHostname: string | undefined): Promise<string> {
    return this.options.storage.presignGet(key, { ttlSeconds: this.options.linkTtlSeconds, publicHostname });
  }

  /**
   * Deletes files of the workspace: the records first (so nothing shows a file whose object is gone),
   * then their objects, thumbnails and previews. Returns the ids deleted; ids of other workspaces or
   * unknown ones are simply not among them.
   */
  async delete(workspaceId: string, fileIds: string[]): Promise<string[]> {
    const deleted = await this.repo.deleteMany(workspaceId, [...new Set(fileIds)]);
    for (const file of deleted) {
      await this.options.storage.delete(file.objectKey);
      if (file.thumbnailKey) await this.options.storage.delete(file.thumbnailKey);
      if (file.previewKey) await this.options.storage.delete(file.previewKey);
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
        gatewaySn: null,
        lastArrivalAt: count.lastAt,
      });
    }
    for (const group of reported) {
      const seen = byId.get(group.id);
      const stored = seen?.stored ?? 0;
      byId.set(group.id, {
        id: group.id,
        expected: group.expectedCount,
        reportedUploaded: group.reportedUploadedCount,
        stored,
        complete: group.expectedCount === null ? null : stored >= group.expectedCount,
        updatedAt: Math.max(group.updatedAt, seen?.updatedAt ?? 0),
        gatewaySn: group.gatewaySn,
        lastArrivalAt: seen?.lastArrivalAt ?? null,
      });
    }
    return [...byId.values()].sort((a, b) => b.updatedAt - a.updatedAt);
  }

  /**
   * File groups for the web app: which are uploading now (the group its dock uploads first, while
   * incomplete, or one whose files keep arriving), and a cover picture.
   */
  async fileGroups(workspaceId: string, publicHostname: string | undefined): Promise<FileGroupView[]> {
    const groups = await this.groups(workspaceId);
    const gateways = [...new Set(groups.flatMap((g) => (g.gatewaySn ? [g.gatewaySn] : [])))];
    const [priorities, covers] = await Promise.all([
      Promise.all(gateways.map((sn) => this.repo.currentPriority(sn))),
      this.repo.groupCovers(
        workspaceId,
        groups.map((g) => g.id),
      ),
    ]);
    const prioritized = new Set(priorities);
    const now = this.now();
    return Promise.all(
      groups.map(async (group) => {
        const cover = covers.get(group.id);
        return {
          ...group,
          uploading:
            (prioritized.has(group.id) && group.complete !== true) ||
            (group.lastArrivalAt !== null && now - group.lastArrivalAt < UPLOADING_WINDOW_MS),
          thumbnailUrl: cover ? await this.presign(cover, publicHostname) : null,
        };
      }),
    );
  }
}

/** The whole world, as a box. */
const WORLD: BoundingBox = { west: -180, south: -90, east: 180, north: 90 };

/** The opaque cursor of the page after `file`: its place in the order (taken_at, id). */
export function encodeCursor(file: LibraryCursor): string {
  return Buffer.from(JSON.stringify([file.takenAt, file.id])).toString('base64url');
}

export function decodeCursor(cursor: string): LibraryCursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    !Number.isSafeInteger(value[0]) ||
    typeof value[1] !== 'string' ||
    value[1].length === 0 ||
    value[1].length > 64
  ) {
    throw new AppError(
      'BadRequest',
      'The cursor is not valid: pass the next_cursor of the previous page as it was, or start again without one.',
    );
  }
  return { takenAt: value[0] as number, id: value[1] };
}

/**
 * `west,south,east,north` in degrees. Longitudes are wrapped into -180..180 (web maps give 200 for
 * -160 after panning across the antimeridian); a box with west > east crosses the antimeridian, as in
 * GeoJSON. Latitudes must be within -90..90, south ≤ north.
 */
export function parseBoundingBox(text: string): BoundingBox {
  const values = text.split(',').map((v) => (v.trim() === '' ? Number.NaN : Number(v)));
  const [west, south, east, north] = values;
  const bad = (why: string) =>
    new AppError('BadRequest', `bbox must be "west,south,east,north" in degrees: ${why}.`);
  if (values.length !== 4 || !values.every(Number.isFinite)) throw bad('four numbers');
  if (south! < -90 || north! > 90 || south! > north!) throw bad('latitudes within -90..90, south ≤ north');
  if (east! - west! >= 360) return { ...WORLD, south: south!, north: north! };
  const wrap = (lon: number) => (lon === 180 ? 180 : ((((lon + 180) % 360) + 360) % 360) - 180);
  return { west: wrap(west!), south: south!, east: wrap(east!), north: north! };
}

/** Grid cell of a coordinate at `level`, clamped as the kept cells clamp it. */
function cellIndex(value: number, origin: number, level: number, cells: number): number {
  return Math.min(Math.max(Math.floor((value + origin) / (360 / 2 ** level)), 0), cells - 1);
}

function cellRange(box: BoundingBox, level: number): CellRange {
  const columns = 2 ** level;
  const rows = 2 ** (level - 1);
  return {
    level,
    x0: cellIndex(box.west, 180, level, columns),
    x1: cellIndex(box.east, 180, level, columns),
    y0: cellIndex(box.south, 90, level, rows),
    y1: cellIndex(box.north, 90, level, rows),
  };
}

function cellsIn(box: BoundingBox, level: number): number {
  const range = cellRange(box, level);
  const columns = range.x0 <= range.x1 ? range.x1 - range.x0 + 1 : 2 ** level - range.x0 + range.x1 + 1;
  return columns * (range.y1 - range.y0 + 1);
}
