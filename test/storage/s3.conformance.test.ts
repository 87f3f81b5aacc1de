/**
 * The `minio` and `aws` providers (src/storage/s3/s3.provider.ts) run their real code path, the AWS SDK
 * and STS AssumeRole with a session policy, against an embedded store that answers as MinIO does (its
 * root credentials and STS endpoint): no cloud is reachable from CI, and the embedded store enforces
 * the session policy, so a device credential that could write outside its workspace fails here.
 */
import { createLogger } from '../../src/shared/logger.ts';
import { S3Provider } from '../../src/storage/s3/s3.provider.ts';
import { BUCKET, REGION, ROOT_CREDENTIALS, startTestStorage } from '../helpers/storage.ts';
import { storageConformance } from './conformance.ts';

for (const kind of ['minio', 'aws'] as const) {
  storageConformance(`${kind} (against the embedded store's S3 and STS)`, async () => {
    const upstream = await startTestStorage();
    const provider = new S3Provider({
      kind,
      endpoint: upstream.endpoint,
      publicEndpoint: undefined,
      bucket: BUCKET,
      region: REGION,
      accessKey: ROOT_CREDENTIALS.accessKey,
      secretKey: ROOT_CREDENTIALS.secretKey,
      roleArn: kind === 'aws' ? 'arn:aws:iam::123456789012:role/skyvault-devices' : undefined,
      logger: createLogger('silent'),
    });
    return {
      provider,
      // Links and credentials expire by the storage's clock, as they do in the cloud.
      advanceClock: (ms) => {
        upstream.clock.offsetMs += ms;
      },
      close: async () => {
        await provider.close();
        await upstream.close();
      },
    };
  });
}
