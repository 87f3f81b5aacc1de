/**
 * A role is checked on every path, HTTP and WebSocket (issue 13, docs/accounts.md). The matrix below is
 * written from the issue and the table of roles, not from the routes' code: which of the four roles (and a
 * server administrator) may call each route. The test holds every route the app registers to it, both
 * ways, so a route added without an entry here fails; then calls every route as every role, in its own
 * workspace and in another one. The live-updates WebSocket lets every role connect (Pilot 2 opens it with
 * a device account) but sends updates only to roles that read the library, and re-checks the session at
 * each ping. Real Skyvault (SQLite), real HTTP through inject(), real WebSockets.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it, mock } from 'node:test';
import { WebSocket } from 'ws';
import { WEB_APP_PATHS } from '../../src/http/routes/web-app.routes.ts';
import { ERRORS } from '../../src/shared/app-error.ts';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { until } from '../helpers/wait.ts';

type Who = 'administrator' | 'operator' | 'viewer' | 'device' | 'server-admin';
const EVERYONE: readonly Who[] = ['administrator', 'operator', 'viewer', 'device', 'server-admin'];

// Who may, by what the route is for. A server administrator is an administrator of its own workspace
// who also manages workspaces.
/** The caller's own session, user and workspace. */
const SESSION = EVERYONE;
/** Pilot 2's upload API and binding its RC: device accounts, and the people who fly. */
const PILOT: readonly Who[] = ['administrator', 'operator', 'device', 'server-admin'];
/** Reading the library and the devices: viewers too, device accounts not. */
const READ: readonly Who[] = ['administrator', 'operator', 'viewer', 'server-admin'];
/** Changing the library or the devices (deleting media, unbinding, asking docks for logs or priority). */
const WRITE: readonly Who[] = ['administrator', 'operator', 'server-admin'];
/** The workspace's users and its bind code. */
const ACCOUNTS: readonly Who[] = ['administrator', 'server-admin'];
/** Workspaces themselves. */
const SERVER: readonly Who[] = ['server-admin'];

/** Every authenticated route in the OpenAPI document → who may call it. */
const MATRIX: Record<string, readonly Who[]> = {
  // DJI manage API
  'GET /manage/api/v1/users/current': SESSION,
  'GET /manage/api/v1/workspaces/current': SESSION,
  'GET /manage/api/v1/users/{workspace_id}/users': ACCOUNTS,
  'GET /manage/api/v1/devices/{workspace_id}/devices': READ,
  'GET /manage/api/v1/devices/{workspace_id}/devices/bound': READ,
  'GET /manage/api/v1/devices/{workspace_id}/devices/{device_sn}': READ,
  'POST /manage/api/v1/devices/{device_sn}/binding': PILOT,
  'DELETE /manage/api/v1/devices/{device_sn}/unbinding': WRITE,
  'POST /wayline/api/v1/workspaces/{workspace_id}/jobs/{job_id}/media-highest': WRITE,
  'GET /manage/api/v1/workspaces/{workspace_id}/devices/{device_sn}/logs': READ,
  'POST /manage/api/v1/workspaces/{workspace_id}/devices/{device_sn}/logs': WRITE,
  'DELETE /manage/api/v1/workspaces/{workspace_id}/devices/{device_sn}/logs': WRITE,
  'GET /manage/api/v1/workspaces/{workspace_id}/devices/{device_sn}/logs-uploaded': READ,
  'DELETE /manage/api/v1/workspaces/{workspace_id}/devices/{device_sn}/logs/{logs_id}': WRITE,
  'GET /manage/api/v1/workspaces/{workspace_id}/logs/{logs_id}/url/{file_id}': READ,
  // DJI media API: Pilot 2's uploads
  'POST /media/api/v1/workspaces/{workspace_id}/fast-upload': PILOT,
  'POST /media/api/v1/workspaces/{workspace_id}/files/tiny-fingerprints': PILOT,
  'GET /media/api/v1/workspaces/{workspace_id}/files/tiny-fingerprints': PILOT,
  'POST /media/api/v1/workspaces/{workspace_id}/upload-callback': PILOT,
  'POST /media/api/v1/workspaces/{workspace_id}/group-upload-callback': PILOT,
  'POST /storage/api/v1/workspaces/{workspace_id}/sts': PILOT,
  'GET /storage/api/v1/workspaces/{workspace_id}/sts': PILOT,
  'GET /api/v1/pilot/setup': PILOT,
  // DJI media API: the library
  'GET /media/api/v1/files/{workspace_id}/files': READ,
  'DELETE /media/api/v1/files/{workspace_id}/files': WRITE,
  'GET /media/api/v1/files/{workspace_id}/file/{file_id}': READ,
  'DELETE /media/api/v1/files/{workspace_id}/file/{file_id}': WRITE,
  'GET /media/api/v1/files/{workspace_id}/file/{file_id}/url': READ,
  'GET /media/api/v1/files/{workspace_id}/groups': READ,
  // Skyvault's web API
  'GET /api/v1/workspaces/{workspace_id}/overview': READ,
  'GET /api/v1/workspaces/{workspace_id}/media': READ,
  'DELETE /api/v1/workspaces/{workspace_id}/media': WRITE,
  'GET /api/v1/workspaces/{workspace_id}/media/facets': READ,
  'GET /api/v1/workspaces/{workspace_id}/media/map': READ,
  'GET /api/v1/workspaces/{workspace_id}/media/{file_id}': READ,
  'GET /api/v1/workspaces/{workspace_id}/file-groups': READ,
  'POST /api/v1/workspaces/{workspace_id}/media/zip': READ,
  // Accounts
  'POST /api/v1/session/logout': SESSION,
  'POST /api/v1/session/password': SESSION,
  'GET /api/v1/workspaces/{workspace_id}/users': ACCOUNTS,
  'POST /api/v1/workspaces/{workspace_id}/users': ACCOUNTS,
  'PATCH /api/v1/workspaces/{workspace_id}/users/{user_id}': ACCOUNTS,
  'DELETE /api/v1/workspaces/{workspace_id}/users/{user_id}': ACCOUNTS,
  'POST /api/v1/workspaces/{workspace_id}/users/{user_id}/password': ACCOUNTS,
  'POST /api/v1/workspaces/{workspace_id}/users/{user_id}/mqtt-password': ACCOUNTS,
  'POST /api/v1/workspaces/{workspace_id}/bind-code': ACCOUNTS,
  'GET /api/v1/workspaces': SERVER,
  'POST /api/v1/workspaces': SERVER,
  'PATCH /api/v1/workspaces/{workspace_id}': SERVER,
  'DELETE /api/v1/workspaces/{workspace_id}': SERVER,
};

