/**
 * The library's filters live in the page's URL (`/?type=video&from=2025-11-01`), so a view can be
 * bookmarked and shared; the API gets them as docs/web-api.md describes (times as epoch ms).
 */
export interface Filters {
  device_sn?: string;
  type?: 'image' | 'video' | 'other';
  /** Local calendar days, yyyy-mm-dd, inclusive. */
  from?: string;
  to?: string;
  group?: string;
  q?: string;
}

const KEYS = ['device_sn', 'type', 'from', 'to', 'group', 'q'] as const;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function filtersFromQuery(query: Record<string, string>): Filters {
  const filters: Filters = {};
  if (query.device_sn) filters.device_sn = query.device_sn;
  if (query.type === 'image' || query.type === 'video' || query.type === 'other') filters.type = query.type;
  if (query.from && DAY.test(query.from)) filters.from = query.from;
  if (query.to && DAY.test(query.to)) filters.to = query.to;
  if (query.group) filters.group = query.group;
  if (query.q) filters.q = query.q;
  return filters;
}

/** The URL search string of filters (plus other parameters such as the open file). */
export function toSearch(filters: Filters, extra: Record<string, string | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const key of KEYS) {
    const value = filters[key];
    if (value) search.set(key, value);
  }
  for (const [key, value] of Object.entries(extra)) if (value) search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** What the API is asked: days become the local midnight-to-midnight span in epoch ms. */
export function apiFilters(filters: Filters): Record<string, string | number | undefined> {
  return {
    device_sn: filters.device_sn,
    type: filters.type,
    from: filters.from ? startOfDay(filters.from) : undefined,
    to: filters.to ? startOfDay(filters.to) + 86_400_000 - 1 : undefined,
    group: filters.group,
    q: filters.q,
  };
}

export function hasFilters(filters: Filters): boolean {
  return KEYS.some((key) => Boolean(filters[key]));
}

export function sameFilters(a: Filters, b: Filters): boolean {
  return KEYS.every((key) => (a[key] ?? '') === (b[key] ?? ''));
}

function startOfDay(day: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(y, m - 1, d).getTime();
}
