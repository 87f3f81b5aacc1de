/**
 * `skyvault storage migrate` as an operator runs it (issue 14). A Skyvault on the embedded store gets a
 * photo from a Pilot (STS credentials, upload, callback) and a few objects from an S3 client with the
 * store's root credentials, then stops. A second Skyvault plays the MinIO server. The command moves the
 * first one's objects there. The first Skyvault then starts on SKYVAULT_STORAGE=minio and serves the
 * photo from the bucket through its library. The command refuses SKYVAULT_STORAGE=local, and refuses a
 * target whose keys are refused, with the sentence `serve` would print.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { runCli, serveEnv } from '../helpers/cli.ts';
import { tempDir } from '../helpers/test-app.ts';

const PASSWORD = 'migrate-admin-password';
const ROOT_A = { accessKey: 'SOURCEROOTKEY', secretKey: 'source-root-secret-0123456789' };
const ROOT_B = { accessKey: 'TARGETROOTKEY', secretKey: 'target-root-secret-0123456789' };
const MiB = 1024 * 1024;

function serve(t: TestContext, env: Record<string, string>) {
  const cli = runCli(['serve'], env);
  t.after(() => cli.stop('SIGKILL'));
  return cli;
}

const urlOf = (stdout: string) => /Web and API:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]!;
const storageUrlOf = (stdout: string) => /Object storage:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]!;

async function login(base: string): Promise<{ token: string; ws: string }> {
  const response = await fetch(`${base}/manage/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD, flag: 1 }),
  });
  const body = (await response.json()) as {
    code: number;
    data: { access_token: string; workspace_id: string };
  };
  assert.equal(body.code, 0, JSON.stringify(body));
  return { token: body.data.access_token, ws: body.data.workspace_id };
}

function s3(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
) {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

/** What a Pilot does: STS credentials, a PUT with them, the upload-callback. Returns the object key. */
async function pilotUpload(base: string, token: string, ws: string, name: string, body: Buffer) {
  const headers = { 'x-auth-token': token, 'content-type': 'application/json' };
  const sts = (await (
    await fetch(`${base}/storage/api/v1/workspaces/${ws}/sts`, { method: 'POST', headers, body: '{}' })
  ).json()) as {
    data: {
      endpoint: string;
      bucket: string;
      object_key_prefix: string;
      credentials: { access_key_id: string; access_key_secret: string; security_token: string };
    };
  };
  const { data } = sts;
  const key = `${data.object_key_prefix}/${name}`;
  const client = s3(data.endpoint, {
    accessKeyId: data.credentials.access_key_id,
    secretAccessKey: data.credentials.access_key_secret,
    sessionToken: data.credentials.security_token,
  });
  await client.send(
    new PutObjectCommand({ Bucket: data.bucket, Key: key, Body: body, ContentType: 'image/jpeg' }),
  );
  client.destroy();
  const callback = await fetch(`${base}/media/api/v1/workspaces/${ws}/upload-callback`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ result: 0, name, path: '', object_key: key }),
  });
  assert.equal(((await callback.json()) as { code: number }).code, 0);
  return key;
}

