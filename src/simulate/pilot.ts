/**
 * `skyvault simulate pilot`: a virtual DJI Pilot 2 that uploads media to a Skyvault (or any DJI Cloud
 * API server) exactly as the real app does (docs/protocol.md §3.1): log in as the H5 page does (flag 2),
 * ask fast-upload per file and tiny-fingerprints for the batch, take STS credentials, upload to object
 * storage with the AWS SDK, report each file with upload-callback and the batch with
 * group-upload-callback. Generated files are DJI photos, every fifth one a short H.264 video instead;
 * their content is fixed, so running it again uploads nothing.
 */
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, createReadStream, type Dirent, openSync, readdirSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { djiPhoto } from './dji-photo.ts';
import { djiVideo, VIDEO_EVERY } from './dji-video.ts';

export interface SimulatePilotOptions {
  url: string;
  username: string;
  password: string;
  /** Generate this many DJI-style files (every fifth a video, the rest photos)… */
  files?: number | undefined;
  /** …or upload the files of this folder (recursively). */
  dir?: string | undefined;
  concurrency?: number;
  out?: (line: string) => void;
  /** Redraws a progress line in place (terminals); else progress is printed as lines. */
  tty?: boolean;
}

export interface SimulationSummary {
  uploaded: number;
  alreadyInCloud: number;
  failed: number;
  bytes: number;
}

interface LocalFile {
  name: string;
  size: number;
  contentType: string;
  fingerprint: string;
  tinyFingerprint: string;
  body: () => Buffer | NodeJS.ReadableStream;
  metadata?: Record<string, unknown>;
}

interface Envelope<T> {
  code: number;
  message: string;
  data: T;
}

export class SimulationError extends Error {}

/** The simulated aircraft: an M30 (0-67-0) with its wide camera (1-53-0), as Pilot 2 reports them. */
export const AIRCRAFT_SN = '1581F5BKD225D00SIM01';
const DRONE_MODEL_KEY = '0-67-0';
const PAYLOAD_MODEL_KEY = '1-53-0';
/** Pilot's `path`: the folder of the wayline mission the media belong to. */
const WAYLINE_FOLDER = 'Skyvault simulated mission';

