import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { AwsChunkedDecoder } from '../../src/storage/local/aws-chunked.ts';
import type { S3Error } from '../../src/storage/local/s3-errors.ts';
import {
  canonicalPath,
  type IncomingRequestParts,
  parseAuth,
  parseQuery,
  SignatureContext,
} from '../../src/storage/local/sigv4.ts';

// AWS's published example "Transferring payload in multiple chunks" (Signature Version 4, S3 API docs).
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SIGNED_AT = Date.UTC(2013, 4, 24);
const SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
const CHUNK_SIGNATURES = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];

const request: IncomingRequestParts = {
  method: 'PUT',
  rawPath: '/examplebucket/chunkObject.txt',
  query: {},
  headers: {
    host: 's3.amazonaws.com',
    'x-amz-date': '20130524T000000Z',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    authorization:
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=' +
      SEED,
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': '66560',
    'content-length': '66824',
  },
};

function body(signatures = CHUNK_SIGNATURES, data = Buffer.alloc(66560, 'a')): Buffer {
  const chunk = (payload: Buffer, sig: string) =>
    Buffer.concat([
      Buffer.from(`${payload.length.toString(16)};chunk-signature=${sig}\r\n`),
      payload,
      Buffer.from('\r\n'),
    ]);
  return Buffer.concat([
    chunk(data.subarray(0, 65536), signatures[0]!),
    chunk(data.subarray(65536), signatures[1]!),
    chunk(Buffer.alloc(0), signatures[2]!),
  ]);
}

async function decode(
  input: Buffer,
  pieceSize: number,
  auth = parseAuth(request, 'us-east-1', SIGNED_AT)!,
): Promise<Buffer> {
  const decoder = new AwsChunkedDecoder({
    context: new SignatureContext(auth, SECRET),
    seedSignature: auth.signature,
    signedTrailer: false,
  });
  const pieces: Buffer[] = [];
  for (let i = 0; i < input.length; i += pieceSize) pieces.push(input.subarray(i, i + pieceSize));
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(pieces),
    decoder,
    new Writable({ write: (c, _e, done) => done(void out.push(c)) }),
  );
  return Buffer.concat(out);
}

describe('SigV4 verification against AWS published vectors', () => {
  it('computes the seed signature of the example request', async () => {
    const auth = parseAuth(request, 'us-east-1', SIGNED_AT)!;
    assert.equal(auth.accessKeyId, 'AKIAIOSFODNN7EXAMPLE');
    assert.equal(await new SignatureContext(auth, SECRET).expectedRequestSignature(request), SEED);
    assert.notEqual(await new SignatureContext(auth, `${SECRET}x`).expectedRequestSignature(request), SEED);
  });

  it('decodes and verifies the signed chunks, whatever the read sizes', async () => {
    for (const pieceSize of [1, 7, 4096, 70_000]) {
      const decoded = await decode(body(), pieceSize);
      assert.equal(decoded.length, 66560, `piece size ${pieceSize}`);
      assert.ok(decoded.every((b) => b === 0x61));
    }
  });

  it('refuses a flipped byte, a wrong chunk signature and a truncated body', async () => {
    const flipped = body();
    flipped[66_000] = 0x62;
    await assert.rejects(decode(flipped, 4096), (e: S3Error) => e.code === 'SignatureDoesNotMatch');
    const badSig = body([CHUNK_SIGNATURES[0]!, CHUNK_SIGNATURES[0]!, CHUNK_SIGNATURES[2]!]);
    await assert.rejects(decode(badSig, 4096), (e: S3Error) => e.code === 'SignatureDoesNotMatch');
    await assert.rejects(
      decode(body().subarray(0, 66700), 4096),
      (e: S3Error) => e.code === 'IncompleteBody',
    );
  });

  it('refuses requests too far from the server clock, and other regions', () => {
    assert.throws(
      () => parseAuth(request, 'us-east-1', SIGNED_AT + 16 * 60_000),
      (e: S3Error) => e.code === 'RequestTimeTooSkewed',
    );
    assert.ok(parseAuth(request, 'us-east-1', SIGNED_AT + 14 * 60_000));
    assert.throws(
      () => parseAuth(request, 'eu-west-1', SIGNED_AT),
      (e: S3Error) => e.code === 'AuthorizationHeaderMalformed',
    );
  });
});

describe('request canonicalisation', () => {
  it('decodes the path once and re-encodes each segment strictly, without normalising', () => {
    assert.equal(
      canonicalPath('/b/DJI%202024/a%2Bb+c%21(1)%E6%96%87.jpg'),
      '/b/DJI%202024/a%2Bb%2Bc%21%281%29%E6%96%87.jpg',
    );
    assert.equal(canonicalPath('/b//x/../y'), '/b//x/../y');
  });

  it('parses the query without turning + into a space', () => {
    assert.deepEqual(parseQuery('prefix=a+b%20c&uploads&x=1&x=2'), {
      prefix: 'a+b c',
      uploads: '',
      x: ['1', '2'],
    });
  });
});
