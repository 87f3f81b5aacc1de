/**
 * The peer of bench/storage-put.ts: s3rver (the npm S3 emulator, a devDependency), alone in its own
 * process, storing in `<directory>` with one bucket, `bench`, path-style only (no virtual-host buckets).
 * s3rver knows one key pair, S3RVER / S3RVER, and checks the key id but not V4 signatures. Prints
 * {"port": N} once listening, then serves until killed. BENCH_SERVER_CPU_PROF=<dir> profiles it, as it
 * does bench/storage-server.ts (<dir>/<BENCH_SERVER_PROFILE_NAME or s3rver-server>-<pid>.cpuprofile).
 */
import { createRequire } from 'node:module';
import { profileUntilStopped } from './server-profile.ts';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  vhostBuckets: boolean;
  configureBuckets: { name: string; configs: string[] }[];
}) => S3rverInstance;

profileUntilStopped('s3rver-server');

const directory = process.argv[2];
if (!directory) throw new Error('usage: s3rver-server.ts <directory>');
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  vhostBuckets: false,
  configureBuckets: [{ name: 'bench', configs: [] }],
});
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