describe('skyvault storage migrate', () => {
  it('moves a data dir’s objects into a MinIO, from where that Skyvault then serves them', async (t) => {
    const dirA = tempDir();
    const envA = {
      ...serveEnv(dirA),
      SKYVAULT_ADMIN_PASSWORD: PASSWORD,
      SKYVAULT_STORAGE_ACCESS_KEY: ROOT_A.accessKey,
      SKYVAULT_STORAGE_SECRET_KEY: ROOT_A.secretKey,
    };
    const a = serve(t, envA);
    const b = serve(t, {
      ...serveEnv(tempDir()),
      SKYVAULT_STORAGE_ACCESS_KEY: ROOT_B.accessKey,
      SKYVAULT_STORAGE_SECRET_KEY: ROOT_B.secretKey,
    });
    const [outA, outB] = await Promise.all([a.waitFor('Try it:'), b.waitFor('Try it:')]);
    const base = urlOf(outA);

    // A photo from a Pilot, and objects from an S3 client with the root keys (one multipart, odd keys).
    const { token, ws } = await login(base);
    const photo = randomBytes(200_000);
    const photoKey = await pilotUpload(base, token, ws, 'DJI_0001.JPG', photo);
    const root = s3(storageUrlOf(outA), { accessKeyId: ROOT_A.accessKey, secretAccessKey: ROOT_A.secretKey });
    for (const key of [`${ws}/media/with space/é 写真.jpg`, `${ws}/logs/empty.log`]) {
      const body = key.endsWith('.log') ? Buffer.alloc(0) : randomBytes(1000);
      await root.send(new PutObjectCommand({ Bucket: 'skyvault', Key: key, Body: body }));
    }
    await new Upload({
      client: root,
      params: {
        Bucket: 'skyvault',
        Key: `${ws}/media/DJI_0002.MP4`,
        Body: randomBytes(7 * MiB),
        ContentType: 'video/mp4',
      },
      partSize: 5 * MiB,
    }).done();
    root.destroy();
    assert.equal(await a.stop('SIGTERM'), 0);

    const target = {
      SKYVAULT_STORAGE: 'minio',
      SKYVAULT_S3_ENDPOINT: storageUrlOf(outB),
      SKYVAULT_S3_ACCESS_KEY: ROOT_B.accessKey,
      SKYVAULT_S3_SECRET_KEY: ROOT_B.secretKey,
    };
    // Each command loads the code anew (seconds on a busy machine): they run side by side.
    const migrate = runCli(['storage', 'migrate'], { ...serveEnv(dirA), ...target });
    const local = runCli(['storage', 'migrate'], serveEnv(dirA));
    const refused = runCli(['storage', 'migrate', '--dry-run'], {
      ...serveEnv(dirA),
      ...target,
      SKYVAULT_S3_SECRET_KEY: 'not-the-secret-0123',
    });

    assert.equal(await migrate.exited(), 0, migrate.stderr());
    assert.match(
      migrate.stdout(),
      /Copying the embedded store in .*objects \(4 objects, 7\.2 MiB\) to the minio bucket "skyvault"/,
    );
    assert.match(
      migrate.stdout(),
      /^Done: 4 objects copied \(7\.2 MiB\), 0 already in the bucket and skipped, 0 failed/m,
    );
    assert.match(migrate.stdout(), /Next: restart Skyvault with these settings/);
    assert.match(migrate.stdout(), /Nothing was deleted: .*objects still holds the embedded store/);

    assert.equal(await local.exited(), 1);
    assert.match(local.stderr(), /^SKYVAULT_STORAGE is local, so there is no bucket to migrate to: /m);
    assert.equal(await refused.exited(), 1);
    assert.match(
      refused.stderr(),
      /^The minio storage at http:\/\/127\.0\.0\.1:\d+ refuses SKYVAULT_S3_ACCESS_KEY \/ SKYVAULT_S3_SECRET_KEY for the bucket "skyvault"/m,
    );
    assert.ok(!refused.stderr().includes('not-the-secret'), 'without the secret');

    // The first Skyvault on the bucket: its library serves the Pilot's photo from there. Meanwhile a
    // dry run finds nothing left to copy.
    const onBucket = serve(t, { ...envA, ...target });
    const dry = runCli(['storage', 'migrate', '--dry-run'], { ...serveEnv(dirA), ...target });
    const base2 = urlOf(await onBucket.waitFor('Try it:'));
    const { token: token2 } = await login(base2);
    const files = (await (
      await fetch(`${base2}/media/api/v1/files/${ws}/files`, { headers: { 'x-auth-token': token2 } })
    ).json()) as { data: { list: { object_key: string; file_id: string }[] } };
    const file = files.data.list.find((f) => f.object_key === photoKey);
    assert.ok(file, JSON.stringify(files.data.list));
    const link = await fetch(`${base2}/media/api/v1/files/${ws}/file/${file.file_id}/url`, {
      headers: { 'x-auth-token': token2 },
      redirect: 'manual',
    });
    assert.equal(link.status, 302);
    const location = link.headers.get('location')!;
    assert.ok(location.startsWith(`${storageUrlOf(outB)}/`), `a link to the bucket: ${location}`);
    const download = await fetch(location);
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), photo);

    assert.equal(await dry.exited(), 0, dry.stderr());
    assert.match(
      dry.stdout(),
      /^Dry run: 0 objects to copy \(0 bytes\), 4 already in the bucket\. Nothing was copied\./m,
    );
  });
});
