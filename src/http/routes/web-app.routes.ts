/**
 * The web app at `/`: the files Vite built into dist/web (`npm run build:web`, run by `npm ci` through
 * the `prepare` script), served by @fastify/static. Hashed assets are cached for a year; the page itself
 * is revalidated so a new release is picked up at once. The app's own paths (/map, /groups…) answer the
 * same page, which routes in the browser. When the build is missing the page says how to make it.
 */
import { existsSync, readFileSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { packagePath } from '../../shared/package-root.ts';

/** Paths the web app routes itself (web/src/App.tsx). */
export const WEB_APP_PATHS = [
  '/',
  '/map',
  '/groups',
  '/devices',
  '/connect',
  '/users',
  '/workspaces',
  '/workspaces/:workspace_id/users',
];

export const DEFAULT_WEB_ROOT = packagePath('dist', 'web');

// Scripts only from this origin. Thumbnails, previews and videos come from the object store (another
// origin, known only per request) and map tiles from SKYVAULT_MAP_TILES: images and media from anywhere.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  'img-src * data: blob:',
  'media-src * blob:',
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Skyvault</title>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem">
<h1>Skyvault's web app is not built</h1>
<p>The server runs, but the files of its web app are missing. <code>npm ci</code> builds them; on an
install made with <code>--ignore-scripts</code>, run <code>npm run build:web</code> and reload this page.</p>
<p>The API (<a href="/docs">/docs</a>) and the Pilot 2 page (<a href="/pilot">/pilot</a>) work meanwhile.</p>`;

export const webAppRoutes: FastifyPluginAsync<{ root?: string }> = async (app, options) => {
  const root = options.root ?? DEFAULT_WEB_ROOT;
  const indexFile = `${root}/index.html`;
  const built = existsSync(indexFile);
  const index = built ? readFileSync(indexFile) : undefined;

  const page = (reply: FastifyReply) =>
    reply
      .code(index ? 200 : 503)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin')
      .send(index ?? NOT_BUILT);

  for (const path of WEB_APP_PATHS) {
    app.get(path, { schema: { hide: true } }, async (_request, reply) => page(reply));
  }
  if (!built) {
    app.log.warn({ root }, 'the web app is not built: run `npm run build:web`');
    return;
  }
  await app.register(fastifyStatic, {
    root: `${root}/assets`,
    prefix: '/assets/',
    // Only the files present now: no catch-all route that would shadow the API's 404s.
    wildcard: false,
    index: false,
    immutable: true,
    maxAge: '365d',
    setHeaders: (res) => void res.header('x-content-type-options', 'nosniff'),
  });
};
