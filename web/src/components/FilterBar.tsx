import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import type { Facets } from '../api.ts';
import { type Filters, hasFilters, toSearch } from '../filters.ts';
import { t } from '../i18n.ts';

interface Props {
  filters: Filters;
  facets: Facets | null;
}

/** The filters of the library and the map; every change rewrites the URL (so it can be shared). */
export function FilterBar({ filters, facets }: Props) {
  const { path, route, query } = useLocation();
  const [text, setText] = useState(filters.q ?? '');
  useEffect(() => setText(filters.q ?? ''), [filters.q]);

  const apply = (change: Partial<Filters>) => {
    const next = { ...filters, ...change };
    route(`${path}${toSearch(next, { file: query.file })}`, true);
  };
  // Search as the user types, once they pause.
  useEffect(() => {
    if (text === (filters.q ?? '')) return undefined;
    const timer = setTimeout(() => apply({ q: text.trim() || undefined }), 350);
    return () => clearTimeout(timer);
  }, [text]);

  const types: [Filters['type'], string][] = [
    [undefined, t('filters.all')],
    ['image', t('filters.image')],
    ['video', t('filters.video')],
  ];
  if (facets?.types.some((f) => f.type === 'other' && f.count > 0)) types.push(['other', t('filters.other')]);
  const devices = (facets?.devices ?? []).filter((d) => d.device_sn !== null);
  const knownDevice = devices.some((d) => d.device_sn === filters.device_sn);

  return (
    <div class="filters" role="search">
      <input
        class="search"
        type="search"
        placeholder={t('filters.search')}
        aria-label={t('filters.search')}
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
      />
      <div class="segmented" role="group" aria-label={t('filters.type')}>
        {types.map(([value, label]) => (
          <button
            type="button"
            key={label}
            class={filters.type === value ? 'selected' : ''}
            aria-pressed={filters.type === value}
            onClick={() => apply({ type: value })}
          >
            {label}
          </button>
        ))}
      </div>
      <select
        aria-label={t('filters.device')}
        value={filters.device_sn ?? ''}
        onChange={(e) => apply({ device_sn: e.currentTarget.value || undefined })}
      >
        <option value="">{t('filters.allDevices')}</option>
        {filters.device_sn && !knownDevice && <option value={filters.device_sn}>{filters.device_sn}</option>}
        {devices.map((d) => (
          <option key={d.device_sn} value={d.device_sn!}>
            {d.name ? `${d.name} · ${d.device_sn}` : d.device_sn} ({d.count})
          </option>
        ))}
      </select>
      <label class="date">
        <span>{t('filters.from')}</span>
        <input
          type="date"
          value={filters.from ?? ''}
          max={filters.to}
          onChange={(e) => apply({ from: e.currentTarget.value || undefined })}
        />
      </label>
      <label class="date">
        <span>{t('filters.to')}</span>
        <input
          type="date"
          value={filters.to ?? ''}
          min={filters.from}
          onChange={(e) => apply({ to: e.currentTarget.value || undefined })}
        />
      </label>
      {filters.group && (
        <span class="chip">
          {t('filters.group')}: {filters.group}
          <button type="button" aria-label={t('common.close')} onClick={() => apply({ group: undefined })}>
            ×
          </button>
        </span>
      )}
      {hasFilters(filters) && (
        <button type="button" class="link-button" onClick={() => route(path, true)}>
          {t('filters.clear')}
        </button>
      )}
    </div>
  );
}
