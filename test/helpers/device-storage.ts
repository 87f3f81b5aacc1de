/**
 * How a device writes to storage with the credentials it was given, by provider, as DJI's apps do:
 * an S3 client for `minio` and `aws`, Aliyun's OSS client (with the STS token) for `ali`.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import OSS from 'ali-oss';
import type { UploadCredentials } from '../../src/storage/provider.ts';
import { sdkClient } from './storage.ts';

export interface DeviceStorageClient {
  put(key: string, body: Buffer | string, contentType?: string): Promise<void>;
  close(): void;
}

/** An ali-oss client holding these temporary credentials (path-style for a non-Aliyun endpoint). */
export function ossClient(credentials: UploadCredentials): OSS {
  const url = new URL(credentials.endpoint);
  return new OSS({
    region: `oss-${credentials.region}`,
    endpoint: credentials.endpoint,
    secure: url.protocol === 'https:',
    bucket: credentials.bucket,
    accessKeyId: credentials.accessKeyId,
    accessKeySecret: credentials.accessKeySecret,
    stsToken: credentials.securityToken,
    authorizationV4: true,
    // ali-oss's types leave it out: the bucket in the path, for an endpoint that is not Aliyun's.
    ...({ sldEnable: !url.hostname.endsWith('aliyuncs.com') } as object),
    // It warns when an STS token comes without a way to refresh it; a test's token outlives the test.
    refreshSTSTokenInterval: 3_600_000,
    refreshSTSToken: async () => ({
      accessKeyId: credentials.accessKeyId,
      accessKeySecret: credentials.accessKeySecret,
      stsToken: credentials.securityToken,
    }),
  });
}

export function deviceStorageClient(credentials: UploadCredentials): DeviceStorageClient {
  if (credentials.provider === 'ali') {
    const client = ossClient(credentials);
    return {
      async put(key, body, contentType = 'binary/octet-stream') {
        await client.put(key, Buffer.from(body), { mime: contentType });
      },
      close() {},
    };
  }
  const client = sdkClient(credentials);
  return {
    async put(key, body, contentType) {
      await client.send(
        new PutObjectCommand({
          Bucket: credentials.bucket,
          Key: key,
          Body: body,
          ...(contentType ? { ContentType: contentType } : {}),
        }),
      );
    },
    close: () => client.destroy(),
  };
}
