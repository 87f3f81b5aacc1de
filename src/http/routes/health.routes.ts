/**
 * `GET /healthz`: 200 when the database and the object storage answer, 503 otherwise (saying which).
 * For load balancers and monitors; no auth. Cloud storage is asked (HEAD of the bucket) at most every
 * STORAGE_CHECK_MS, so frequent probes cost the provider nothing; the embedded store is part of this
 * process and is up when it is.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Database } from '../../db/database.ts';

export interface HealthRoutesOptions {
  database: Database;
  storage: {
    /** `embedded`, `minio`, `aws`… */
    kind: string;
    /** Resolves when the storage answers; undefined for the embedded store. */
    ping?: (() => Promise<void>) | undefined;
  };
}

export const STORAGE_CHECK_MS = 10_000;

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (
  app,
  { database, storage },
) => {
  let lastStorageCheck: { at: number; ok: Promise<boolean> } | undefined;
  const storageAnswers = (log: (error: unknown) => void): Promise<boolean> => {
    const { ping } = storage;
    if (!ping) return Promise.resolve(true);
    if (!lastStorageCheck || Date.now() - lastStorageCheck.at >= STORAGE_CHECK_MS) {
      const ok = ping().then(
        () => true,
        (error: unknown) => {
          log(error);
          return false;
        },
      );
      lastStorageCheck = { at: Date.now(), ok };
    }
    return lastStorageCheck.ok;
  };

  app.get(
    '/healthz',
    {
      logLevel: 'warn',
      schema: {
        tags: ['health'],
        summary: 'Liveness, database and object storage reachability',
        response: {
          200: Type.Object({ status: Type.Literal('ok'), database: Type.String(), storage: Type.String() }),
          503: Type.Object({
            status: Type.Literal('unavailable'),
            database: Type.String(),
            storage: Type.String(),
            reason: Type.String(),
          }),
        },
      },
    },
    async (request, reply) => {
      const unavailable = (reason: string) =>
        reply.status(503).send({
          status: 'unavailable' as const,
          database: database.dialect,
          storage: storage.kind,
          reason,
        });
      try {
        await database.ping();
      } catch (error) {
        request.log.warn({ err: error }, 'health check: database not answering');
        return unavailable('database not answering');
      }
      const storageOk = await storageAnswers((error) =>
        request.log.warn({ err: error }, 'health check: object storage not answering'),
      );
      if (!storageOk) return unavailable('object storage not answering');
      return { status: 'ok' as const, database: database.dialect, storage: storage.kind };
    },
  );
};
