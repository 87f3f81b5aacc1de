/**
 * ffmpeg for video posters and durations: one run reads the container's duration and decodes the first
 * frame, scaled to at most the preview size, as a JPEG.
 *
 * ffmpeg reads the video from a small HTTP server on the loopback interface that serves that one object
 * from storage, with Range requests. ffmpeg then seeks as it needs: an MP4 written by a camera keeps its
 * index (`moov`) after the media data, which a pipe cannot give without reading the whole file, and a
 * temporary copy would cost as much disk as the video (several GB, maybe on a RAM-backed /tmp). Served
 * this way, a 150 MB 4K video costs a few MB of reads and no disk. A presigned storage URL would do the
 * same, but its host is the one devices use, which the server itself may not reach.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../shared/logger.ts';
import type { ByteRange, StorageProvider } from '../../storage/provider.ts';

/** What one ffmpeg run found out about a video. */
export interface VideoFacts {
  /** The first frame as a JPEG, at most `maxSize` px on its longest side. */
  poster?: Buffer | undefined;
  durationMs?: number | undefined;
  /** Why there is no poster, when ffmpeg ran and could not make one (the video's fault, or a limit). */
  problem?: string | undefined;
}

export interface FfmpegOptions {
  /** SKYVAULT_FFMPEG: when set, the only ffmpeg tried. */
  configuredPath: string | undefined;
  logger: Logger;
  /** A run taking longer is killed (a damaged or hostile file must not hold the queue). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/**
 * Largest frame ffmpeg may decode (its `-max_pixels`): 8192 × 8192, twice DJI's largest video frame
 * (8K, 8192 × 4320). A frame costs 1.5 to 8 bytes a pixel and a decoder may hold a few: without a bound
 * a small file declaring a huge frame makes ffmpeg take gigabytes of the server's memory.
 */
export const MAX_VIDEO_PIXELS = 8192 * 8192;
const VERSION_TIMEOUT_MS = 10_000;
/** A poster of at most 1600 px at JPEG quality 2 is a few hundred KB; anything far larger is wrong. */
const MAX_POSTER_BYTES = 16 * 1024 * 1024;
/** The input description (with the duration) comes first; the end holds the reason of a failure. */
const STDERR_HEAD = 64 * 1024;
const STDERR_TAIL = 4 * 1024;
/**
 * Containers ffmpeg may open. Uploads are untrusted: without this list a "video" could be an HLS
 * playlist or a concat script that makes ffmpeg read other files or addresses into the poster.
 */
const DEMUXERS = 'mov,matroska,mpegts,mpeg,avi,asf,flv';

export class Ffmpeg {
  private found: Promise<string | undefined> | undefined;

  constructor(private readonly options: FfmpegOptions) {}

  /** The ffmpeg to run, looked for on first use only; undefined when there is none (logged once). */
  binary(): Promise<string | undefined> {
    this.found ??= this.locate();
    return this.found;
  }

  /**
   * The poster and duration of a stored video. Problems of the video or of ffmpeg are logged and give
   * no facts; a storage failure is thrown, so that the file is tried again at the next start.
   */
  async videoFacts(
    storage: StorageProvider,
    objectKey: string,
    options: { maxSize: number; signal?: AbortSignal | undefined },
  ): Promise<VideoFacts> {
    const bin = await this.binary();
    if (!bin) return {};
    const info = await storage.head(objectKey);
    if (!info || info.size === 0) return {};
    const source = await LoopbackSource.open(storage, objectKey, info.size);
    let result: RunResult;
    try {
      result = await run(bin, posterArgs(source.url, options.maxSize), {
        timeoutMs: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        maxStdout: MAX_POSTER_BYTES,
        signal: options.signal,
      });
    } finally {
      await source.close();
    }
    if (source.error) throw source.error;
    const durationMs = parseDuration(result.stderr);
    const log = this.options.logger;
    if (result.timedOut) {
      const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      log.warn({ objectKey, timeoutMs }, 'no video poster: ffmpeg took too long and was stopped');
      return { durationMs, problem: `ffmpeg took more than ${timeoutMs / 1000} s and was stopped` };
    }
    let reason: string | undefined;
    const huge = /Picture size (\d+)x(\d+) exceeds specified max pixel count/.exec(result.stderr);
    if (result.spawnError) reason = `ffmpeg could not start: ${result.spawnError.message}`;
    else if (result.tooLarge) reason = `ffmpeg wrote more than ${MAX_POSTER_BYTES} bytes`;
    else if (huge && (result.code !== 0 || result.stdout.length === 0))
      reason =
        `frames of ${huge[1]} × ${huge[2]} px (${megapixels(Number(huge[1]) * Number(huge[2]))} MP): ` +
        `more than the ${megapixels(MAX_VIDEO_PIXELS)} MP allowed for videos`;
    else if (result.code !== 0 || result.stdout.length === 0)
      // ffmpeg names its input by the loopback URL, which means nothing in a log: name the object.
      reason =
        lastLine(result.stderr).replaceAll(source.url, objectKey) ||
        `ffmpeg exited with ${result.signal ?? `code ${result.code}`}`;
    if (reason) {
      log.info({ objectKey, reason }, 'no video poster: ffmpeg cannot read this video');
      return { durationMs, problem: reason };
    }
    return { poster: result.stdout, durationMs };
  }