/** Routes that need no token (in the OpenAPI document); /metrics checks a bearer token of its own. */
const PUBLIC_DOCUMENTED = [
  'GET /healthz',
  'GET /metrics',
  'POST /manage/api/v1/login',
  'POST /manage/api/v1/token/refresh',
];
/**
 * Routes hidden from the document: pages and scripts anyone may load, MQTT over WebSocket (the broker
 * authenticates it), the live-updates WebSocket (checked below, by its own rule).
 */
const HIDDEN = [
  // The web app's pages: the same static page, whatever the path (the browser routes).
  ...WEB_APP_PATHS.map((path) => `GET ${path}`),
  'GET /pilot',
  'GET /pilot/pilot.js',
  'GET /mqtt',
  'GET /api/v1/ws',
];
/** What @fastify/swagger-ui and the web app's static files serve, under these prefixes. */
const STATIC_PREFIXES = ['/docs', '/assets/'];

/** Dummy values for path parameters other than the workspace: nothing exists under them. */
const DUMMY: Record<string, string> = {
  file_id: randomUUID(),
  device_sn: 'NO-SUCH-DEVICE',
  user_id: randomUUID(),
  logs_id: randomUUID(),
  job_id: 'no-such-job',
};

/** `GET /a/{b}/c` with `{b}` → `GET /a/{}/c`: how the router's and the document's spellings compare. */
const shape = (route: string) => route.replace(/\{\w+\}/g, '{}').replace(/:\w+(\|:\w+)*/g, '{}');

function fill(path: string, workspaceId: string): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    if (name === 'workspace_id') return workspaceId;
    const value = DUMMY[name];
    if (!value) throw new Error(`no dummy value for {${name}}: add one`);
    return value;
  });
}

/**
 * Every route the router holds, as `METHOD /path`, from printRoutes()'s tree (Fastify has no public list
 * of routes once the app is built): each line is a node whose label continues its parent's path.
 */
function registeredRoutes(tree: string): string[] {
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const path = (stack[depth - 1] ?? '') + match[2]!;
    stack[depth] = path;
    stack.length = depth + 1;
    for (const method of match[3]?.split(', ') ?? []) routes.push(`${method} ${path}`);
  }
  return routes;
}

interface Caller {
  token: string;
  workspaceId: string;
}

const json = { 'content-type': 'application/json' };

