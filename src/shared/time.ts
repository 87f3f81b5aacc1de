const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * Formats epoch milliseconds as `yyyy-MM-dd HH:mm:ss` in the server's time zone: the date format of the
 * DJI demo's web API (docs/protocol.md §0), which its front end displays as is.
 */
export function formatDjiDateTime(epochMs: number): string {
  const d = new Date(epochMs);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