export async function simulatePilot(options: SimulatePilotOptions): Promise<SimulationSummary> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = options.url.replace(/\/+$/, '');
  let token = '';
  const call = async <T>(method: 'GET' | 'POST', apiPath: string, body?: unknown): Promise<Envelope<T>> => {
    let response: Response;
    try {
      response = await fetch(`${base}${apiPath}`, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { 'x-auth-token': token } : {}) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new SimulationError(
        `Cannot reach ${base}: ${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}.`,
      );
    }
    const text = await response.text();
    try {
      return JSON.parse(text) as Envelope<T>;
    } catch {
      throw new SimulationError(
        `${method} ${apiPath} answered HTTP ${response.status} without a DJI envelope: ${text.slice(0, 200)}`,
      );
    }
  };

  const login = await call<{ access_token: string; workspace_id: string; username: string }>(
    'POST',
    '/manage/api/v1/login',
    {
      username: options.username,
      password: options.password,
      flag: 2,
    },
  );
  if (login.code !== 0) throw new SimulationError(`Login as "${options.username}" failed: ${login.message}`);
  token = login.data.access_token;
  const ws = login.data.workspace_id;
  out(`Logged in as ${login.data.username} (workspace ${ws}).`);

  const files = options.dir ? filesOf(options.dir) : await generatedFiles(options.files ?? 10);
  if (files.length === 0)
    throw new SimulationError(`No files to upload${options.dir ? ` in ${options.dir}` : ''}.`);
  out(`${files.length} file(s), ${formatBytes(files.reduce((s, f) => s + f.size, 0))}.`);

  // What a real Pilot 2 on an M30 sends with every file: the wayline folder as `path`, the aircraft's SN
  // and the model keys in `ext` (docs/protocol.md §3.2, §3.5).
  const group = randomUUID();
  const ext = (file: LocalFile) => ({
    drone_model_key: DRONE_MODEL_KEY,
    payload_model_key: PAYLOAD_MODEL_KEY,
    is_original: true,
    tinny_fingerprint: file.tinyFingerprint,
    sn: AIRCRAFT_SN,
  });

  // 1. fast-upload per file: the cloud already has these (by fingerprint).
  const pending: LocalFile[] = [];
  for (const file of files) {
    const answer = await call<unknown>('POST', `/media/api/v1/workspaces/${ws}/fast-upload`, {
      fingerprint: file.fingerprint,
      name: path.posix.basename(file.name),
      path: WAYLINE_FOLDER,
      ext: { ...ext(file), file_group_id: group },
    });
    if (answer.code !== 0) pending.push(file);
  }
  // 2. tiny-fingerprints for the rest, in one batch.
  const tiny = await call<{ tiny_fingerprints: string[] }>(
    'POST',
    `/media/api/v1/workspaces/${ws}/files/tiny-fingerprints`,
    {
      tiny_fingerprints: pending.map((f) => f.tinyFingerprint),
    },
  );
  if (tiny.code !== 0) throw new SimulationError(`tiny-fingerprints failed: ${tiny.message}`);
  const known = new Set(tiny.data.tiny_fingerprints);
  const toUpload = pending.filter((f) => !known.has(f.tinyFingerprint));
  const summary: SimulationSummary = {
    uploaded: 0,
    alreadyInCloud: files.length - toUpload.length,
    failed: 0,
    bytes: 0,
  };
  out(`${summary.alreadyInCloud} already in the cloud, ${toUpload.length} to upload.`);
  if (toUpload.length === 0) return summary;

  // 3. STS credentials, 4. upload to storage, 5. upload-callback.
  const sts = await call<{
    bucket: string;
    credentials: { access_key_id: string; access_key_secret: string; security_token: string; expire: number };
    endpoint: string;
    object_key_prefix: string;
    region: string;
    provider: string;
  }>('POST', `/storage/api/v1/workspaces/${ws}/sts`);
  if (sts.code !== 0) throw new SimulationError(`sts failed: ${sts.message}`);
  out(
    `Uploading to ${sts.data.endpoint} (${sts.data.provider}, bucket ${sts.data.bucket}, prefix ${sts.data.object_key_prefix}).`,
  );
  const s3 = new S3Client({
    endpoint: sts.data.endpoint,
    region: sts.data.region,
    forcePathStyle: sts.data.provider === 'minio',
    credentials: {
      accessKeyId: sts.data.credentials.access_key_id,
      secretAccessKey: sts.data.credentials.access_key_secret,
      sessionToken: sts.data.credentials.security_token,
    },
  });
  const total = toUpload.reduce((s, f) => s + f.size, 0);
  const progress = new Progress(total, toUpload.length, out, options.tty ?? false);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency ?? 4, toUpload.length) }, async () => {
      for (let i = next++; i < toUpload.length; i = next++) {
        const file = toUpload[i]!;
        const key = `${sts.data.object_key_prefix}/${file.name}`;
        let sent = 0;
        try {
          const upload = new Upload({
            client: s3,
            params: {
              Bucket: sts.data.bucket,
              Key: key,
              Body: file.body() as never,
              ContentType: file.contentType,
              ContentLength: file.size,
            },
          });
          upload.on('httpUploadProgress', (p) => {
            progress.add((p.loaded ?? 0) - sent);
            sent = p.loaded ?? sent;
          });
          await upload.done();
          progress.add(file.size - sent);
          const reported = await call<unknown>('POST', `/media/api/v1/workspaces/${ws}/upload-callback`, {
            result: 0,
            name: path.posix.basename(file.name),
            path: WAYLINE_FOLDER,
            object_key: key,
            fingerprint: file.fingerprint,
            sub_file_type: 0,
            ext: { ...ext(file), file_group_id: group },
            ...(file.metadata ? { metadata: file.metadata } : {}),
          });
          if (reported.code !== 0) throw new Error(reported.message);
          summary.uploaded += 1;
          summary.bytes += file.size;
          progress.fileDone(file.name);
        } catch (error) {
          summary.failed += 1;
          progress.fileFailed(file.name, (error as Error).message);
        }
      }
    }),
  );
  s3.destroy();
  progress.finish();
  await call('POST', `/media/api/v1/workspaces/${ws}/group-upload-callback`, {
    file_group_id: group,
    file_count: toUpload.length,
    file_uploaded_count: summary.uploaded,
  });
  return summary;
}

