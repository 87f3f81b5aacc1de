/**
 * Skyvault on Aliyun OSS (SKYVAULT_STORAGE=ali, issue 14), for real without Aliyun: a second
 * Skyvault's embedded store plays OSS and Aliyun STS (OSS Signature V4, STS AssumeRole signed as
 * Aliyun's RPC API, RAM policies enforced; its verifiers are pinned to Aliyun's published vectors in
 * test/unit). The Skyvault under test runs the `ali` provider's real code path, `ali-oss`, end to end:
 * Pilot asks for credentials (Aliyun STS), uploads with Aliyun's client, reports; the library lists,
 * downloads and deletes. And it refuses to start, in one sentence, on refused keys or a missing bucket.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ossClient } from '../helpers/device-storage.ts';
import { testPilot } from '../helpers/pilot.ts';
import { ROOT_CREDENTIALS } from '../helpers/storage.ts';
import { startLoggedInApp, startTestApp, startupRefusal, type TestApp } from '../helpers/test-app.ts';

const REGION = 'cn-hangzhou';
const ROLE = 'acs:ram::1234567890123456:role/skyvault-devices';

describe('Skyvault on SKYVAULT_STORAGE=ali (another Skyvault’s embedded store as OSS and its STS)', () => {
  let oss: TestApp;
  let endpoint: string;
  let t: TestApp;
  let token: string;
  let ws: string;
  const aliEnv = (extra: Record<string, string> = {}) => ({
    SKYVAULT_STORAGE: 'ali',
    SKYVAULT_S3_ENDPOINT: endpoint,
    SKYVAULT_S3_STS_ENDPOINT: endpoint,
    SKYVAULT_S3_REGION: `oss-${REGION}`,
    SKYVAULT_S3_ACCESS_KEY: ROOT_CREDENTIALS.accessKey,
    SKYVAULT_S3_SECRET_KEY: ROOT_CREDENTIALS.secretKey,
    SKYVAULT_S3_ROLE_ARN: ROLE,
    ...extra,
  });

  before(async () => {
    ({ t: oss } = await startLoggedInApp({
      env: {
        SKYVAULT_STORAGE_ACCESS_KEY: ROOT_CREDENTIALS.accessKey,
        SKYVAULT_STORAGE_SECRET_KEY: ROOT_CREDENTIALS.secretKey,
        SKYVAULT_S3_REGION: REGION,
      },
    }));
    // localhost, not 127.0.0.1: for an IP endpoint ali-oss puts Aliyun's host name in Host.
    endpoint = `http://localhost:${oss.app.embeddedStore!.port}`;
    ({ t, token, ws } = await startLoggedInApp({ env: aliEnv() }));
  });
  after(async () => {
    await t?.close();
    await oss?.close();
  });

  const api = (method: 'GET' | 'DELETE', url: string) =>
    t.inject({ method, url, headers: { 'x-auth-token': token } });

  it('tells devices provider "ali", the OSS endpoint and the region without "oss-"', async () => {
    assert.equal(t.app.embeddedStore, undefined);
    const pilot = await testPilot(t, token, ws);
    assert.equal(pilot.credentials.provider, 'ali');
    assert.equal(pilot.credentials.endpoint, endpoint);
    assert.equal(pilot.credentials.region, REGION);
    assert.equal(pilot.credentials.prefix, `${ws}/media`);
    assert.ok(pilot.credentials.accessKeyId !== ROOT_CREDENTIALS.accessKey, 'temporary, not the root keys');
    assert.ok(pilot.credentials.securityToken.length > 0);
  });

  it('runs a Pilot upload end to end: Aliyun STS, OSS PUT, report, list, download, delete', async () => {
    const pilot = await testPilot(t, token, ws);
    const bytes = Buffer.from('a photo stored in Aliyun OSS');
    const answer = await pilot.upload('oss/DJI_0001.JPG', bytes);
    assert.equal(answer.code, 0, answer.message);
    const key = `${ws}/media/oss/DJI_0001.JPG`;
    assert.equal((await oss.app.storage.head(key))?.size, bytes.length, 'the object is in the bucket');

    const listed = (await api('GET', `/media/api/v1/files/${ws}/files`)).json();
    const file = listed.data.list.find((f: { object_key: string }) => f.object_key === key);
    assert.ok(file, JSON.stringify(listed.data.list));
    const link = await api('GET', `/media/api/v1/files/${ws}/file/${file.file_id}/url`);
    assert.equal(link.statusCode, 302);
    const location = link.headers.location as string;
    assert.ok(location.startsWith(`${endpoint}/`), 'signed for the endpoint browsers reach');
    assert.match(location, /x-oss-signature-version=OSS4-HMAC-SHA256/, 'an OSS V4 signed link');
    const download = await fetch(location);
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), bytes);

    const deleted = await api('DELETE', `/media/api/v1/files/${ws}/file/${file.file_id}`);
    assert.equal(deleted.json().code, 0, deleted.body);
    assert.equal(await oss.app.storage.head(key), undefined, 'gone from the bucket');
  });

  it('scopes device credentials to the workspace prefix, enforced by the storage', async () => {
    const pilot = await testPilot(t, token, ws);
    const client = ossClient(pilot.credentials);
    for (const key of [`other-workspace/media/x.jpg`, `${ws}/thumbnails/x.jpg`, `${ws}/logs/x.tar`]) {
      await assert.rejects(
        client.put(key, Buffer.from('no')),
        (e: Error & { code?: string }) => e.code === 'AccessDenied',
        key,
      );
    }
  });

  it('reports the storage in /healthz', async () => {
    assert.deepEqual((await t.inject({ method: 'GET', url: '/healthz' })).json(), {
      status: 'ok',
      database: 'sqlite',
      storage: 'ali',
    });
  });

  describe('refuses to start, in one sentence', () => {
    it('when the keys are refused', async () => {
      const message = await startupRefusal(aliEnv({ SKYVAULT_S3_SECRET_KEY: 'not-the-secret-0123' }));
      assert.match(message, /The ali storage at http:\/\/localhost:\d+ refuses SKYVAULT_S3_ACCESS_KEY/);
      assert.ok(!message.includes('not-the-secret'), 'without the secret');
    });

    it('when the bucket does not exist', async () => {
      const message = await startupRefusal(aliEnv({ SKYVAULT_S3_BUCKET: 'no-such-bucket' }));
      assert.match(message, /The bucket "no-such-bucket" does not exist at the ali storage/);
    });

    it('when the role is missing, before anything starts', async () => {
      await assert.rejects(
        startTestApp({ env: aliEnv({ SKYVAULT_S3_ROLE_ARN: '' }) }),
        /SKYVAULT_STORAGE=ali needs SKYVAULT_S3_ROLE_ARN/,
      );
    });
  });
});
