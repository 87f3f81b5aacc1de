/**
 * The embedded store alone, in its own process, for bench/storage-put.ts: prints one JSON line with the
 * endpoint and full-access credentials, then serves until killed.
 *
 * BENCH_SERVER_CPU_PROF=<dir> profiles it as `node --cpu-prof` would (a flag NODE_OPTIONS does not take,
 * and startScript passes no Node flags): the profile goes to
 * <dir>/<BENCH_SERVER_PROFILE_NAME or storage-server>-<pid>.cpuprofile when it is stopped.
 */
import path from 'node:path';
import { createLogger } from '../src/shared/logger.ts';
import { LocalStorageProvider } from '../src/storage/local/local.provider.ts';
import { profileUntilStopped } from './server-profile.ts';

profileUntilStopped('storage-server');

const root = process.argv[2];
if (!root) throw new Error('usage: storage-server.ts <directory>');
const provider = new LocalStorageProvider({
  root: path.join(root, 'objects'),
  bucket: 'bench',
  region: 'us-east-1',
  secret: 'bench-secret',
  host: '127.0.0.1',
  port: 0,
  publicEndpoint: undefined,
  defaultPublicHostname: '127.0.0.1',
  tls: undefined,
  logger: createLogger('warn'),
  // storage-multipart lowers S3's 5 MiB minimum part size so 10,000 parts fit on a small disk.
  ...(process.env.BENCH_MIN_PART_SIZE ? { minPartSize: Number(process.env.BENCH_MIN_PART_SIZE) } : {}),
});
await provider.listen();
const credentials = await provider.issueUploadCredentials({
  prefix: '',
  ttlSeconds: 3600,
  actions: ['put', 'get', 'delete'],
});
process.stdout.write(`${JSON.stringify(credentials)}\n`);
