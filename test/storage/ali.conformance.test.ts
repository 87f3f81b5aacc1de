/**
 * The `ali` provider (src/storage/ali/ali.provider.ts) runs its real code path, Aliyun's own `ali-oss`
 * client signing OSS Signature V4 and Aliyun STS AssumeRole (RPC, HMAC-SHA1) with a RAM policy, against
 * an embedded store that answers both as Aliyun does: no Aliyun is reachable from CI. The store's
 * verifiers are pinned to Aliyun's published signature vectors (test/unit/oss-signature.test.ts,
 * test/unit/aliyun-rpc-signature.test.ts), and it enforces the RAM policy, so a device credential that
 * could write outside its workspace fails here.
 */
import { createLogger } from '../../src/shared/logger.ts';
import { AliProvider } from '../../src/storage/ali/ali.provider.ts';
import { BUCKET, ROOT_CREDENTIALS, startTestStorage } from '../helpers/storage.ts';
import { storageConformance } from './conformance.ts';

storageConformance("ali (against the embedded store's OSS V4 and Aliyun STS)", async () => {
  const upstream = await startTestStorage({ region: 'cn-hangzhou' });
  // localhost, not 127.0.0.1: ali-oss rewrites Host to Aliyun's name for an IP endpoint.
  const endpoint = upstream.endpoint.replace('127.0.0.1', 'localhost');
  const provider = new AliProvider({
    endpoint,
    publicEndpoint: undefined,
    stsEndpoint: endpoint,
    bucket: BUCKET,
    region: 'oss-cn-hangzhou',
    accessKey: ROOT_CREDENTIALS.accessKey,
    secretKey: ROOT_CREDENTIALS.secretKey,
    roleArn: 'acs:ram::1234567890123456:role/skyvault-devices',
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
