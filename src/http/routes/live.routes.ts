/**
 * The web's live updates (docs/protocol.md §7.5): `ws(s)://host/api/v1/ws?x-auth-token=…`. Browsers cannot
 * set headers on a WebSocket, so the token comes in the query string (masked in logs); it is verified
 * before the upgrade (401 otherwise), with its session. A role that may read the library receives its
 * workspace's messages as `{biz_code, version, timestamp, data}` text frames. Pilot 2 opens this socket
 * too (its `ws` component, docs/pilot.md): a device account may connect, so Pilot stays connected, but
 * is sent nothing, as the workspace's content is not its to read; other roles get 403. Pings every 30 s
 * drop dead connections, and each ping checks the session again, so a logout, a disabled account or a
 * role change closes the socket (4401 ended, 4403 no longer allowed) within a ping.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Caller, SessionService } from '../../features/auth/session.service.ts';
import type { LiveEvents } from '../../features/events/live-events.ts';
import { allows } from '../../features/users/roles.ts';
import { AppError } from '../../shared/app-error.ts';
import { authorize, TOKEN_HEADER, tokenOf } from '../plugins/auth.ts';

export interface LiveRoutesOptions {
  sessions: SessionService;
  live: LiveEvents;
  /** How often a socket is pinged and its session checked again (PING_MS; tests shorten it). */
  pingMs?: number;
}

const PING_MS = 30_000;

export const liveRoutes: FastifyPluginAsync<LiveRoutesOptions> = async (
  app,
  { sessions, live, pingMs = PING_MS },
) => {
  const callers = new WeakMap<object, { caller: Caller; token: string | undefined }>();
  app.get(
    '/api/v1/ws',
    {
      websocket: true,
      // Authenticated here, from the query string, not by the header-based hook; the permission below is
      // checked here too.
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
        const token = query[TOKEN_HEADER] ?? tokenOf(request);
        const caller = await sessions.authenticate(token);
        authorize(caller, allows(caller, 'library.read') ? 'library.read' : 'pilot', undefined);
        callers.set(request, { caller, token });
      },
    },
    (socket, request) => {
      const { caller: claims, token } = callers.get(request)!;
      const reads = allows(claims, 'library.read');
      const unsubscribe = reads
        ? live.subscribe(claims.workspaceId, (message) => {
            if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
          })
        : () => {};
      let alive = true;
      socket.on('pong', () => (alive = true));
      const ping = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
        sessions.authenticate(token).then(
          (caller) => {
            // A role change either way: the socket reconnects and gets what the new role allows.
            if (allows(caller, 'library.read') !== reads) socket.close(4403, 'role changed');
            else if (!reads && !allows(caller, 'pilot')) socket.close(4403, 'role no longer allowed');
          },
          (error: unknown) => {
            if (error instanceof AppError && error.status === 401) socket.close(4401, 'session ended');
          },
        );
      }, pingMs);
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