  private async locate(): Promise<string | undefined> {
    const { configuredPath, logger } = this.options;
    if (configuredPath !== undefined) {
      // The operator chose this one: using another instead would hide the mistake.
      const checked = await check(configuredPath);
      if ('problem' in checked) {
        logger.info(
          { ffmpeg: configuredPath, reason: checked.problem },
          'video posters and durations are off: the ffmpeg of SKYVAULT_FFMPEG cannot run',
        );
        return undefined;
      }
      logger.info({ ffmpeg: configuredPath, version: checked.version }, 'video posters by ffmpeg');
      return configuredPath;
    }
    const tried: string[] = [];
    const installed = await installedFfmpeg();
    for (const candidate of [installed.path, 'ffmpeg']) {
      if (candidate === undefined) continue;
      const checked = await check(candidate);
      if ('version' in checked) {
        logger.info({ ffmpeg: candidate, version: checked.version }, 'video posters by ffmpeg');
        return candidate;
      }
      tried.push(`${candidate === 'ffmpeg' ? 'ffmpeg on the PATH' : candidate}: ${checked.problem}`);
    }
    if (installed.problem) tried.unshift(`@ffmpeg-installer/ffmpeg: ${installed.problem}`);
    logger.info(
      { tried },
      'video posters and durations are off: no ffmpeg found (npm ci installs one; or set SKYVAULT_FFMPEG)',
    );
    return undefined;
  }
}

/** The ffmpeg binary the npm package brought, if it is there. */
async function installedFfmpeg(): Promise<{ path?: string; problem?: string }> {
  try {
    // Imported here, not at the top: the package throws when loaded on a platform it has no binary for,
    // or when its optional binary package was not installed, and that must not stop the server.
    const { path } = (await import('@ffmpeg-installer/ffmpeg')).default;
    return existsSync(path) ? { path } : { problem: `${path} does not exist` };
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error) };
  }
}

/** Whether `bin` runs as an ffmpeg: its version line, or why not. */
async function check(bin: string): Promise<{ version: string } | { problem: string }> {
  const result = await run(bin, ['-hide_banner', '-version'], {
    timeoutMs: VERSION_TIMEOUT_MS,
    maxStdout: 64 * 1024,
  });
  if (result.spawnError) {
    const code = (result.spawnError as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: 'not found' };
    if (code === 'EACCES') return { problem: 'not executable' };
    return { problem: result.spawnError.message };
  }
  if (result.timedOut) return { problem: `-version took more than ${VERSION_TIMEOUT_MS / 1000} s` };
  const first = result.stdout.toString('utf8').split('\n', 1)[0]!.trim();
  if (result.code !== 0 || !first.startsWith('ffmpeg version'))
    return {
      problem: `not an ffmpeg (-version: ${first || lastLine(result.stderr) || `code ${result.code}`})`,
    };
  return { version: first };
}

function posterArgs(url: string, maxSize: number): string[] {
  return [
    ...['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info'],
    // One decoding thread: the poster is one frame, and frame threads would each hold frames of their own.
    ...['-threads', '1'],
    ...['-protocol_whitelist', 'http,tcp', '-format_whitelist', DEMUXERS],
    // A decoder refuses larger frames before allocating them.
    ...['-max_pixels', String(MAX_VIDEO_PIXELS)],
    ...['-i', url],
    ...['-map', '0:v:0', '-frames:v', '1'],
    // Scaled here so that only a preview-sized picture crosses the pipe; never enlarged.
    ...['-vf', `scale=w='min(iw,${maxSize})':h='min(ih,${maxSize})':force_original_aspect_ratio=decrease`],
    ...['-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', '2', 'pipe:1'],
  ];
}

