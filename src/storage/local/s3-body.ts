/**
 * Request bodies of the embedded S3 endpoint. Object and part bodies are streamed to a temporary file
 * (never buffered: up to 5 GiB) while their digests are computed in the same pass, and are accepted only
 * once everything the client declared matches; the store then renames the file into place. Multipart and
 * delete requests carry small XML bodies, read whole and bounded.
 *
 * No body is read past what its request declared (Content-Length, or x-amz-decoded-content-length for
 * aws-chunked bodies, itself at most 5 GiB): the first byte too many fails the request. The one body
 * without a declared size is an OSS-signed one in chunked transfer encoding (OSS accepts it, and
 * ali-oss's putStream sends one): it is read up to the 5 GiB limit. A failed body is not read any
 * further: the request is paused, not drained, its temporary file removed, and the endpoint answers the
 * error and closes the connection (s3-server.ts), so the client stops sending.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AwsChunkedDecoder } from './aws-chunked.ts';
import { announcedChecksum, BodyDigests } from './checksums.ts';
import type { StagedBlob } from './object-store.ts';
import { S3Error } from './s3-errors.ts';
import { type S3Context, str } from './s3-request.ts';
import { UNSIGNED_PAYLOAD } from './sigv4.ts';

/** S3's limit for one PUT (object or part). */
export const MAX_PUT_SIZE = 5 * 1024 ** 3;
/** Largest XML request body read (CompleteMultipartUpload with 10,000 parts is ~1 MB). */
const MAX_XML_BODY = 4 * 1024 * 1024;

/**
 * Streams a PUT body to a temporary file through the aws-chunked decoder (if any) and the digests, then
 * checks everything the client declared: size, payload hash, Content-MD5 and the additional checksum.
 */
export async function receiveBody(
  c: S3Context,
): Promise<StagedBlob & { checksumHeader: Record<string, string> }> {
  const { req, auth } = c;
  const mode = auth.payloadHash;
  const chunked = mode.startsWith('STREAMING-');
  const declared = str(chunked ? req.headers['x-amz-decoded-content-length'] : req.headers['content-length']);
  // OSS takes a PutObject body in chunked transfer encoding without Content-Length; S3 refuses it.
  const unsized =
    declared === undefined &&
    c.dialect === 'oss' &&
    /\bchunked\b/i.test(str(req.headers['transfer-encoding']) ?? '');
  if (!unsized && (declared === undefined || !/^\d+$/.test(declared))) {
    throw new S3Error(
      'MissingContentLength',
      chunked
        ? 'An aws-chunked upload needs x-amz-decoded-content-length.'
        : 'You must provide the Content-Length HTTP header.',
    );
  }
  const size = unsized ? undefined : Number(declared);
  if (size !== undefined && size > MAX_PUT_SIZE)
    throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size of 5 GiB.');
  let decoder: AwsChunkedDecoder | undefined;
  if (chunked) {
    if (mode === 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') decoder = new AwsChunkedDecoder(undefined, size);
    else if (
      c.signature &&
      (mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' || mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER')
    ) {
      decoder = new AwsChunkedDecoder(
        {
          context: c.signature,
          seedSignature: auth.signature,
          signedTrailer: mode.endsWith('-TRAILER'),
        },
        size,
      );
    } else
      throw new S3Error('InvalidArgument', `x-amz-content-sha256 "${mode}" is not a supported payload mode.`);
  } else if (mode !== UNSIGNED_PAYLOAD && !/^[0-9a-f]{64}$/.test(mode)) {
    throw new S3Error(
      'InvalidArgument',
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING- mode or a hex SHA-256.',
    );
  }
  const checksum = announcedChecksum(req.headers);
  if (checksum && checksum.value === undefined && !decoder) {
    throw new S3Error('InvalidRequest', 'x-amz-trailer needs an aws-chunked body.');
  }
  const hexHash = !chunked && mode !== UNSIGNED_PAYLOAD;
  const digests = new BodyDigests({
    sha256: hexHash,
    checksum: checksum?.algorithm,
    limit: size ?? MAX_PUT_SIZE,
  });
  const tmpPath = c.endpoint.store.tmpPath();
  const out = createWriteStream(tmpPath);
  try {
    const batches = new WriteBatches();
    await readInto(req, decoder ? [decoder, digests, batches] : [digests, batches], out).catch(
      (error: unknown) => {
        if (size === undefined && error instanceof S3Error && error.code === 'IncompleteBody')
          throw new S3Error('EntityTooLarge', 'Your upload exceeds the maximum allowed size of 5 GiB.');
        throw error;
      },
    );
    const { md5Hex, sha256Hex, checksum: computed } = digests.digests();
    if (size !== undefined && digests.bytes !== size) {
      throw new S3Error(
        'IncompleteBody',
        `You provided ${digests.bytes} bytes of the ${size} bytes declared.`,
        {
          NumberBytesExpected: String(size),
          NumberBytesProvided: String(digests.bytes),
        },
      );
    }
    if (hexHash && sha256Hex !== mode) {
      throw new S3Error(
        'XAmzContentSHA256Mismatch',
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
      );
    }
    const contentMd5 = str(req.headers['content-md5']);
    if (contentMd5 !== undefined && Buffer.from(md5Hex, 'hex').toString('base64') !== contentMd5) {
      throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
    }
    const checksumHeader: Record<string, string> = {};
    if (checksum) {
      const name = `x-amz-checksum-${checksum.algorithm}`;
      const given = checksum.value ?? decoder?.trailers[name];
      if (given === undefined)
        throw new S3Error('InvalidRequest', `The trailer ${name} was announced but not sent.`);
      if (given !== computed) {
        throw new S3Error(
          'BadDigest',
          `The ${checksum.algorithm.toUpperCase()} you specified did not match the calculated checksum.`,
        );
      }
      checksumHeader[name] = given;
    }
    return { tmpPath, size: digests.bytes, md5Hex, checksumHeader };
  } catch (error) {
    // The file may still be opening (nothing written yet): removed once it is closed, or it would
    // appear after the unlink.
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
    await unlink(tmpPath).catch(() => {});
    throw error;
  }
}

/** Bytes handed to the file at once. */
const WRITE_BATCH = 256 * 1024;

/**
 * Hands the body to the file in bursts of WRITE_BATCH bytes, so it is written with a few large
 * system calls rather than one per network read (16 KB or less; the AWS SDK's aws-chunked framing
 * makes each of its 64 KB chunks three body events). The file stream writes the first chunk of a burst
 * and the rest of it together (writev) once that write returns; nothing is copied. On 256 MiB from the
 * SDK: 16,700 file writes became about 700; the SDK's upload ran 40% faster with 10% less server CPU
 * (bench/storage-put).
 */
class WriteBatches extends Transform {
  private held: Buffer[] = [];
  private bytes = 0;

  constructor() {
    super({ readableHighWaterMark: 2 * WRITE_BATCH });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.held.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= WRITE_BATCH) this.release();
    done();
  }

  override _flush(done: TransformCallback): void {
    this.release();
    done();
  }

  private release(): void {
    for (const chunk of this.held) this.push(chunk);
    this.held = [];
    this.bytes = 0;
  }
}

