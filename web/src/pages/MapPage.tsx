import 'leaflet/dist/leaflet.css';
import L from 'leaflet';
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, type Cluster, type MapAnswer, paths, query } from '../api.ts';
import { FileDialog } from '../components/FileDialog.tsx';
import { FilterBar } from '../components/FilterBar.tsx';
import { graticule } from '../graticule.ts';
import { apiFilters, toSearch } from '../filters.ts';
import { formatCount } from '../format.ts';
import { t } from '../i18n.ts';
import { mediaVersion } from '../live.ts';
import { overview } from '../state.ts';
import { useFilterView } from '../useFilterView.ts';

/**
 * Every geotagged file as a marker, clustered by the server for the zoom and the visible area (a
 * million points never reach the browser). Tiles come from SKYVAULT_MAP_TILES; without them, or when
 * they cannot be reached, the markers sit on a plain background.
 */
export function MapPage() {
  const { query: urlQuery, route, path, workspaceId, filters, filterKey, facets } = useFilterView();
  const element = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const layer = useRef<L.LayerGroup | null>(null);
  const [view, setView] = useState(0);
  const [tilesFailed, setTilesFailed] = useState(false);
  const [shown, setShown] = useState<number | null>(null);
  const [capped, setCapped] = useState(false);
  const tiles = overview.value?.map_tiles ?? null;

  useEffect(() => {
    if (!element.current) return undefined;
    const instance = L.map(element.current, { worldCopyJump: true, minZoom: 2 });
    const at = /^(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)$/.exec(urlQuery.at ?? '');
    if (at) instance.setView([Number(at[1]), Number(at[2])], 16);
    else instance.setView([20, 0], 2);
    layer.current = L.layerGroup().addTo(instance);
    instance.on('moveend', () => setView((n) => n + 1));
    map.current = instance;
    return () => {
      instance.remove();
      map.current = null;
    };
  }, []);

  // Without tiles (or while they fail), a latitude/longitude grid is the background.
  useEffect(() => {
    const instance = map.current;
    if (!instance || (tiles && !tilesFailed)) return undefined;
    const grid = graticule().addTo(instance);
    grid.bringToBack();
    return () => void grid.remove();
  }, [tiles, tilesFailed]);

  useEffect(() => {
    const instance = map.current;
    if (!instance || !tiles) return undefined;
    let failures = 0;
    const tileLayer = L.tileLayer(tiles, { maxZoom: 19, attribution: '' });
    tileLayer.on('tileerror', () => {
      failures += 1;
      if (failures >= 3) setTilesFailed(true);
    });
    tileLayer.on('tileload', () => setTilesFailed(false));
    tileLayer.addTo(instance);
    return () => void tileLayer.remove();
  }, [tiles]);

  // The first time with no position asked for: fit the markers of the whole workspace.
  const fitted = useRef(Boolean(urlQuery.at));
  useEffect(() => {
    const instance = map.current;
    if (!instance) return undefined;
    let current = true;
    const bounds = instance.getBounds();
    const bbox = [
      Math.max(-180, bounds.getWest()),
      Math.max(-90, bounds.getSouth()),
      Math.min(180, bounds.getEast()),
      Math.min(90, bounds.getNorth()),
    ]
      .map((n) => n.toFixed(6))
      .join(',');
    call<MapAnswer>(
      'GET',
      `${paths.map(workspaceId)}${query({ ...apiFilters(filters), zoom: Math.round(instance.getZoom()), bbox })}`,
    )
      .then((answer) => {
        if (!current || !layer.current) return;
        layer.current.clearLayers();
        let total = 0;
        for (const c of answer.clusters) {
          total += c.count;
          layer.current.addLayer(marker(c, instance, answer.cell_degrees));
        }
        setShown(total);
        setCapped(!answer.exact);
        if (!fitted.current && answer.clusters.length > 0) {
          fitted.current = true;
          const all = L.latLngBounds(
            answer.clusters.map((c) => [c.latitude, c.longitude] as [number, number]),
          );
          instance.fitBounds(all.pad(0.2), { maxZoom: 16 });
        }
      })
      .catch(() => undefined);
    return () => {
      current = false;
    };
  }, [view, filterKey, workspaceId, mediaVersion.value]);

  const marker = (c: Cluster, instance: L.Map, cellDegrees: number) => {
    const single = c.count === 1;
    const size = single ? 20 : Math.min(64, 30 + Math.log10(c.count) * 10);
    const html = single ? '' : `<span>${formatCount(c.count)}</span>`;
    const icon = L.divIcon({
      className: single ? 'map-pin' : 'map-cluster',
      html,
      iconSize: [size, size],
    });
    const m = L.marker([c.latitude, c.longitude], {
      icon,
      title: single ? '' : t('map.zoomIn', { count: formatCount(c.count) }),
      keyboard: true,
    });
    m.on('click', () => {
      if (single) {
        route(`${path}${toSearch(filters, { file: c.file_id, at: urlQuery.at })}`);
        return;
      }
      // Zoom until the cluster's cell (cellDegrees wide) fills the view, so its files split apart.
      const half = cellDegrees / 2;
      const cell = L.latLngBounds(
        [c.latitude - half, c.longitude - half],
        [c.latitude + half, c.longitude + half],
      );
      const zoom = Math.max(instance.getBoundsZoom(cell), instance.getZoom() + 1);
      instance.setView([c.latitude, c.longitude], Math.min(19, zoom));
    });
    if (single) m.on('add', () => m.getElement()?.setAttribute('data-file-id', c.file_id));
    return m;
  };

  const fileId = urlQuery.file;
  return (
    <div class="map-page">
      <FilterBar filters={filters} facets={facets} />
      <div class="map-status">
        <span class="muted" data-testid="map-count">
          {shown !== null ? t('map.count', { count: formatCount(shown) }) : ''}
        </span>
        {capped && <span class="notice">{t('map.capped')}</span>}
        {!tiles && <span class="muted small">{t('map.noTiles')}</span>}
        {tiles && tilesFailed && <span class="muted small">{t('map.tilesFailed')}</span>}
      </div>
      <div class="map" ref={element} data-testid="map" />
      {fileId && (
        <FileDialog
          workspaceId={workspaceId}
          fileId={fileId}
          onClose={() => route(`${path}${toSearch(filters, { at: urlQuery.at })}`, true)}
          onDeleted={() => route(`${path}${toSearch(filters, { at: urlQuery.at })}`, true)}
        />
      )}
    </div>
  );
}
