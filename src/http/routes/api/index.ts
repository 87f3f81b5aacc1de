/**
 * Skyvault's own API for the web app (docs/web-api.md): what the DJI-compatible paths cannot serve
 * (cursor pages, facets, clustered map markers, previews, zips). Same auth, envelope and workspace check.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { HttpDeps } from '../../server.ts';
import { libraryApiRoutes } from './library.routes.ts';
import { overviewRoutes } from './overview.routes.ts';
import { zipRoutes } from './zip.routes.ts';

export const apiRoutes: FastifyPluginAsync<HttpDeps> = async (api, deps) => {
  await api.register(overviewRoutes, deps);
  await api.register(libraryApiRoutes, { library: deps.library, addresses: deps.addresses });
  await api.register(zipRoutes, deps);
};
