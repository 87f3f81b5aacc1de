import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, call, type MediaItem, type MediaPage, paths, query, reasonOf } from '../api.ts';
import { Confirm } from '../components/Confirm.tsx';
import { ConnectGuide } from '../components/ConnectGuide.tsx';
import { deleteFiles, FileDialog } from '../components/FileDialog.tsx';
import { FilterBar } from '../components/FilterBar.tsx';
import { MediaGrid } from '../components/MediaGrid.tsx';
import { apiFilters, hasFilters, toSearch } from '../filters.ts';
import { formatBytes, formatCount } from '../format.ts';
import { t } from '../i18n.ts';
import { mediaVersion } from '../live.ts';
import { can } from '../roles.ts';
import { showToast } from '../state.ts';
import { useFilterView } from '../useFilterView.ts';
import { cancelZip, downloadZip, zipProgress } from '../zip.ts';

const PAGE = 200;

export function LibraryPage() {
  const { query: urlQuery, route, path, workspaceId, filters, filterKey, facets } = useFilterView();

  const [items, setItems] = useState<MediaItem[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [confirmMany, setConfirmMany] = useState(false);
  // The request that is current: answers to older ones (filters changed meanwhile) are dropped.
  const generation = useRef(0);

  const load = useCallback(
    async (after: string | null) => {
      const mine = generation.current;
      setLoading(true);
      setError(null);
      try {
        const page = await call<MediaPage>(
          'GET',
          `${paths.media(workspaceId)}${query({ ...apiFilters(filters), limit: PAGE, cursor: after })}`,
        );
        if (mine !== generation.current) return;
        setItems((previous) => (after ? [...previous, ...page.items] : page.items));
        setCursor(page.next_cursor);
      } catch (e) {
        if (mine === generation.current) setError(e instanceof ApiError ? e.message : String(e));
      } finally {
        if (mine === generation.current) setLoading(false);
      }
    },
    [workspaceId, filterKey],
  );

  useEffect(() => {
    generation.current += 1;
    setItems([]);
    setCursor(null);
    setSelected(new Set());
    void load(null);
  }, [load]);

  // Live: new files of the first page slide in on top, without losing the scroll position below. A new
  // file's thumbnail is made just after it arrives: files still without one are asked for again shortly.
  const version = mediaVersion.value;
  const [retry, setRetry] = useState(0);
  const retries = useRef(0);
  useEffect(() => {
    retries.current = 0;
  }, [version]);
  useEffect(() => {
    if (version === 0) return undefined;
    const mine = generation.current;
    let timer: ReturnType<typeof setTimeout> | undefined;
    void call<MediaPage>(
      'GET',
      `${paths.media(workspaceId)}${query({ ...apiFilters(filters), limit: PAGE })}`,
    )
      .then((page) => {
        if (mine !== generation.current) return;
        const latest = new Map(page.items.map((i) => [i.id, i]));
        setItems((previous) => {
          const known = new Set(previous.map((i) => i.id));
          const fresh = page.items.filter((i) => !known.has(i.id));
          const updated = previous.map((i) => latest.get(i.id) ?? i);
          return [...fresh, ...updated].sort((a, b) => b.taken_at - a.taken_at || (a.id < b.id ? 1 : -1));
        });
        const pending = page.items.some((i) => i.media_type !== 'other' && !i.thumbnail_url);
        if (pending && retries.current < 5) {
          retries.current += 1;
          timer = setTimeout(() => setRetry((n) => n + 1), 2000);
        }
      })
      .catch(() => undefined);
    return () => clearTimeout(timer);
  }, [version, retry]);

  const fileId = urlQuery.file;
  const openFile = (id: string | undefined) => route(`${path}${toSearch(filters, { file: id })}`, !id);
  const removeLocally = (ids: string[]) => {
    const gone = new Set(ids);
    setItems((previous) => previous.filter((i) => !gone.has(i.id)));
    setSelected((previous) => new Set([...previous].filter((id) => !gone.has(id))));
  };
  const toggle = (ids: string[], on: boolean) =>
    setSelected((previous) => {
      const next = new Set(previous);
      for (const id of ids)
        if (on) next.add(id);
        else next.delete(id);
      return next;
    });
  const move = (step: 1 | -1) => {
    const index = items.findIndex((i) => i.id === fileId);
    const next = items[index + step];
    if (next) route(`${path}${toSearch(filters, { file: next.id })}`, true);
  };
  const zip = () => {
    const bytes = items.filter((i) => selected.has(i.id)).reduce((sum, i) => sum + i.size, 0);
    const failed = (reason: string) => showToast(t('zip.failed', { reason }), true);
    void downloadZip(workspaceId, [...selected], bytes, failed)
      .then((mode) => mode === 'browser' && showToast(t('zip.byBrowser')))
      .catch((e: unknown) => failed(reasonOf(e)));
  };

  const empty = !loading && !error && items.length === 0;
  const progress = zipProgress.value;
  return (
    <div class="library">
      <FilterBar filters={filters} facets={facets} />
      <div class="toolbar">
        {selected.size > 0 ? (
          <div class="selection" data-testid="selection-bar">
            <strong>{t('library.selected', { count: formatCount(selected.size) })}</strong>
            <button type="button" class="primary" onClick={zip} disabled={progress !== null}>
              {t('library.downloadZip')}
            </button>
            {can('library.write') && (
              <button type="button" class="danger-outline" onClick={() => setConfirmMany(true)}>
                {t('library.delete')}
              </button>
            )}
            <button type="button" class="link-button" onClick={() => setSelected(new Set())}>
              {t('library.clearSelection')}
            </button>
          </div>
        ) : (
          <span class="muted" data-testid="library-count">
            {facets
              ? facets.total_exact && facets.total === 1
                ? t('library.countOne')
                : t(facets.total_exact ? 'library.count' : 'library.countEstimate', {
                    count: formatCount(facets.total),
                  })
              : ''}
          </span>
        )}
        {progress && (
          <div
            class="zip-progress"
            role="progressbar"
            aria-valuenow={progress.done}
            aria-valuemax={progress.total}
          >
            <span>
              {progress.saving
                ? t('zip.saving')
                : t('zip.progress', { done: formatBytes(progress.done), total: formatBytes(progress.total) })}
            </span>
            <progress max={progress.total || 1} value={progress.done} />
            <button type="button" class="link-button" onClick={cancelZip}>
              {t('zip.cancel')}
            </button>
          </div>
        )}
      </div>
      {error && (
        <div class="notice error">
          {t('library.loadFailed', { reason: error })}{' '}
          <button type="button" class="link-button" onClick={() => void load(null)}>
            {t('library.retry')}
          </button>
        </div>
      )}
      {empty && hasFilters(filters) && <p class="empty-note">{t('library.noMatch')}</p>}
      {empty && !hasFilters(filters) && <ConnectGuide intro={t('connect.empty')} />}
      {!empty && (
        <MediaGrid
          items={items}
          selected={selected}
          hasMore={cursor !== null}
          loading={loading}
          onOpen={(id) => openFile(id)}
          onToggle={toggle}
          onNeedMore={() => cursor && void load(cursor)}
        />
      )}
      {fileId && (
        <FileDialog
          workspaceId={workspaceId}
          fileId={fileId}
          onClose={() => openFile(undefined)}
          onDeleted={(ids) => {
            removeLocally(ids);
            openFile(undefined);
          }}
          onMove={move}
          onShowOnMap={(file) =>
            route(`/map${toSearch(filters, { file: file.id, at: `${file.latitude},${file.longitude}` })}`)
          }
        />
      )}
      {confirmMany && (
        <Confirm
          text={
            selected.size === 1
              ? t('delete.confirmOne', {
                  name: items.find((i) => selected.has(i.id))?.name ?? [...selected][0]!,
                })
              : t('delete.confirmMany', { count: formatCount(selected.size) })
          }
          onCancel={() => setConfirmMany(false)}
          onConfirm={() => {
            setConfirmMany(false);
            void deleteFiles(workspaceId, [...selected]).then(removeLocally);
          }}
        />
      )}
    </div>
  );
}