async function generatedFiles(count: number): Promise<LocalFile[]> {
  const files: LocalFile[] = [];
  const start = Date.UTC(2026, 0, 15, 2, 30, 0);
  for (let i = 1; i <= count; i++) {
    const capturedAt = new Date(start + i * 2000);
    const latitude = 22.5797 + i * 0.0001;
    const longitude = 113.938 + i * 0.0001;
    const video = i % VIDEO_EVERY === 0;
    const bytes = video
      ? djiVideo(`pilot ${i}`)
      : await djiPhoto({
          latitude,
          longitude,
          absoluteAltitude: 120 + i / 10,
          relativeAltitude: 80,
          gimbalYawDegree: -90 + i,
          capturedAt,
          utcOffsetMinutes: 480,
          seed: i,
        });
    const name = `DJI_${stamp(capturedAt, 480)}_${String(i).padStart(4, '0')}_V.${video ? 'MP4' : 'JPG'}`;
    files.push({
      name,
      size: bytes.length,
      contentType: video ? 'video/mp4' : 'image/jpeg',
      ...fingerprints(bytes, capturedAt),
      body: () => bytes,
      metadata: {
        absolute_altitude: 120 + i / 10,
        relative_altitude: 80,
        gimbal_yaw_degree: -90 + i,
        created_time: new Date(capturedAt.getTime()).toISOString().replace('.000Z', '+00:00'),
        shoot_position: { lat: latitude, lng: longitude },
      },
    });
  }
  return files;
}

function filesOf(dir: string): LocalFile[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  } catch (error) {
    throw new SimulationError(`Cannot read the folder ${dir}: ${(error as Error).message}`);
  }
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => {
      const full = path.join(e.parentPath, e.name);
      const stat = statSync(full);
      const relative = path.relative(dir, full).split(path.sep).join('/');
      return {
        name: relative,
        size: stat.size,
        contentType: contentTypeOf(e.name),
        // Whole-file MD5 as the fingerprint, as Pilot's values look (§9); computed while listing.
        ...fingerprints(readHash(full), stat.mtime),
        body: () => createReadStream(full),
      };
    });
}

/** MD5 of a whole file, read in 1 MiB chunks. */
function readHash(file: string): Buffer {
  const hash = createHash('md5');
  const fd = openSync(file, 'r');
  const chunk = Buffer.alloc(1024 * 1024);
  try {
    for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk))
      hash.update(chunk.subarray(0, read));
  } finally {
    closeSync(fd);
  }
  return hash.digest();
}

/** Pilot-like fingerprints: upper-case MD5 of the file; tiny = `<lower hex>_<y_m_d_h_m_s>` (§9). */
function fingerprints(contentOrDigest: Buffer, time: Date): { fingerprint: string; tinyFingerprint: string } {
  const digest =
    contentOrDigest.length === 16 ? contentOrDigest : createHash('md5').update(contentOrDigest).digest();
  const tinyHex = createHash('md5').update(digest).update('tiny').digest('hex');
  const t = time;
  const when = [
    t.getUTCFullYear(),
    t.getUTCMonth() + 1,
    t.getUTCDate(),
    t.getUTCHours(),
    t.getUTCMinutes(),
    t.getUTCSeconds(),
  ].join('_');
  return { fingerprint: digest.toString('hex').toUpperCase(), tinyFingerprint: `${tinyHex}_${when}` };
}

function stamp(date: Date, offsetMinutes: number): string {
  const d = new Date(date.getTime() + offsetMinutes * 60_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

function contentTypeOf(name: string): string {
  const ext = name.split('.').pop()?.toLowerCase();
  const types: Record<string, string> = {
    jpg: 'image/jpeg',
    jpeg: 'image/jpeg',
    png: 'image/png',
    dng: 'image/x-adobe-dng',
    mp4: 'video/mp4',
    mov: 'video/quicktime',
    srt: 'text/plain',
  };
  return types[ext ?? ''] ?? 'application/octet-stream';
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

class Progress {
  private bytes = 0;
  private done = 0;
  private readonly started = Date.now();

  constructor(
    private readonly total: number,
    private readonly files: number,
    private readonly out: (line: string) => void,
    private readonly tty: boolean,
  ) {}

  add(bytes: number): void {
    this.bytes += bytes;
    if (this.tty) process.stdout.write(`\r${this.bar()}`);
  }

  fileDone(name: string): void {
    this.done += 1;
    if (this.tty) process.stdout.write(`\r${this.bar()}`);
    else
      this.out(
        `uploaded ${name} (${this.done}/${this.files}, ${formatBytes(this.bytes)} of ${formatBytes(this.total)})`,
      );
  }

  fileFailed(name: string, reason: string): void {
    if (this.tty) process.stdout.write('\n');
    this.out(`FAILED ${name}: ${reason}`);
  }

  finish(): void {
    if (this.tty) process.stdout.write(`\r${this.bar()}\n`);
    const seconds = (Date.now() - this.started) / 1000;
    this.out(`Uploaded ${formatBytes(this.bytes)} in ${seconds.toFixed(1)} s.`);
  }

  private bar(): string {
    const width = 30;
    const filled = this.total === 0 ? width : Math.round((this.bytes / this.total) * width);
    return `[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${this.done}/${this.files} files, ${formatBytes(this.bytes)} of ${formatBytes(this.total)}`;
  }
}