/**
 * Streams the request body through `stages` into `out`. Unlike pipeline(req, …), a failure does not
 * destroy the request (and with it the connection that is to carry the error answer): the request is
 * unpiped, which pauses it, so nothing more is read from the client.
 */
async function readInto(
  req: IncomingMessage,
  stages: [Transform, ...Transform[]],
  out: Writable,
): Promise<void> {
  const first = stages[0];
  const done = pipeline([...stages, out]);
  const onError = (error: Error) => first.destroy(error);
  const onClose = () => {
    if (!req.complete) first.destroy(new Error('The client closed the connection before the body ended.'));
  };
  req.once('error', onError);
  req.once('close', onClose);
  req.pipe(first);
  try {
    await done;
  } finally {
    req.unpipe(first);
    req.off('error', onError);
    req.off('close', onClose);
  }
}

/** Reads a small XML body (bounded, and refused before reading when it declares more), checking its payload hash. */
export async function readSmallBody(c: S3Context): Promise<string> {
  const mode = c.auth.payloadHash;
  if (mode.startsWith('STREAMING-'))
    throw new S3Error('InvalidRequest', 'This request does not accept an aws-chunked body.');
  const declared = Number(str(c.req.headers['content-length']) ?? 0);
  if (declared > MAX_XML_BODY) throw new S3Error('InvalidRequest', 'The request body is too large.');
  const body = await collect(c.req, MAX_XML_BODY);
  if (/^[0-9a-f]{64}$/.test(mode) && createHash('sha256').update(body).digest('hex') !== mode) {
    throw new S3Error(
      'XAmzContentSHA256Mismatch',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  }
  // DeleteObjects bodies carry one (S3 requires it), and ali-oss sends one with every body it sends.
  const contentMd5 = str(c.req.headers['content-md5']);
  if (contentMd5 !== undefined && createHash('md5').update(body).digest('base64') !== contentMd5) {
    throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  return body.toString('utf8');
}

/** The whole body, up to `max` bytes; past that it stops reading (pauses, without destroying) and fails. */
export function collect(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const settle = (error: Error | undefined) => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error) {
        req.pause();
        reject(error);
      } else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > max) settle(new S3Error('InvalidRequest', 'The request body is too large.'));
      else chunks.push(chunk);
    };
    const onEnd = () => settle(undefined);
    const onError = (error: Error) => settle(error);
    const onClose = () => {
      if (!req.complete) settle(new Error('The client closed the connection before the body ended.'));
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}
