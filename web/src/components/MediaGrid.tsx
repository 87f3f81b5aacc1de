import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { MediaItem } from '../api.ts';
import { dayKey, formatDay, formatDuration } from '../format.ts';
import { t } from '../i18n.ts';
import { useVirtualizer } from '../virtual.ts';

interface Props {
  items: MediaItem[];
  selected: Set<string>;
  hasMore: boolean;
  loading: boolean;
  onOpen: (id: string) => void;
  onToggle: (ids: string[], on: boolean) => void;
  onNeedMore: () => void;
}

type Row =
  | { kind: 'day'; key: string; day: string; at: number; ids: string[] }
  | { kind: 'tiles'; key: string; items: MediaItem[] }
  | { kind: 'end'; key: string };

const MIN_TILE = 168;
const GAP = 8;
const DAY_ROW = 48;
/** The rows' side padding (styles.css .grid-row). */
const SIDE = 20;

/**
 * The library's grid: thumbnails grouped by the day they were taken, virtualised (a row of tiles or a
 * day heading per virtual row), asking for the next page as its end comes into view.
 */
export function MediaGrid({ items, selected, hasMore, loading, onOpen, onToggle, onNeedMore }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const element = scroller.current;
    if (!element) return undefined;
    const observer = new ResizeObserver(() => setWidth(element.clientWidth));
    observer.observe(element);
    setWidth(element.clientWidth);
    return () => observer.disconnect();
  }, []);

  const inner = Math.max(0, width - 2 * SIDE);
  const columns = Math.max(2, Math.floor((inner + GAP) / (MIN_TILE + GAP)));
  const tile = Math.floor((inner - GAP * (columns - 1)) / columns);

  const rows = useMemo(() => {
    const result: Row[] = [];
    let day: Extract<Row, { kind: 'day' }> | undefined;
    let run: MediaItem[] = [];
    const flush = () => {
      for (let i = 0; i < run.length; i += columns) {
        const slice = run.slice(i, i + columns);
        result.push({ kind: 'tiles', key: slice[0]!.id, items: slice });
      }
      run = [];
    };
    for (const item of items) {
      const key = dayKey(item.taken_at);
      if (key !== day?.day) {
        flush();
        day = { kind: 'day', key: `day-${key}`, day: key, at: item.taken_at, ids: [] };
        result.push(day);
      }
      day.ids.push(item.id);
      run.push(item);
    }
    flush();
    result.push({ kind: 'end', key: 'end' });
    return result;
  }, [items, columns]);

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: (index) => (rows[index]?.kind === 'tiles' ? tile + GAP : DAY_ROW),
    getItemKey: (index) => `${rows[index]?.key ?? index}-${columns}`,
    overscan: 4,
  });
  const visible = virtualizer.getVirtualItems();
  const last = visible[visible.length - 1];
  useEffect(() => {
    if (last && last.index >= rows.length - 6 && hasMore && !loading) onNeedMore();
  }, [last?.index, rows.length, hasMore, loading]);
  // Column changes alter every row's height.
  useEffect(() => virtualizer.measure(), [tile]);

  return (
    <div class="grid-scroller" ref={scroller} data-testid="media-grid">
      <div class="grid-canvas" style={{ height: `${virtualizer.getTotalSize()}px` }}>
        {visible.map((v) => {
          const row = rows[v.index]!;
          const style = { transform: `translateY(${v.start}px)`, height: `${v.size}px` };
          if (row.kind === 'day') {
            const all = row.ids.every((id) => selected.has(id));
            return (
              <div key={v.key} class="grid-row day-row" style={style}>
                <h2>{formatDay(row.at)}</h2>
                <button
                  type="button"
                  class={`link-button day-select${selected.size > 0 ? ' shown' : ''}`}
                  onClick={() => onToggle(row.ids, !all)}
                >
                  {t('library.selectDay')}
                </button>
              </div>
            );
          }
          if (row.kind === 'end') {
            return (
              <div key={v.key} class="grid-row end-row" style={style}>
                {loading ? t('library.loading') : hasMore ? '' : items.length > 0 ? t('library.end') : ''}
              </div>
            );
          }
          return (
            <div
              key={v.key}
              class="grid-row tiles-row"
              style={{ ...style, gridTemplateColumns: `repeat(${columns}, ${tile}px)` }}
            >
              {row.items.map((item) => (
                <Tile
                  key={item.id}
                  item={item}
                  size={tile}
                  selected={selected.has(item.id)}
                  selecting={selected.size > 0}
                  onOpen={onOpen}
                  onToggle={onToggle}
                />
              ))}
            </div>
          );
        })}
      </div>
    </div>
  );
}

interface TileProps {
  item: MediaItem;
  size: number;
  selected: boolean;
  selecting: boolean;
  onOpen: (id: string) => void;
  onToggle: (ids: string[], on: boolean) => void;
}

function Tile({ item, size, selected, selecting, onOpen, onToggle }: TileProps) {
  const open = () => (selecting ? onToggle([item.id], !selected) : onOpen(item.id));
  return (
    <div class={`tile${selected ? ' selected' : ''}`} style={{ width: `${size}px`, height: `${size}px` }}>
      <button type="button" class="tile-open" onClick={open} title={item.name} data-file-id={item.id}>
        {item.thumbnail_url ? (
          <img src={item.thumbnail_url} alt={item.name} decoding="async" draggable={false} />
        ) : (
          <span class="tile-placeholder">
            <span class="tile-kind">
              {item.media_type === 'video' ? '▶' : item.media_type === 'image' ? '▨' : '▤'}
            </span>
            <span class="tile-name">{item.name}</span>
          </span>
        )}
        {item.media_type === 'video' && (
          <span class="badge">▶ {item.duration_ms !== null ? formatDuration(item.duration_ms) : ''}</span>
        )}
      </button>
      <label class="tile-check" title={t('library.select')}>
        <input
          type="checkbox"
          checked={selected}
          aria-label={`${t('library.select')} ${item.name}`}
          onChange={(e) => onToggle([item.id], e.currentTarget.checked)}
        />
      </label>
    </div>
  );
}
