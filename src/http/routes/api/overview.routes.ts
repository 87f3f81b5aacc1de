import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { HttpDeps } from '../../server.ts';

export const overviewRoutes: FastifyPluginAsyncTypebox<HttpDeps> = async () => {};
