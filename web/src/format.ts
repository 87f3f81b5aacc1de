/** How numbers, sizes, times and places read, in the page's language. */
import { language } from './i18n.ts';

const locale = () => (language.value === 'zh' ? 'zh-CN' : 'en');

export function formatCount(n: number): string {
  return new Intl.NumberFormat(locale()).format(n);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** A day heading: "Saturday 29 November 2025" / "2025年11月29日 星期六". */
export function formatDay(epochMs: number): string {
  return new Intl.DateTimeFormat(locale(), {
    weekday: 'long',
    year: 'numeric',
    month: 'long',
    day: 'numeric',
  }).format(new Date(epochMs));
}

export function formatDateTime(epochMs: number): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'medium' }).format(
    new Date(epochMs),
  );
}

/** A date without the time: "29 Nov 2026" / "2026年11月29日". */
export function formatDate(epochMs: number): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium' }).format(new Date(epochMs));
}

/** The local calendar day of a time, yyyy-mm-dd (the grid's grouping key). */
export function dayKey(epochMs: number): string {
  const d = new Date(epochMs);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function formatCoordinate(value: number, positive: string, negative: string): string {
  return `${Math.abs(value).toFixed(6)}° ${value >= 0 ? positive : negative}`;
}

/** A span of time, the shared part written once: "29 Nov 2026, 08:00 – 08:45". */
export function formatTimeRange(startMs: number, endMs: number): string {
  const format = new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' });
  return endMs >= startMs
    ? format.formatRange(new Date(startMs), new Date(endMs))
    : format.format(new Date(startMs));
}
