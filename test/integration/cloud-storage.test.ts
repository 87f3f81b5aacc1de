/**
 * Skyvault on cloud storage (SKYVAULT_STORAGE=minio, issue 14), for real without the cloud: a second
 * Skyvault's embedded store plays the MinIO server (root credentials, S3, STS AssumeRole with session
 * policies). The Skyvault under test runs the `minio` provider's real code path end to end: Pilot asks
 * for credentials (its STS), uploads with them, reports; the library lists, downloads and deletes.
 * And it refuses to start, in one sentence, on keys that are refused, a missing bucket or an endpoint
 * that does not answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { testPilot } from '../helpers/pilot.ts';
import { ROOT_CREDENTIALS, sdkClient } from '../helpers/storage.ts';
import { startLoggedInApp, startTestApp, startupRefusal, type TestApp } from '../helpers/test-app.ts';

const ROOT_ENV = {
  SKYVAULT_STORAGE_ACCESS_KEY: ROOT_CREDENTIALS.accessKey,
  SKYVAULT_STORAGE_SECRET_KEY: ROOT_CREDENTIALS.secretKey,
};

describe('Skyvault on SKYVAULT_STORAGE=minio (another Skyvault’s embedded store as the MinIO)', () => {
  let minio: TestApp;
  let endpoint: string;
  let t: TestApp;
  let token: string;
  let ws: string;
  const cloudEnv = (extra: Record<string, string> = {}) => ({
    SKYVAULT_STORAGE: 'minio',
    SKYVAULT_S3_ENDPOINT: endpoint,
    SKYVAULT_S3_ACCESS_KEY: ROOT_CREDENTIALS.accessKey,
    SKYVAULT_S3_SECRET_KEY: ROOT_CREDENTIALS.secretKey,
    ...extra,
  });

  before(async () => {
    ({ t: minio } = await startLoggedInApp({ env: ROOT_ENV }));
    endpoint = `http://127.0.0.1:${minio.app.embeddedStore!.port}`;
    ({ t, token, ws } = await startLoggedInApp({ env: cloudEnv() }));
  });
  after(async () => {
    await t?.close();
    await minio?.close();
  });

  const api = (method: 'GET' | 'DELETE', url: string) =>
    t.inject({ method, url, headers: { 'x-auth-token': token } });

  it('has no storage listener of its own, and tells devices the MinIO endpoint', async () => {
    assert.equal(t.app.embeddedStore, undefined);
    const pilot = await testPilot(t, token, ws);
    assert.equal(pilot.credentials.provider, 'minio');
    assert.equal(pilot.credentials.endpoint, endpoint);
    assert.equal(pilot.credentials.prefix, `${ws}/media`);
    assert.ok(pilot.credentials.accessKeyId !== ROOT_CREDENTIALS.accessKey, 'temporary, not the root keys');
  });

  it('runs a Pilot upload end to end: STS credentials, PUT, report, list, download, delete', async () => {
    const pilot = await testPilot(t, token, ws);
    const bytes = Buffer.from('a photo stored in the cloud');
    const answer = await pilot.upload('cloud/DJI_0001.JPG', bytes);
    assert.equal(answer.code, 0, answer.message);
    const key = `${ws}/media/cloud/DJI_0001.JPG`;
    assert.equal((await minio.app.storage.head(key))?.size, bytes.length, 'the object is in the MinIO');

    const listed = (await api('GET', `/media/api/v1/files/${ws}/files`)).json();
    const file = listed.data.list.find((f: { object_key: string }) => f.object_key === key);
    assert.ok(file, JSON.stringify(listed.data.list));
    const link = await api('GET', `/media/api/v1/files/${ws}/file/${file.file_id}/url`);
    assert.equal(link.statusCode, 302);
    const download = await fetch(link.headers.location as string);
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), bytes);
    assert.ok(
      (link.headers.location as string).startsWith(`${endpoint}/`),
      'signed for the endpoint browsers reach',
    );

    const deleted = await api('DELETE', `/media/api/v1/files/${ws}/file/${file.file_id}`);
    assert.equal(deleted.json().code, 0, deleted.body);
    assert.equal(await minio.app.storage.head(key), undefined, 'gone from the MinIO');
  });

  it('scopes device credentials to the workspace prefix, enforced by the storage', async () => {
    const pilot = await testPilot(t, token, ws);
    const client = sdkClient(pilot.credentials);
    for (const key of [`other-workspace/media/x.jpg`, `${ws}/thumbnails/x.jpg`, `${ws}/logs/x.tar`]) {
      await assert.rejects(
        client.send(new PutObjectCommand({ Bucket: pilot.credentials.bucket, Key: key, Body: 'no' })),
        (e: Error) => e.name === 'AccessDenied',
        key,
      );
    }
    client.destroy();
  });

  it('asks STS once for many devices of a workspace, not once per request', async () => {
    const first = await testPilot(t, token, ws);
    const second = await testPilot(t, token, ws);
    assert.equal(second.credentials.accessKeyId, first.credentials.accessKeyId);
  });

  describe('refuses to start, in one sentence', () => {
    it('when the keys are refused', async () => {
      const message = await startupRefusal(cloudEnv({ SKYVAULT_S3_SECRET_KEY: 'not-the-secret-0123' }));
      assert.match(
        message,
        /refuses SKYVAULT_S3_ACCESS_KEY \/ SKYVAULT_S3_SECRET_KEY for the bucket "skyvault"/,
      );
      assert.ok(!message.includes('not-the-secret'), 'without the secret');
    });

    it('when the bucket does not exist', async () => {
      const message = await startupRefusal(cloudEnv({ SKYVAULT_S3_BUCKET: 'no-such-bucket' }));
      assert.match(
        message,
        /The bucket "no-such-bucket" does not exist at the minio storage at http:\/\/127\.0\.0\.1:\d+: create it with `skyvault storage init`/,
      );
    });

    it('when the endpoint does not answer', async () => {
      const message = await startupRefusal(cloudEnv({ SKYVAULT_S3_ENDPOINT: 'http://127.0.0.1:9' }));
      assert.match(
        message,
        /The minio storage at http:\/\/127\.0\.0\.1:9 cannot be reached .*check SKYVAULT_S3_ENDPOINT/,
      );
    });
  });

  it('reports the storage in /healthz, and 503 once it stops answering', async () => {
    assert.deepEqual((await t.inject({ method: 'GET', url: '/healthz' })).json(), {
      status: 'ok',
      database: 'sqlite',
      storage: 'minio',
    });
    // Another pair, whose storage then goes away (its first health check comes after that).
    const { t: gone } = await startLoggedInApp({ env: ROOT_ENV });
    const goneEndpoint = `http://127.0.0.1:${gone.app.embeddedStore!.port}`;
    const { t: orphan } = await startLoggedInApp({ env: cloudEnv({ SKYVAULT_S3_ENDPOINT: goneEndpoint }) });
    try {
      await gone.close();
      const health = await orphan.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.statusCode, 503);
      assert.deepEqual(health.json(), {
        status: 'unavailable',
        database: 'sqlite',
        storage: 'minio',
        reason: 'object storage not answering',
      });
    } finally {
      await orphan.close();
    }
  });

  it('names what a cloud provider lacks before anything starts', async () => {
    await assert.rejects(startTestApp({ env: { SKYVAULT_STORAGE: 'aws' } }), (error: Error) => {
      assert.match(
        error.message,
        /SKYVAULT_STORAGE=aws needs SKYVAULT_S3_ACCESS_KEY, SKYVAULT_S3_SECRET_KEY, SKYVAULT_S3_ROLE_ARN/,
      );
      return true;
    });
  });
});
