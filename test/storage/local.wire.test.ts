/**
 * What no JS S3 client sends by default, driven at the wire: signed aws-chunked bodies (the Java and
 * Android SDKs' form), killed uploads, wrong checksums, and Expect: 100-continue with a bad signature.
 * Requests are signed by @smithy/signature-v4 (the AWS SDK's signer), independently of the server.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignatureContext, parseAuth, parseQuery } from '../../src/storage/local/sigv4.ts';
import type { UploadCredentials } from '../../src/storage/provider.ts';
import { BUCKET, REGION, s3Signer, startTestStorage, type TestStorage } from '../helpers/storage.ts';

interface RawResponse {
  status: number;
  body: string;
}

async function signedHeaders(
  creds: UploadCredentials,
  method: string,
  key: string,
  headers: Record<string, string>,
) {
  const url = new URL(creds.endpoint);
  const signer = s3Signer(creds);
  const signed = await signer.sign({
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: `/${BUCKET}/${key}`,
    query: {},
    headers: { host: url.host, ...headers },
  });
  return signed.headers as Record<string, string>;
}

function send(
  creds: UploadCredentials,
  method: string,
  key: string,
  headers: Record<string, string>,
  body: (req: http.ClientRequest) => void,
): Promise<RawResponse> {
  const url = new URL(creds.endpoint);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      method,
      path: `/${BUCKET}/${key}`,
      headers,
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    body(req);
  });
}

/** Frames `data` as signed aws-chunked with `chunkSize` chunks, signatures chained from `seed`. */
async function signedChunks(
  context: SignatureContext,
  seed: string,
  data: Buffer,
  chunkSize: number,
): Promise<Buffer> {
  const out: Buffer[] = [];
  let previous = seed;
  for (let offset = 0; ; offset += chunkSize) {
    const chunk = data.subarray(offset, offset + chunkSize);
    previous = await context.chunkSignature(previous, createHash('sha256').update(chunk).digest('hex'));
    out.push(
      Buffer.from(`${chunk.length.toString(16)};chunk-signature=${previous}\r\n`),
      chunk,
      Buffer.from('\r\n'),
    );
    if (chunk.length === 0) return Buffer.concat(out);
  }
}

describe('embedded S3 endpoint at the wire', () => {
  let storage: TestStorage;
  let creds: UploadCredentials;
  before(async () => {
    storage = await startTestStorage();
    creds = await storage.credentials('ws1/media');
  });
  after(() => storage.close());

  const head = (key: string) => storage.provider.head(key);
  const tmpFiles = () => readdirSync(path.join(storage.root, 'tmp'));

  it('accepts a signed aws-chunked upload and refuses one with a flipped byte', async () => {
    const data = Buffer.alloc(200_000, 'q');
    const upload = async (key: string, corrupt: boolean) => {
      const headers = await signedHeaders(creds, 'PUT', key, {
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(data.length),
      });
      const auth = parseAuth(
        { method: 'PUT', rawPath: `/${BUCKET}/${key}`, query: parseQuery(''), headers },
        REGION,
        Date.now(),
      )!;
      const context = new SignatureContext(auth, creds.accessKeySecret);
      const body = await signedChunks(context, auth.signature, data, 64 * 1024);
      if (corrupt) body[100_000] = body[100_000]! ^ 1;
      return send(creds, 'PUT', key, { ...headers, 'content-length': String(body.length) }, (req) =>
        req.end(body),
      );
    };
    const ok = await upload('ws1/media/signed-chunks.bin', false);
    assert.equal(ok.status, 200, ok.body);
    assert.equal((await head('ws1/media/signed-chunks.bin'))?.size, 200_000);
    const bad = await upload('ws1/media/signed-corrupt.bin', true).catch((e: Error) => ({
      status: 0,
      body: e.message,
    }));
    assert.ok(bad.status === 403 || bad.status === 0, `refused (${bad.status})`);
    assert.equal(await head('ws1/media/signed-corrupt.bin'), undefined);
  });

  it('refuses wrong Content-MD5, CRC32 and payload hashes, storing nothing', async () => {
    const data = Buffer.from('the real body');
    const cases: [string, Record<string, string>, string][] = [
      [
        'md5',
        {
          'content-md5': createHash('md5').update('other').digest('base64'),
          'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        },
        'BadDigest',
      ],
      [
        'crc',
        { 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
        'BadDigest',
      ],
      [
        'sha',
        { 'x-amz-content-sha256': createHash('sha256').update('other').digest('hex') },
        'XAmzContentSHA256Mismatch',
      ],
    ];
    for (const [name, extra, code] of cases) {
      const key = `ws1/media/bad-${name}.txt`;
      const headers = await signedHeaders(creds, 'PUT', key, {
        ...extra,
        'content-length': String(data.length),
      });
      const response = await send(creds, 'PUT', key, headers, (req) => req.end(data));
      assert.equal(response.status, 400, `${name}: ${response.body}`);
      assert.match(response.body, new RegExp(`<Code>${code}</Code>`));
      assert.equal(await head(key), undefined);
    }
  });

  it('leaves no object and no temporary file when an upload is killed half-way', async () => {
    const key = 'ws1/media/killed.bin';
    const headers = await signedHeaders(creds, 'PUT', key, {
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      'content-length': String(4 * 1024 * 1024),
    });
    await send(creds, 'PUT', key, headers, (req) => {
      req.write(Buffer.alloc(1024 * 1024));
      setTimeout(() => req.destroy(), 50);
    }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await head(key), undefined);
    assert.deepEqual(tmpFiles(), []);
  });

  it('answers Expect: 100-continue with 403 before the body when the signature is wrong', async () => {
    const key = 'ws1/media/expect.bin';
    const headers = await signedHeaders(creds, 'PUT', key, {
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      'content-length': '1000000',
    });
    headers.authorization = headers.authorization!.replace(/Signature=[0-9a-f]{4}/, 'Signature=0000');
    let continued = false;
    const response = await send(creds, 'PUT', key, { ...headers, expect: '100-continue' }, (req) => {
      req.on('continue', () => {
        continued = true;
        req.end(Buffer.alloc(1_000_000));
      });
      req.flushHeaders();
    });
    assert.equal(response.status, 403);
    assert.match(response.body, /SignatureDoesNotMatch/);
    assert.equal(continued, false, 'the body was never asked for');
  });
});
