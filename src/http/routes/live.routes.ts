/**
 * The web's live updates (docs/protocol.md §7.5): `ws(s)://host/api/v1/ws?x-auth-token=…`. Browsers cannot
 * set headers on a WebSocket, so the token comes in the query string (masked in logs); it is verified
 * before the upgrade (401 otherwise). A session receives its workspace's messages as
 * `{biz_code, version, timestamp, data}` text frames; pings every 30 s drop dead connections.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TokenClaims, TokenService } from '../../features/auth/token.service.ts';
import type { LiveEvents } from '../../features/events/live-events.ts';
import { TOKEN_HEADER, tokenOf } from '../plugins/auth.ts';

export interface LiveRoutesOptions {
  tokens: TokenService;
  live: LiveEvents;
}

const PING_MS = 30_000;

export const liveRoutes: FastifyPluginAsync<LiveRoutesOptions> = async (app, { tokens, live }) => {
  const sessions = new WeakMap<object, TokenClaims>();
  app.get(
    '/api/v1/ws',
    {
      websocket: true,
      // Authenticated here, from the query string, not by the header-based hook.
      config: { public: true },
      schema: {
        tags: ['live'],
        summary: "WebSocket of the workspace's live updates (device online/offline, new media…)",
        querystring: {
          type: 'object',
          properties: { [TOKEN_HEADER]: { type: 'string' } },
        },
      },
      preValidation: async (request) => {
        const query = request.query as Record<string, string | undefined>;
        sessions.set(request, await tokens.verify(query[TOKEN_HEADER] ?? tokenOf(request)));
      },
    },
    (socket, request) => {
      const claims = sessions.get(request)!;
      const unsubscribe = live.subscribe(claims.workspaceId, (message) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
      });
      let alive = true;
      socket.on('pong', () => (alive = true));
      const ping = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, PING_MS);
      // A session lasts as long as its token: the browser reconnects with a refreshed one.
      const expiry = setTimeout(
        () => socket.close(4401, 'token expired'),
        // setTimeout takes at most 2^31-1 ms (24.8 days).
        Math.min(Math.max(0, claims.expiresAt * 1000 - Date.now()), 2 ** 31 - 1),
      );
      socket.on('close', () => {
        clearInterval(ping);
        clearTimeout(expiry);
        unsubscribe();
      });
      // Clients may send heartbeats or anything else: nothing to answer.
      socket.on('message', () => {});
    },
  );
};
