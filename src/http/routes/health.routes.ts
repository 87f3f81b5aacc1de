/** `GET /healthz`: 200 when the database answers, 503 otherwise. For load balancers; no auth. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Database } from '../../db/database.ts';

export const healthRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (app, { database }) => {
  app.get(
    '/healthz',
    {
      logLevel: 'warn',
      schema: {
        tags: ['health'],
        summary: 'Liveness and database reachability',
        response: {
          200: Type.Object({ status: Type.Literal('ok'), database: Type.String() }),
          503: Type.Object({
            status: Type.Literal('unavailable'),
            database: Type.String(),
            reason: Type.String(),
          }),
        },
      },
    },
    async (request, reply) => {
      try {
        await database.ping();
        return { status: 'ok' as const, database: database.dialect };
      } catch (error) {
        request.log.warn({ err: error }, 'health check: database not answering');
        return reply.status(503).send({
          status: 'unavailable' as const,
          database: database.dialect,
          reason: 'database not answering',
        });
      }
    },
  );
};