/** The container's duration from ffmpeg's description of its input ("Duration: 00:01:02.35, …"). */
function parseDuration(stderr: string): number | undefined {
  const match = /Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)/.exec(stderr);
  if (!match) return undefined; // "Duration: N/A": the container does not say
  const ms = Math.round((Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3])) * 1000);
  return ms > 0 ? ms : undefined;
}

/** Pixels as megapixels for a reason: 67.1, 1600. */
export function megapixels(pixels: number): string {
  return String(Math.round(pixels / 100_000) / 10);
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim());
  return lines.filter((l) => l.length > 0).pop() ?? '';
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  /** The head and the tail of standard error. */
  stderr: string;
  timedOut: boolean;
  tooLarge: boolean;
  spawnError?: Error | undefined;
}

/** Runs `bin` to its end, killing it after `timeoutMs`, when its output grows too large, or on abort. */
function run(
  bin: string,
  args: string[],
  options: { timeoutMs: number; maxStdout: number; signal?: AbortSignal | undefined },
): Promise<RunResult> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    // ffmpeg would send its loopback requests through a proxy named there.
    delete env.http_proxy;
    delete env.HTTP_PROXY;
    let child: ChildProcess;
    try {
      child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    } catch (error) {
      resolve({ ...empty(), spawnError: error as Error });
      return;
    }
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let head = '';
    let tail = '';
    let timedOut = false;
    let tooLarge = false;
    let spawnError: Error | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    const onAbort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > options.maxStdout) {
        tooLarge = true;
        child.kill('SIGKILL');
      } else stdout.push(chunk);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      if (head.length < STDERR_HEAD) head += chunk.slice(0, STDERR_HEAD - head.length);
      else tail = (tail + chunk).slice(-STDERR_TAIL);
    });
    child.on('error', (error) => (spawnError = error));
    child.on('close', (code, exitSignal) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      resolve({
        code,
        signal: exitSignal,
        stdout: Buffer.concat(stdout),
        stderr: tail ? `${head}\n…\n${tail}` : head,
        timedOut,
        tooLarge,
        spawnError,
      });
    });
  });
}

function empty(): RunResult {
  return { code: null, signal: null, stdout: Buffer.alloc(0), stderr: '', timedOut: false, tooLarge: false };
}

/**
 * One stored object served over HTTP on 127.0.0.1, at a path nobody can guess, for as long as one
 * ffmpeg run reads it. Ranges are served from storage as asked, so ffmpeg reads only what it needs.
 */
class LoopbackSource {
  /** The first failure of storage while serving (not ffmpeg hanging up, which it does to seek). */
  error: Error | undefined;
  readonly url: string;

  private constructor(
    private readonly server: Server,
    private readonly storage: StorageProvider,
    private readonly key: string,
    private readonly size: number,
    private readonly path: string,
  ) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      this.serve(request, response).catch((error: unknown) => {
        this.error ??= error as Error;
        response.destroy();
      });
    });
  }

  static async open(storage: StorageProvider, key: string, size: number): Promise<LoopbackSource> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new LoopbackSource(server, storage, key, size, `/${randomBytes(16).toString('hex')}`);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.url !== this.path || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404).end();
      return;
    }
    const range = parseRange(request.headers.range, this.size);
    if (range === null) {
      response.writeHead(416, { 'content-range': `bytes */${this.size}` }).end();
      return;
    }
    const { start, end } = range ?? { start: 0, end: this.size - 1 };
    const headers = {
      'content-type': 'application/octet-stream',
      'content-length': String(end - start + 1),
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${end}/${this.size}` } : {}),
    };
    if (request.method === 'HEAD') {
      response.writeHead(range ? 206 : 200, headers).end();
      return;
    }
    const object = await this.storage.get(this.key, { start, end });
    if (!object) {
      // Deleted meanwhile: ffmpeg fails, and the enricher's save finds no file to update.
      response.writeHead(404).end();
      return;
    }
    response.writeHead(range ? 206 : 200, headers);
    object.body.on('error', (error) => {
      this.error ??= error;
      response.destroy();
    });
    // ffmpeg hangs up to seek: stop reading storage then, without calling that an error.
    response.on('close', () => object.body.destroy());
    object.body.pipe(response);
  }
}

/**
 * A single `bytes=` range of RFC 9110 against an object of `size` bytes: undefined for none (or one not
 * understood, served whole), null when it cannot be satisfied.
 */
function parseRange(header: string | undefined, size: number): ByteRange | undefined | null {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    return suffix === 0 || size === 0 ? null : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  return start >= size || start > end ? null : { start, end };
}
