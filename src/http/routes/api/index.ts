/**
 * Skyvault's own API for the web app (docs/web-api.md): what the DJI-compatible paths cannot serve
 * (cursor pages, facets, clustered map markers, previews, zips). Same auth, envelope and workspace check.
 */
import type { FastifyPluginAsync } from 'fastify';
import { type LibraryApiRoutesOptions, libraryApiRoutes } from './library.routes.ts';
import { type OverviewRoutesOptions, overviewRoutes } from './overview.routes.ts';
import { type ZipRoutesOptions, zipRoutes } from './zip.routes.ts';

export type ApiRoutesOptions = LibraryApiRoutesOptions & OverviewRoutesOptions & ZipRoutesOptions;

export const apiRoutes: FastifyPluginAsync<ApiRoutesOptions> = async (api, deps) => {
  await api.register(overviewRoutes, deps);
  await api.register(libraryApiRoutes, { library: deps.library, addresses: deps.addresses });
  await api.register(zipRoutes, deps);
};
