/**
 * Password hashing must not starve file I/O (docs/configuration.md, "Logins"): scrypt runs in worker
 * threads of its own, a few at a time, never on libuv's threadpool, which the object store's file
 * writes need. Timings are compared with a baseline measured in the same test, never absolute.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, promises as fsp, openSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { UploadCredentials } from '../../src/storage/provider.ts';
import { sdkClient } from '../helpers/storage.ts';
import {
  ADMIN_PASSWORD,
  startLoggedInApp,
  startTestApp,
  type TestApp,
  tempDir,
} from '../helpers/test-app.ts';

const login = (t: TestApp, username: string, password: string, address: string) =>
  t.inject({
    method: 'POST',
    url: '/manage/api/v1/login',
    headers: { 'x-forwarded-for': address },
    payload: { username, password, flag: 2 },
  });

async function stsCredentials(t: TestApp, token: string, ws: string): Promise<UploadCredentials> {
  const response = await t.inject({
    method: 'POST',
    url: `/storage/api/v1/workspaces/${ws}/sts`,
    headers: { 'x-auth-token': token, host: '127.0.0.1' },
  });
  const { data } = response.json();
  return {
    accessKeyId: data.credentials.access_key_id,
    accessKeySecret: data.credentials.access_key_secret,
    securityToken: data.credentials.security_token,
    endpoint: data.endpoint,
    bucket: data.bucket,
    region: data.region,
    provider: data.provider,
    prefix: data.object_key_prefix,
    expiresAt: 0,
  };
}

/**
 * `clients` bogus logins kept in flight until stopped: unknown usernames, each request from another
 * address (a distributed flood, which no per-account or per-address limit holds back).
 */
function flood(t: TestApp, clients: number) {
  let stopped = false;
  let sent = 0;
  const answers = new Map<number, number>();
  const loops = Array.from({ length: clients }, async () => {
    while (!stopped) {
      const n = sent++;
      const response = await login(
        t,
        `bogus-${n}`,
        'not-the-password',
        `198.51.${(n >> 8) & 255}.${n & 255}`,
      );
      answers.set(response.statusCode, (answers.get(response.statusCode) ?? 0) + 1);
    }
  });
  return {
    answers,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Opens `fifo` for writing without blocking (on this thread): every reader blocked in open returns. */
async function release(fifo: string, readers: Array<Promise<fsp.FileHandle>>): Promise<void> {
  let writer: number | undefined;
  for (let tries = 0; writer === undefined; tries++) {
    try {
      writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (error) {
      // ENXIO: no reader has opened it yet (they wait for a thread); try again.
      if ((error as NodeJS.ErrnoException).code !== 'ENXIO' || tries > 500) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  for (const handle of await Promise.all(readers)) await handle.close();
  closeSync(writer);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe('a flood of bogus logins at the production hash cost', () => {
  it('does not stall an S3 PUT to the embedded store', async (context) => {
    const { t, token, ws } = await startLoggedInApp({
      // Production's cost (32 MiB per hash); a queue long enough that the whole flood waits in it, so
      // the hashing side is as loaded as it gets.
      env: { SKYVAULT_PASSWORD_HASH_COST: '15', SKYVAULT_PASSWORD_HASH_QUEUE: '64' },
    });
    try {
      const credentials = await stsCredentials(t, token, ws);
      const client = sdkClient(credentials);
      const body = randomBytes(1024 * 1024);
      let n = 0;
      /** One PUT's milliseconds; at most `capMs` (then aborted). */
      const put = async (capMs = 60_000) => {
        const started = performance.now();
        await client
          .send(
            new PutObjectCommand({
              Bucket: credentials.bucket,
              Key: `${ws}/media/put-${n++}.bin`,
              Body: body,
            }),
            { abortSignal: AbortSignal.timeout(capMs) },
          )
          .catch((error: unknown) => {
            if ((error as Error).name !== 'AbortError' && (error as Error).name !== 'TimeoutError')
              throw error;
          });
        return performance.now() - started;
      };
      await put(); // warm-up: connection, first file of the prefix
      const baseline = median([await put(), await put(), await put()]);
      const boundMs = 5 * baseline + 1000;

      // Up to 5 PUTs under the flood, judged by their median: stop once 3 are on one side of the bound.
      const capMs = Math.ceil(Math.max(10_000, 3 * boundMs));
      const running = flood(t, 32);
      const loaded: number[] = [];
      try {
        await new Promise((resolve) => setTimeout(resolve, 300)); // the flood is under way
        while (loaded.length < 5) {
          loaded.push(await put(capMs));
          const over = loaded.filter((ms) => ms > boundMs).length;
          if (over >= 3 || loaded.length - over >= 3) break;
        }
      } finally {
        await running.stop();
        client.destroy();
      }
      const within = loaded.filter((ms) => ms <= boundMs).length;
      const shown = (ms: number) => (ms >= capMs ? `>${capMs} (aborted)` : ms.toFixed(0));
      context.diagnostic(
        `PUT of 1 MiB: ${baseline.toFixed(0)} ms alone (median of 3); under 32 bogus logins ` +
          `${loaded.map(shown).join(', ')} ms (bound ${boundMs.toFixed(0)} ms); ` +
          `login answers by status ${JSON.stringify([...running.answers])}`,
      );
      assert.ok(
        within >= 3, // the median of 5
        `PUTs took ${loaded.map(shown).join(', ')} ms under the flood, ${baseline.toFixed(0)} ms alone (bound 5× + 1 s)`,
      );
    } finally {
      await t.close();
    }
  });
});

describe('password hashing and libuv threadpool', () => {
  it('logs in while every libuv thread is blocked in file I/O', async (context) => {
    const t = await startTestApp();
    const dir = tempDir('skyvault-fifo-');
    const fifo = path.join(dir, 'blocked');
    execFileSync('mkfifo', [fifo]);
    // Opening a FIFO for reading blocks until a writer opens it: each open holds one libuv thread.
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4) + 4;
    const readers = Array.from({ length: threads }, () => fsp.open(fifo, 'r'));
    try {
      await new Promise((resolve) => setTimeout(resolve, 100)); // the threads are taken
      const started = performance.now();
      const answer = await Promise.race([
        login(t, 'admin', ADMIN_PASSWORD, '192.0.2.1').then((response) => response.json()),
        new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000)),
      ]);
      context.diagnostic(
        `login with the threadpool blocked: ${answer === 'timeout' ? 'no answer in 15 s' : `${(performance.now() - started).toFixed(0)} ms`}`,
      );
      assert.notEqual(answer, 'timeout', 'the login waited for the libuv threadpool');
      assert.equal(answer.code, 0);
    } finally {
      await release(fifo, readers);
      await fsp.rm(dir, { recursive: true, force: true });
      await t.close();
    }
  });
});
