/**
 * A Pilot 2 as the tests need it: STS credentials, an upload with them (an S3 client, or Aliyun's OSS
 * client for provider `ali`), the upload-callback.
 */
import type { UploadCredentials } from '../../src/storage/provider.ts';
import { deviceStorageClient } from './device-storage.ts';
import type { TestApp } from './test-app.ts';

export interface TestPilot {
  credentials: UploadCredentials;
  /** Uploads `body` as `<prefix>/<name>` and reports it; returns the callback's answer body. */
  upload(
    name: string,
    body: Buffer | string,
    report?: Record<string, unknown>,
    contentType?: string,
  ): Promise<{ code: number; message: string }>;
}

export async function testPilot(t: TestApp, token: string, workspaceId: string): Promise<TestPilot> {
  const headers = { 'x-auth-token': token, host: '127.0.0.1' };
  const sts = (
    await t.inject({ method: 'POST', url: `/storage/api/v1/workspaces/${workspaceId}/sts`, headers })
  ).json().data;
  const credentials: UploadCredentials = {
    accessKeyId: sts.credentials.access_key_id,
    accessKeySecret: sts.credentials.access_key_secret,
    securityToken: sts.credentials.security_token,
    endpoint: sts.endpoint,
    bucket: sts.bucket,
    region: sts.region,
    provider: sts.provider,
    prefix: sts.object_key_prefix,
    expiresAt: Date.now() + sts.credentials.expire * 1000,
  };
  const client = deviceStorageClient(credentials);
  return {
    credentials,
    async upload(name, body, report = {}, contentType = 'image/jpeg') {
      const key = `${credentials.prefix}/${name}`;
      await client.put(key, body, contentType);
      const response = await t.inject({
        method: 'POST',
        url: `/media/api/v1/workspaces/${workspaceId}/upload-callback`,
        headers,
        payload: { result: 0, name: name.split('/').pop(), path: '', object_key: key, ...report },
      });
      return response.json();
    },
  };
}