describe('a role is checked on every path, HTTP and WebSocket', () => {
  let t: TestApp;
  let ws: string;
  let otherWs: string;
  let port: number;
  let documented: string[];
  let password = 0;

  /** Creates a user of this role in `workspaceId` and logs them in from the client the role uses. */
  async function userOf(who: Who, workspaceId = ws): Promise<Caller & { userId: string; username: string }> {
    const username = `${who}-${randomUUID().slice(0, 8)}`;
    const secret = `password-${(password += 1)}-long`;
    const userId = await createUser(t.app.database.db, workspaceId, username, secret, {
      role: who === 'server-admin' ? 'administrator' : who,
      serverAdmin: who === 'server-admin',
    });
    const response = await t.inject({
      method: 'POST',
      url: '/manage/api/v1/login',
      payload: { username, password: secret, flag: who === 'device' ? 2 : 1 },
    });
    const body = response.json();
    assert.equal(body.code, 0, `${who} logs in: ${response.body}`);
    return { token: body.data.access_token, workspaceId, userId, username };
  }

  /** A user of each role, logged in (each test its own: one logs them out). */
  async function everyone(): Promise<Record<Who, Caller>> {
    const callers = {} as Record<Who, Caller>;
    for (const who of EVERYONE) callers[who] = await userOf(who);
    return callers;
  }

  const call = (route: string, token: string, workspaceId: string) => {
    const [method, path] = route.split(' ') as [string, string];
    const hasBody = ['POST', 'PATCH', 'DELETE', 'PUT'].includes(method);
    return t.inject({
      method: method as 'GET',
      url: fill(path, workspaceId),
      headers: { 'x-auth-token': token, ...(hasBody ? json : {}) },
      ...(hasBody ? { payload: '{}' } : {}),
    });
  };

  before(async () => {
    t = await startTestApp({
      env: {
        SKYVAULT_LOGIN_LIMIT_ACCOUNT: '0',
        SKYVAULT_LOGIN_LIMIT_ADDRESS: '0',
        // Routes that ask a dock something must not wait long for one that is not there.
        SKYVAULT_DEVICE_REPLY_TIMEOUT: '300',
        SKYVAULT_DEVICE_RETRIES: '0',
        // /metrics exists only with its token.
        SKYVAULT_METRICS_TOKEN: 'roles-test-metrics-token-0123456789abcdef',
      },
    });
    ({
      http: { port },
    } = await t.app.listen());
    ws = t.app.bootstrap.defaultWorkspaceId;
    otherWs = await createWorkspace(t.app.database.db, 'Someone else');
    await createUser(t.app.database.db, otherWs, 'someone-else-admin', 'someone-else-pw', {
      role: 'administrator',
    });
    const doc = (await t.inject({ method: 'GET', url: '/docs/json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    documented = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
  });
  after(() => t?.close());

  it('the matrix names every documented route, and every route in it is documented', () => {
    const inMatrix = [...Object.keys(MATRIX), ...PUBLIC_DOCUMENTED].sort();
    assert.deepEqual([...documented].sort(), inMatrix);
  });

  it('every route the router holds is in the matrix, public, or static files', () => {
    const known = new Set([...Object.keys(MATRIX), ...PUBLIC_DOCUMENTED, ...HIDDEN].map(shape));
    const registered = registeredRoutes(t.app.http.printRoutes({ commonPrefix: false }))
      .filter((r) => !r.startsWith('HEAD ') && !r.startsWith('OPTIONS '))
      .filter((r) => !STATIC_PREFIXES.some((prefix) => r.split(' ')[1]!.startsWith(prefix)));
    // The parse found the routes (a change of printRoutes' format must not make this pass empty).
    assert.ok(registered.length >= Object.keys(MATRIX).length, `parsed only ${registered.length} routes`);
    assert.deepEqual(
      registered.filter((r) => !known.has(shape(r))),
      [],
      'routes without an entry in the matrix',
    );
    for (const route of [...Object.keys(MATRIX), ...HIDDEN]) {
      const [method, url] = route.split(' ') as [string, string];
      assert.ok(
        t.app.http.hasRoute({ method: method as 'GET', url: url.replace(/\{(\w+)\}/g, ':$1') }),
        `${route} is registered`,
      );
    }
  });

  it('public pages answer without a token', async () => {
    for (const url of ['/healthz', '/pilot', '/pilot/pilot.js']) {
      const response = await t.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 200, `GET ${url}: ${response.statusCode}`);
    }
    // The web app's page: 200, or 503 saying how to build it when dist/web is missing.
    for (const url of WEB_APP_PATHS) {
      const response = await t.inject({ method: 'GET', url });
      assert.ok([200, 503].includes(response.statusCode), `GET ${url}: ${response.statusCode}`);
      assert.match(response.headers['content-type'] as string, /^text\/html/);
    }
  });

  it('every route refuses a request without a token with 401', async () => {
    for (const route of Object.keys(MATRIX)) {
      const response = await call(route, '', ws);
      assert.equal(response.statusCode, 401, `${route} without a token: ${response.body}`);
    }
  });

  it('every route × every role in its own workspace: 403 RoleForbidden, or let through', async () => {
    const callers = await everyone();
    const problems: string[] = [];
    // Logging out ends the caller's session: last.
    const routes = Object.keys(MATRIX).sort(
      (a, b) => Number(a.endsWith('/logout')) - Number(b.endsWith('/logout')),
    );
    for (const who of EVERYONE) {
      const { token, workspaceId } = callers[who];
      for (const route of routes) {
        const response = await call(route, token, workspaceId);
        const body = response.json() as { code: number; message: string };
        if (MATRIX[route]!.includes(who)) {
          if (response.statusCode === 401 || response.statusCode === 403) {
            problems.push(`${who} ${route}: refused ${response.statusCode} ${body.message}`);
          }
        } else if (
          response.statusCode !== 403 ||
          body.code !== 403 ||
          body.message !== ERRORS.RoleForbidden.message
        ) {
          problems.push(
            `${who} ${route}: not refused: ${response.statusCode} ${response.body.slice(0, 200)}`,
          );
        }
      }
    }
    assert.deepEqual(problems, []);
    // The logouts were let through for real: the sessions are over.
    for (const who of EVERYONE) {
      assert.equal((await call('GET /manage/api/v1/users/current', callers[who].token, ws)).statusCode, 401);
    }
  });

  it("another workspace's routes: 403 WorkspaceForbidden, but a server administrator manages its accounts", async () => {
    const callers = await everyone();
    const problems: string[] = [];
    const scoped = Object.keys(MATRIX).filter((r) => r.includes('{workspace_id}'));
    assert.ok(scoped.length > 30);
    for (const who of EVERYONE) {
      for (const route of scoped) {
        const response = await call(route, callers[who].token, otherWs);
        const body = response.json() as { code: number; message: string };
        const manages = MATRIX[route] === ACCOUNTS || MATRIX[route] === SERVER;
        if (who === 'server-admin' && manages) {
          if (response.statusCode === 401 || response.statusCode === 403) {
            problems.push(`${who} ${route}: refused ${response.statusCode} ${body.message}`);
          }
        } else if (
          response.statusCode !== 403 ||
          body.code !== 403 ||
          body.message !== ERRORS.WorkspaceForbidden.message
        ) {
          problems.push(
            `${who} ${route}: not refused: ${response.statusCode} ${response.body.slice(0, 200)}`,
          );
        }
      }
    }
    assert.deepEqual(problems, []);

    // What the server administrator reaches there is the real thing: that workspace's users.
    const admin = callers['server-admin'].token;
    const users = await call('GET /api/v1/workspaces/{workspace_id}/users', admin, otherWs);
    assert.deepEqual(
      users.json().data.list.map((u: { username: string }) => u.username),
      ['someone-else-admin'],
    );
    // An administrator of that workspace is no administrator here.
    const theirs = await userOf('administrator', otherWs);
    const here = await call('GET /api/v1/workspaces/{workspace_id}/users', theirs.token, ws);
    assert.equal(here.statusCode, 403);
    assert.equal(here.json().message, ERRORS.WorkspaceForbidden.message);
  });

  it('a role change applies to the tokens already issued', async () => {
    const admin = await userOf('administrator');
    const operator = await userOf('operator');
    const route = 'DELETE /api/v1/workspaces/{workspace_id}/media';
    assert.notEqual((await call(route, operator.token, ws)).statusCode, 403);
    const change = await t.inject({
      method: 'PATCH',
      url: `/api/v1/workspaces/${ws}/users/${operator.userId}`,
      headers: { 'x-auth-token': admin.token },
      payload: { role: 'viewer' },
    });
    assert.equal(change.json().code, 0, change.body);
    const now = await call(route, operator.token, ws);
    assert.equal(now.statusCode, 403);
    assert.equal(now.json().message, ERRORS.RoleForbidden.message);
  });

  describe('the live-updates WebSocket', () => {
    const url = (token: string) =>
      `ws://127.0.0.1:${port}/api/v1/ws?x-auth-token=${encodeURIComponent(token)}`;

    /** Opens the socket; resolves with it, or with the HTTP status that refused the upgrade. */
    function open(token: string): Promise<{ socket: WebSocket; status?: undefined } | { status: number }> {
      const socket = new WebSocket(url(token));
      return new Promise((resolve, reject) => {
        socket.once('open', () => resolve({ socket }));
        socket.once('unexpected-response', (_request, response) => {
          resolve({ status: response.statusCode ?? 0 });
          socket.terminate();
        });
        socket.once('error', reject);
      });
    }

    const closed = (socket: WebSocket) =>
      new Promise<number>((resolve) => socket.once('close', (code: number) => resolve(code)));

    it('every role connects; live updates go to the roles that read the library, not to device accounts', async () => {
      const callers = await everyone();
      const received: Record<string, string[]> = {};
      const sockets: WebSocket[] = [];
      for (const who of EVERYONE) {
        const result = await open(callers[who].token);
        assert.ok(
          'socket' in result,
          `${who} connects (refused with ${'status' in result ? result.status : ''})`,
        );
        received[who] = [];
        result.socket.on('message', (raw: Buffer) =>
          received[who]!.push(JSON.parse(raw.toString()).biz_code),
        );
        sockets.push(result.socket);
      }
      t.app.live.publish(ws, 'roles_test_event', { n: 1 });
      t.app.live.publish(otherWs, 'other_workspace_event', { n: 2 });
      const readers = EVERYONE.filter((who) => who !== 'device');
      for (const who of readers) {
        await until(`${who} gets the update`, () => (received[who]!.length > 0 ? true : undefined), 5000);
      }
      // Time for a message to the device account to arrive, had one been sent.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(received, {
        administrator: ['roles_test_event'],
        operator: ['roles_test_event'],
        viewer: ['roles_test_event'],
        device: [],
        'server-admin': ['roles_test_event'],
      });
      for (const socket of sockets) {
        socket.close();
        await closed(socket);
      }
      assert.deepEqual(await open('not-a-token'), { status: 401 });
      assert.deepEqual(await open(''), { status: 401 });
    });

    it('each ping checks the session again: logout, a disabled user or a role that may not use the client closes with 4401, another role change with 4403', async () => {
      // The route checks at each ping, every 30 s (not configurable from the app): setInterval is
      // mocked while the sockets open, so their pings run when the test says.
      const logsOut = await userOf('viewer');
      const disabled = await userOf('operator');
      const demoted = await userOf('operator');
      const promoted = await userOf('device');
      const stays = await userOf('viewer');
      const admin = await userOf('administrator');
      mock.timers.enable({ apis: ['setInterval'] });
      try {
        const sockets: Record<string, WebSocket> = {};
        for (const [name, user] of Object.entries({ logsOut, disabled, demoted, promoted, stays })) {
          const result = await open(user.token);
          assert.ok('socket' in result, `${name} connects`);
          sockets[name] = result.socket;
        }
        const codes = Object.fromEntries(Object.entries(sockets).map(([name, s]) => [name, closed(s)]));
        const logout = await t.inject({
          method: 'POST',
          url: '/api/v1/session/logout',
          headers: { 'x-auth-token': logsOut.token },
        });
        assert.equal(logout.json().code, 0);
        for (const [user, change] of [
          [disabled, { disabled: true }],
          [demoted, { role: 'device' }],
          [promoted, { role: 'operator' }],
        ] as const) {
          const response = await t.inject({
            method: 'PATCH',
            url: `/api/v1/workspaces/${ws}/users/${user.userId}`,
            headers: { 'x-auth-token': admin.token },
            payload: change,
          });
          assert.equal(response.json().code, 0, response.body);
        }
        // Nothing closes before the ping.
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.ok(Object.values(sockets).every((s) => s.readyState === WebSocket.OPEN));
        mock.timers.tick(30_000);
        assert.equal(await codes.logsOut, 4401);
        assert.equal(await codes.disabled, 4401);
        // An operator made a device account: its web session ends (a device account logs in from
        // Pilot 2 only).
        assert.equal(await codes.demoted, 4401);
        // A device account made an operator keeps its Pilot session; the socket closes so that the
        // client reconnects and gets what the new role allows.
        assert.equal(await codes.promoted, 4403);
        // The one whose session is fine stays open.
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(sockets.stays!.readyState, WebSocket.OPEN);
        sockets.stays!.close();
        assert.equal(await codes.stays, 1005);
      } finally {
        mock.timers.reset();
      }
    });
  });
});
