/**
 * `GET /metrics`: Skyvault's metrics in Prometheus' text exposition format (docs/metrics.md), on the HTTP
 * port, as MinIO and EMQX serve theirs. Only with SKYVAULT_METRICS_TOKEN set; otherwise the route does
 * not exist (404 like any unknown path), so nothing is exposed by default. Prometheus sends the token as
 * `Authorization: Bearer <token>`; without it, or with another, 401 with `WWW-Authenticate: Bearer`.
 * Public as far as access tokens go: Prometheus is not a user, and the bearer token is its own check.
 *
 * Also the hook that counts every HTTP request by its route pattern (`/a/:id`, never the URL with the
 * id: label values must stay few), from the reply's own timing; scrapes themselves are not counted.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Metrics } from '../../metrics/metrics.ts';
import { AppError } from '../../shared/app-error.ts';
import { ErrorResponses } from '../envelope.ts';

export const METRICS_PATH = '/metrics';
/** The `route` label of a request no route matched (any URL at all: never the URL itself). */
export const UNMATCHED_ROUTE = 'unmatched';

export interface MetricsRoutesOptions {
  metrics: Metrics;
  /** SKYVAULT_METRICS_TOKEN; undefined = no /metrics. */
  token: string | undefined;
}

export type BearerCheck = 'ok' | 'missing' | 'invalid';

/**
 * Checks an Authorization header against the expected bearer token in constant time: both are hashed
 * first, so neither the token's length nor where a guess differs shows in the time taken.
 */
export function bearerTokenCheck(expected: string): (authorization: string | undefined) => BearerCheck {
  const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  const expectedHash = sha256(expected);
  return (authorization) => {
    const match = /^bearer +(.+)$/i.exec(authorization ?? '');
    const given = match?.[1]!.trim();
    if (!given) return 'missing';
    return timingSafeEqual(expectedHash, sha256(given)) ? 'ok' : 'invalid';
  };
}

export const metricsRoutes: FastifyPluginAsyncTypebox<MetricsRoutesOptions> = async (
  app,
  { metrics, token },
) => {
  if (!token) return;
  const check = bearerTokenCheck(token);
  app.get(
    METRICS_PATH,
    {
      // Scraped every few seconds: logged only when something is wrong.
      logLevel: 'warn',
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics (text exposition format 0.0.4); needs SKYVAULT_METRICS_TOKEN',
        description:
          'Send SKYVAULT_METRICS_TOKEN as `Authorization: Bearer <token>`. Without the setting this path does not exist. See docs/metrics.md.',
        security: [{ metricsToken: [] }],
        response: {
          200: {
            description: 'The metrics, in Prometheus text exposition format.',
            content: { 'text/plain': { schema: Type.String() } },
          },
          ...ErrorResponses,
        },
      },
    },
    async (request, reply) => {
      const result = check(request.headers.authorization);
      if (result !== 'ok') {
        reply.header(
          'www-authenticate',
          result === 'missing' ? 'Bearer realm="skyvault"' : 'Bearer realm="skyvault", error="invalid_token"',
        );
        throw new AppError(result === 'missing' ? 'MetricsTokenMissing' : 'MetricsTokenInvalid');
      }
      const { contentType, text } = await metrics.exposition();
      return reply.header('content-type', contentType).header('cache-control', 'no-store').send(text);
    },
  );
};

/** Counts every answered request, and its duration, by method, route pattern and status. */
export function countRequests(app: FastifyInstance, metrics: Metrics): void {
  const { httpRequests, httpRequestDuration } = metrics;
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE);
    if (route !== METRICS_PATH) {
      const method = request.method;
      httpRequests.inc({ method, route, status: reply.statusCode });
      httpRequestDuration.observe({ method, route }, reply.elapsedTime / 1000);
    }
    done();
  });
}
