/**
 * CORS of the embedded store. Browsers fetch media straight from storage: the web library (and DJI's
 * demo front end) follows a 302 to a presigned URL, and video players send Range requests. Those pages
 * are served from another origin than the store, so the store must let any origin GET and HEAD, and
 * answer the preflight a Range header triggers. The signature in the URL is the credential, so allowing
 * every origin grants nothing a link does not already grant. Writes stay closed to browsers: a preflight
 * for any other method is refused, as S3 refuses one that no CORS rule matches.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CORS_READ_RULE } from '../cors-rule.ts';

// The same rule `skyvault storage init` puts on a cloud bucket (cors-rule.ts).
const READ_METHODS = new Set<string>(CORS_READ_RULE.allowedMethods);
const EXPOSED_HEADERS = CORS_READ_RULE.exposeHeaders.join(', ');
const PREFLIGHT_MAX_AGE_SECONDS = CORS_READ_RULE.maxAgeSeconds;

/**
 * Adds CORS headers to a read from a page of another origin, and answers its preflight. Returns true
 * when the request was a preflight and has been answered.
 */
export function handleCors(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.headers.origin === undefined) return false;
  const method = req.method ?? 'GET';
  if (method === 'OPTIONS') {
    const requested = String(req.headers['access-control-request-method'] ?? '').toUpperCase();
    if (!READ_METHODS.has(requested)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Cross-origin requests may only read (GET, HEAD) from this store.\n');
      return true;
    }
    const headers: Record<string, string> = {
      'access-control-allow-origin': '*',
      'access-control-allow-methods': [...READ_METHODS].join(', '),
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
      'content-length': '0',
    };
    const requestedHeaders = req.headers['access-control-request-headers'];
    if (requestedHeaders) headers['access-control-allow-headers'] = String(requestedHeaders);
    res.writeHead(200, headers);
    res.end();
    return true;
  }
  if (READ_METHODS.has(method)) {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
  }
  return false;
}
