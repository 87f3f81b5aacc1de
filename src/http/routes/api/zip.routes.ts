import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { HttpDeps } from '../../server.ts';

// Placeholder: the helper working on zip streaming fills this in.
export const zipRoutes: FastifyPluginAsyncTypebox<HttpDeps> = async () => {};
