/**
 * `skyvault backup` and `skyvault restore` (issue 14, item 6): a backup taken while Skyvault runs and
 * uploads keep arriving comes back whole (objects byte for byte, accounts, device MQTT passwords sealed
 * with secret.key), and a restore refuses what would lose data: a running server, a data directory in
 * use, a damaged backup.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import mqtt from 'mqtt';
import { runCli, serveEnv } from '../helpers/cli.ts';
import { tempDir } from '../helpers/test-app.ts';

const ADMIN_PASSWORD = 'backup-admin-password';
const BUCKET = 'skyvault';

function serve(t: TestContext, env: Record<string, string>) {
  const cli = runCli(['serve'], env);
  t.after(() => cli.stop('SIGKILL'));
  return cli;
}

function match(stdout: string, pattern: RegExp): string[] {
  const found = pattern.exec(stdout);
  assert.ok(found, `${pattern} not in:\n${stdout}`);
  return found.slice(1) as string[];
}

async function postJson(url: string, body: unknown, token?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { 'x-auth-token': token } : {}) },
    body: JSON.stringify(body),
  });
  return (await response.json()) as { code: number; message: string; data: Record<string, string> };
}

const login = (base: string, username: string, password: string, flag = 1) =>
  postJson(`${base}/manage/api/v1/login`, { username, password, flag });

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

async function connectMqtt(port: string, username: string, password: string) {
  const client = await mqtt.connectAsync(
    `mqtt://127.0.0.1:${port}`,
    { username, password, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000 },
    false,
  );
  const connected = client.connected;
  await client.endAsync();
  return connected;
}

/** Names, and files' sizes and modification times, under `dir`: "nothing was changed" made checkable. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((name) => {
      const s = statSync(path.join(dir, name));
      return s.isDirectory() ? `${name}/` : `${name} ${s.size} ${s.mtimeMs}`;
    });
}

describe('skyvault backup and restore', () => {
  it('backs up a running Skyvault while uploads continue, and restores it whole', async (t) => {
    const dataDir = tempDir();
    const backups = tempDir('skyvault-backups-');
    const backupDir = path.join(backups, 'full');
    const env = { ...serveEnv(dataDir), SKYVAULT_ADMIN_PASSWORD: ADMIN_PASSWORD };

    const first = serve(t, env);
    const stdout = await first.waitFor('Try it:');
    const [base] = match(stdout, /Web and API:\s+(http:\/\/127\.0\.0\.1:\d+)/);
    const [storageUrl] = match(stdout, /Object storage:\s+(http:\/\/127\.0\.0\.1:\d+)/);
    const [accessKeyId, secretAccessKey] = match(
      stdout,
      /Storage root:\s+access key "([^"]+)", secret key "([^"]+)"/,
    );
    const [workspaceId] = match(stdout, /Workspace:\s+.+\(id ([0-9a-f-]+),/);
    const [mqttPort] = match(stdout, /MQTT \(devices\): tcp:\/\/127\.0\.0\.1:(\d+)/);

    // Database state: a device account, whose MQTT password is sealed with secret.key.
    const admin = await login(base!, 'admin', ADMIN_PASSWORD);
    assert.equal(admin.code, 0, admin.message);
    const created = await postJson(
      `${base}/api/v1/workspaces/${workspaceId}/users`,
      { username: 'pilot-backup', role: 'device', password: 'pilot-backup-password' },
      admin.data.access_token,
    );
    assert.equal(created.code, 0, created.message);
    const pilot = await login(base!, 'pilot-backup', 'pilot-backup-password', 2);
    assert.equal(pilot.code, 0, pilot.message);
    const { mqtt_username: mqttUsername, mqtt_password: mqttPassword } = pilot.data;
    assert.ok(mqttUsername && mqttPassword);
    assert.equal(await connectMqtt(mqttPort!, mqttUsername, mqttPassword), true);

    // Objects: stable ones, a multipart one, an upload in progress, and keys that churn during the backup.
    const s3 = new S3Client({
      endpoint: storageUrl!,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! },
    });
    t.after(() => s3.destroy());
    /** Every version ever written of each key (md5), to judge what the backup holds. */
    const written = new Map<string, Set<string>>();
    const putObject = async (key: string, size: number) => {
      const body = randomBytes(size);
      if (!written.has(key)) written.set(key, new Set());
      written.get(key)!.add(md5(body));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
      return md5(body);
    };
    const stable = new Map<string, string>();
    await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const key = `${workspaceId}/media/stable-${i}.jpg`;
        stable.set(key, await putObject(key, 1000 + i * 997));
      }),
    );
    const churn = Array.from({ length: 8 }, (_, i) => `${workspaceId}/media/churn-${i}.jpg`);
    await Promise.all(churn.map((key) => putObject(key, 3000)));
    const bigKey = `${workspaceId}/media/flight.mp4`;
    const partBodies = [randomBytes(5 * 1024 * 1024), randomBytes(70_000)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: bigKey }));
    const etags = [];
    for (const [i, body] of partBodies.entries()) {
      const part = await s3.send(
        new UploadPartCommand({ Bucket: BUCKET, Key: bigKey, UploadId, PartNumber: i + 1, Body: body }),
      );
      etags.push({ ETag: part.ETag!, PartNumber: i + 1 });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: bigKey,
        UploadId,
        MultipartUpload: { Parts: etags },
      }),
    );
    stable.set(bigKey, md5(Buffer.concat(partBodies)));
    const pending = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `${workspaceId}/media/pending.mp4` }),
    );
    await s3.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: `${workspaceId}/media/pending.mp4`,
        UploadId: pending.UploadId,
        PartNumber: 1,
        Body: randomBytes(1000),
      }),
    );

    // The backup runs while overwrites, deletes and new uploads keep arriving.
    let churning = true;
    let round = 0;
    const churner = async () => {
      while (churning) {
        const n = round++;
        const key = churn[n % churn.length]!;
        if (n % 5 === 4) await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
        else if (n % 5 === 3) await putObject(`${workspaceId}/media/new-${n}.jpg`, 2000);
        else await putObject(key, 1000 + (n % 7) * 500);
      }
    };
    const churners = Array.from({ length: 3 }, churner);
    const backedUp = runCli(['backup', backupDir], env);
    assert.equal(await backedUp.exited(), 0, backedUp.stderr());
    churning = false;
    await Promise.all(churners);
    assert.ok(round > 0, 'uploads ran during the backup');
    assert.match(
      backedUp.stdout(),
      /^Backed up the database \(.+\), \d+ objects \(.+ in \d+ blob files, hard-linked\) and secret\.key to .+ in [\d.]+ s\.$/m,
    );
    const manifest = JSON.parse(readFileSync(path.join(backupDir, 'manifest.json'), 'utf8')) as {
      objects: { objects: number; uploads: number };
    };
    assert.equal(manifest.objects.uploads, 1, 'the upload in progress is in the backup');

    const whileRunning = runCli(['restore', backupDir, '--force'], env);
    assert.equal(await whileRunning.exited(), 1);
    assert.match(
      whileRunning.stderr(),
      /^Skyvault is running on .+ \(skyvault\.db is open\): stop it, then restore\.$/m,
    );
    assert.equal(await first.stop('SIGTERM'), 0);

    // Refusals, side by side: a data directory in use, a damaged backup, nothing local to back up. Each
    // command that opens a data directory gets its own copy: a restore finds a directory that another
    // command has open in use, as it should.
    const damagedDir = path.join(backups, 'damaged');
    cpSync(backupDir, damagedDir, { recursive: true });
    const blobs = path.join(damagedDir, 'objects', 'blobs');
    const firstDir = readdirSync(blobs)[0]!;
    unlinkSync(path.join(blobs, firstDir, readdirSync(path.join(blobs, firstDir))[0]!));
    const [forDamaged, forPostgres] = ['data-damaged', 'data-postgres'].map((name) => {
      const copy = path.join(backups, name);
      cpSync(dataDir, copy, { recursive: true });
      return copy;
    });
    const before = tree(forDamaged!);
    const postgres = { SKYVAULT_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    const cloud = {
      SKYVAULT_STORAGE: 'minio',
      SKYVAULT_S3_ENDPOINT: 'http://127.0.0.1:1',
      SKYVAULT_S3_ACCESS_KEY: 'minio-access',
      SKYVAULT_S3_SECRET_KEY: 'minio-secret',
    };
    const objectsOnlyDir = path.join(backups, 'objects-only');
    const notEmpty = runCli(['restore', backupDir], env);
    const damaged = runCli(['restore', damagedDir, '--force'], { ...env, SKYVAULT_DATA_DIR: forDamaged! });
    const objectsOnly = runCli(['backup', objectsOnlyDir], {
      ...env,
      ...postgres,
      SKYVAULT_DATA_DIR: forPostgres!,
    });
    const nothing = runCli(['backup', path.join(backups, 'nothing')], { ...env, ...postgres, ...cloud });
    const usage = runCli(['backup'], env);
    assert.equal(await notEmpty.exited(), 1);
    assert.match(notEmpty.stderr(), /The data directory .+ is not empty: .+ give --force to replace its/);
    assert.equal(await damaged.exited(), 1);
    assert.match(
      damaged.stderr(),
      /^The backup in .+ is damaged: the blob file objects\/blobs\/.+ is missing; nothing was changed\.$/m,
    );
    assert.equal(await objectsOnly.exited(), 0, objectsOnly.stderr());
    assert.match(objectsOnly.stdout(), /The database is PostgreSQL: back it up with pg_dump/);
    const objectsOnlyManifest = JSON.parse(
      readFileSync(path.join(objectsOnlyDir, 'manifest.json'), 'utf8'),
    ) as {
      database: unknown;
      objects: { objects: number };
    };
    assert.equal(objectsOnlyManifest.database, null);
    assert.ok(objectsOnlyManifest.objects.objects >= stable.size, 'the store as it was at the stop');
    assert.equal(await nothing.exited(), 1);
    assert.match(
      nothing.stderr(),
      /^There is nothing local to back up: the database is PostgreSQL \(back it up with pg_dump\) and the objects are in minio storage/m,
    );
    assert.equal(await usage.exited(), 2);
    assert.match(usage.stderr(), /backup needs one directory/);
    assert.deepEqual(tree(forDamaged!), before, 'the refused restore changed nothing');

    // Lose the data directory, restore, start again.
    rmSync(dataDir, { recursive: true, force: true });
    const restored = runCli(['restore', backupDir], env);
    assert.equal(await restored.exited(), 0, restored.stderr());
    assert.match(
      restored.stdout(),
      new RegExp(
        `^Restored the database, ${manifest.objects.objects} objects \\(.+\\) and secret\\.key from the backup of `,
        'm',
      ),
    );
    const again = serve(t, env);
    const stdout2 = await again.waitFor('Try it:');
    const [base2] = match(stdout2, /Web and API:\s+(http:\/\/127\.0\.0\.1:\d+)/);
    const [storageUrl2] = match(stdout2, /Object storage:\s+(http:\/\/127\.0\.0\.1:\d+)/);
    const [mqttPort2] = match(stdout2, /MQTT \(devices\): tcp:\/\/127\.0\.0\.1:(\d+)/);
    assert.doesNotMatch(stdout2, /Storage root:|Admin login:/, 'not a first start');

    // Every object of the snapshot, byte for byte (the storage root credentials came back with the database).
    const s3again = new S3Client({
      endpoint: storageUrl2!,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! },
    });
    t.after(() => s3again.destroy());
    const listed = await s3again.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    assert.equal(keys.length, manifest.objects.objects);
    for (const key of stable.keys()) assert.ok(keys.includes(key), `${key} is restored`);
    for (const key of keys) {
      const object = await s3again.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      const digest = md5(await object.Body!.transformToByteArray());
      if (stable.has(key)) assert.equal(digest, stable.get(key), key);
      else assert.ok(written.get(key)?.has(digest), `${key} reads back a version that was written`);
    }

    // Accounts, and the device's MQTT password, sealed with the restored secret.key.
    assert.equal((await login(base2!, 'admin', ADMIN_PASSWORD)).code, 0);
    const pilotAgain = await login(base2!, 'pilot-backup', 'pilot-backup-password', 2);
    assert.equal(pilotAgain.code, 0, pilotAgain.message);
    assert.equal(pilotAgain.data.mqtt_password, mqttPassword);
    assert.equal(await connectMqtt(mqttPort2!, mqttUsername, mqttPassword), true);
    assert.equal(await again.stop('SIGTERM'), 0);
  });
});
