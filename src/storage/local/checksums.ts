/**
 * Integrity checks of uploaded bodies, computed while the bytes stream to disk: MD5 always (it is the
 * ETag, and Content-MD5 is checked against it), SHA-256 when the client signed a hex payload hash, and
 * the additional checksum the AWS SDK v3 sends by default (`x-amz-checksum-crc32`, as a header or an
 * aws-chunked trailer), or CRC32C / SHA-1 / SHA-256 when asked for.
 */
import { Crc32c } from '@aws-crypto/crc32c';
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import { S3Error } from './s3-errors.ts';

export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'sha1' | 'sha256';
export const CHECKSUM_ALGORITHMS: ChecksumAlgorithm[] = ['crc32', 'crc32c', 'sha1', 'sha256'];

interface Checksummer {
  update(data: Buffer): void;
  /** Base64 of the big-endian digest, as S3 headers carry it. */
  digest(): string;
}

function checksummer(algorithm: ChecksumAlgorithm): Checksummer {
  switch (algorithm) {
    case 'crc32': {
      let value = 0;
      return {
        update: (data) => (value = crc32(data, value)),
        digest: () => {
          const out = Buffer.alloc(4);
          out.writeUInt32BE(value >>> 0);
          return out.toString('base64');
        },
      };
    }
    case 'crc32c': {
      const crc = new Crc32c();
      return {
        update: (data) => void crc.update(data),
        digest: () => {
          const out = Buffer.alloc(4);
          out.writeUInt32BE(crc.digest() >>> 0);
          return out.toString('base64');
        },
      };
    }
    case 'sha1':
    case 'sha256': {
      const hash = createHash(algorithm);
      return { update: (data) => void hash.update(data), digest: () => hash.digest('base64') };
    }
  }
}

/** Which checksum a request announces: a header with its value, or a trailer whose value comes later. */
export function announcedChecksum(
  headers: Record<string, string | string[] | undefined>,
): { algorithm: ChecksumAlgorithm; value: string | undefined } | undefined {
  const trailer = headers['x-amz-trailer'];
  if (typeof trailer === 'string' && trailer !== '') {
    const algorithm = checksumFromHeaderName(trailer.trim().toLowerCase());
    return { algorithm, value: undefined };
  }
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = headers[`x-amz-checksum-${algorithm}`];
    if (typeof value === 'string') return { algorithm, value };
  }
  if (typeof headers['x-amz-checksum-crc64nvme'] === 'string') {
    throw new S3Error(
      'NotImplemented',
      'The CRC64NVME checksum is not supported; use CRC32, CRC32C, SHA1 or SHA256.',
    );
  }
  return undefined;
}

export function checksumFromHeaderName(name: string): ChecksumAlgorithm {
  const algorithm = name.replace(/^x-amz-checksum-/, '') as ChecksumAlgorithm;
  if (!name.startsWith('x-amz-checksum-') || !CHECKSUM_ALGORITHMS.includes(algorithm)) {
    throw new S3Error('InvalidRequest', `The trailer "${name}" is not a supported checksum.`);
  }
  return algorithm;
}

/** A pass-through stream that counts and hashes what flows through it. */
export class BodyDigests extends Transform {
  bytes = 0;
  private readonly md5: Hash = createHash('md5');
  private readonly sha256: Hash | undefined;
  private readonly extra: Checksummer | undefined;
  private results:
    { md5Hex: string; sha256Hex: string | undefined; checksum: string | undefined } | undefined;

  private readonly limit: number;

  /** `limit`: more bytes than this fail the stream (IncompleteBody) before they pass on. */
  constructor(options: { sha256: boolean; checksum: ChecksumAlgorithm | undefined; limit?: number }) {
    super();
    this.sha256 = options.sha256 ? createHash('sha256') : undefined;
    this.extra = options.checksum ? checksummer(options.checksum) : undefined;
    this.limit = options.limit ?? Number.POSITIVE_INFINITY;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length > this.limit - this.bytes) {
      callback(
        new S3Error('IncompleteBody', `The body carries more than the ${this.limit} bytes declared.`, {
          NumberBytesExpected: String(this.limit),
        }),
      );
      return;
    }
    this.bytes += chunk.length;
    this.md5.update(chunk);
    this.sha256?.update(chunk);
    this.extra?.update(chunk);
    callback(null, chunk);
  }

  /** The digests, once the stream has ended. */
  digests(): { md5Hex: string; sha256Hex: string | undefined; checksum: string | undefined } {
    this.results ??= {
      md5Hex: this.md5.digest('hex'),
      sha256Hex: this.sha256?.digest('hex'),
      checksum: this.extra?.digest(),
    };
    return this.results;
  }
}
