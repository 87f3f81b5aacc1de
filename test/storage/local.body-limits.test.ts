/**
 * An upload credential cannot write more than it declared (issue 13, hole 3). A raw client signs a PUT
 * (object or part) that declares 10 bytes and then streams 128 MiB: the store must answer the S3 error at
 * the first byte past the declaration, without reading (let alone writing) the rest. What the server
 * read is measured on its own socket, what reached the disk by watching the store's tmp/ directory.
 * No timing is asserted: only bytes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { parseAuth, parseQuery, SignatureContext } from '../../src/storage/local/sigv4.ts';
import type { UploadCredentials } from '../../src/storage/provider.ts';
import {
  BUCKET,
  REGION,
  s3Signer,
  sdkClient,
  startTestStorage,
  type TestStorage,
} from '../helpers/storage.ts';
import { until } from '../helpers/wait.ts';

const MiB = 1024 * 1024;
const DECLARED = 10;
/** What the client offers to send: far more than socket buffers can hold (tcp_rmem max is 32 MiB here). */
const OFFERED = 128 * MiB;
/** What the server may read past the declaration: its socket reads (64 KiB each) and the parser's buffer. */
const READ_SLACK = 1 * MiB;

interface Outcome {
  status: number;
  body: string;
  /** Bytes the client's kernel accepted. */
  clientSent: number;
  /** Bytes the server read from its socket: all it can have looked at. */
  serverRead: number;
  /** The largest upload file seen in tmp/ while the request ran (sampled). */
  maxTmpBytes: number;
}

describe('embedded S3 endpoint: a body cannot outgrow its declared length', () => {
  let storage: TestStorage;
  let creds: UploadCredentials;
  let nextServerSocket: ((socket: net.Socket) => void) | undefined;
  before(async () => {
    storage = await startTestStorage();
    creds = await storage.credentials('ws1/media');
    // The listener is private to the provider: tests only watch which sockets it accepts.
    const server = (storage.provider as unknown as { server: Server }).server;
    server.on('connection', (socket: net.Socket) => nextServerSocket?.(socket));
  });
  after(() => storage.close());

  const tmpDir = () => path.join(storage.root, 'tmp');
  const tmpFiles = () => readdirSync(tmpDir());

  async function signed(
    method: string,
    key: string,
    query: Record<string, string>,
    headers: Record<string, string>,
  ): Promise<{ headers: Record<string, string>; context: SignatureContext; seed: string; target: string }> {
    const url = new URL(creds.endpoint);
    const signer = s3Signer(creds);
    const rawPath = `/${BUCKET}/${key}`;
    const search = Object.entries(query)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join('&');
    const out = (
      await signer.sign({
        method,
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: rawPath,
        query,
        headers: { host: url.host, ...headers },
      })
    ).headers as Record<string, string>;
    const auth = parseAuth({ method, rawPath, query: parseQuery(search), headers: out }, REGION, Date.now())!;
    return {
      headers: out,
      context: new SignatureContext(auth, creds.accessKeySecret),
      seed: auth.signature,
      target: search ? `${rawPath}?${search}` : rawPath,
    };
  }

  /**
   * Sends the request head, then the pieces as fast as the connection takes them, until the server
   * answers or closes. Resolves once the connection is closed.
   */
  async function overrun(
    method: string,
    target: string,
    headers: Record<string, string>,
    pieces: AsyncIterable<Buffer>,
  ): Promise<Outcome> {
    const url = new URL(creds.endpoint);
    const accepted = new Promise<net.Socket>((resolve) => (nextServerSocket = resolve));
    const socket = net.connect(Number(url.port), url.hostname);
    socket.on('error', () => {}); // a reset after the answer is expected; the answer is what counts
    const serverSocket = await accepted;
    nextServerSocket = undefined;
    let maxTmpBytes = 0;
    const sampler = setInterval(() => {
      for (const name of tmpFiles()) {
        try {
          maxTmpBytes = Math.max(maxTmpBytes, statSync(path.join(tmpDir(), name)).size);
        } catch {
          // removed meanwhile
        }
      }
    }, 2);
    const received: Buffer[] = [];
    let wake: () => void = () => {};
    let answered = false;
    let closed = false;
    socket.on('data', (data: Buffer) => {
      received.push(data);
      answered = true;
      wake();
    });
    const closing = new Promise<void>((resolve) =>
      socket.on('close', () => {
        closed = true;
        wake();
        resolve();
      }),
    );
    const head = [
      `${method} ${target} HTTP/1.1`,
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      '',
      '',
    ].join('\r\n');
    socket.write(head);
    for await (const piece of pieces) {
      if (answered || closed) break;
      if (!socket.write(piece)) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          socket.once('drain', resolve);
        });
        socket.removeAllListeners('drain');
      }
    }
    // No half-close: a server that reads everything answers when the body is complete.
    await closing;
    clearInterval(sampler);
    const response = Buffer.concat(received).toString('latin1');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
    return {
      status,
      body: response.slice(response.indexOf('\r\n\r\n') + 4),
      clientSent: socket.bytesWritten,
      serverRead: serverSocket.bytesRead,
      maxTmpBytes,
    };
  }

  /** `total` bytes of zeros as signed aws-chunked chunks of `size`, then the final chunk. */
  async function* signedChunks(context: SignatureContext, seed: string, size: number, total: number) {
    const data = Buffer.alloc(size);
    const dataHash = createHash('sha256').update(data).digest('hex');
    const emptyHash = createHash('sha256').update('').digest('hex');
    let previous = seed;
    for (let sent = 0; sent < total; sent += size) {
      previous = await context.chunkSignature(previous, dataHash);
      yield Buffer.concat([
        Buffer.from(`${size.toString(16)};chunk-signature=${previous}\r\n`),
        data,
        Buffer.from('\r\n'),
      ]);
    }
    previous = await context.chunkSignature(previous, emptyHash);
    yield Buffer.from(`0;chunk-signature=${previous}\r\n\r\n`);
  }

  const signedLength = (size: number, total: number) =>
    (total / size) * (`${size.toString(16)};chunk-signature=`.length + 64 + 2 + size + 2) +
    '0;chunk-signature='.length +
    64 +
    4;

  /** The measurements of a refused overrun, and what must hold of them. */
  async function assertStopped(t: TestContext, name: string, outcome: Outcome, framing: number) {
    t.diagnostic(
      `${name}: status ${outcome.status}, client sent ${outcome.clientSent} B, server read ${outcome.serverRead} B, largest tmp file ${outcome.maxTmpBytes} B`,
    );
    assert.equal(outcome.status, 400, `${name}: ${outcome.body}`);
    assert.match(outcome.body, /<Code>IncompleteBody<\/Code>/);
    assert.ok(
      outcome.serverRead < DECLARED + framing + READ_SLACK,
      `${name}: the server read ${outcome.serverRead} bytes of the ${OFFERED} offered for ${DECLARED} declared`,
    );
    assert.ok(outcome.maxTmpBytes <= DECLARED, `${name}: ${outcome.maxTmpBytes} bytes reached the disk`);
    await until('the partial upload is removed', () => (tmpFiles().length === 0 ? true : undefined));
  }

  it('stops a signed aws-chunked PUT at its first chunk past the declared length', async (t) => {
    const key = 'ws1/media/overrun-signed.bin';
    const { headers, context, seed, target } = await signed(
      'PUT',
      key,
      {},
      {
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(DECLARED),
        'content-length': String(signedLength(MiB, OFFERED)),
      },
    );
    const outcome = await overrun('PUT', target, headers, signedChunks(context, seed, MiB, OFFERED));
    await assertStopped(t, 'signed chunks', outcome, 100);
    assert.equal(await storage.provider.head(key), undefined);
  });

  it('stops an unsigned aws-chunked PUT with a trailer (the SDK default, HTTP-chunked) after the declared bytes', async (t) => {
    const key = 'ws1/media/overrun-trailer.bin';
    const { headers, target } = await signed(
      'PUT',
      key,
      {},
      {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(DECLARED),
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
    );
    // The first chunk carries exactly the declared bytes; every one after it is too much.
    async function* body() {
      const http = (data: Buffer) =>
        Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
      yield http(Buffer.from(`a\r\n0123456789\r\n`));
      const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000), Buffer.from('\r\n')]);
      for (let sent = 0; sent < OFFERED; sent += 0x10000) yield http(chunk);
      yield http(Buffer.from('0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n'));
      yield Buffer.from('0\r\n\r\n');
    }
    const outcome = await overrun('PUT', target, { ...headers, 'transfer-encoding': 'chunked' }, body());
    await assertStopped(t, 'unsigned chunks with trailer', outcome, 100);
    assert.equal(await storage.provider.head(key), undefined);
  });

  it('stops a multipart part the same way, storing no part', async (t) => {
    const key = 'ws1/media/overrun-part.bin';
    const s3 = sdkClient(creds);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    s3.destroy();
    const { headers, context, seed, target } = await signed(
      'PUT',
      key,
      { partNumber: '1', uploadId: UploadId! },
      {
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(DECLARED),
        'content-length': String(signedLength(MiB, OFFERED)),
      },
    );
    const outcome = await overrun('PUT', target, headers, signedChunks(context, seed, MiB, OFFERED));
    await assertStopped(t, 'multipart part', outcome, 100);
    assert.deepEqual(storage.provider.store.parts(UploadId!), []);
  });

  it('refuses a declared length over 5 GiB before reading the body', async (t) => {
    const key = 'ws1/media/overrun-huge.bin';
    const { headers, context, seed, target } = await signed(
      'PUT',
      key,
      {},
      {
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(5 * 1024 * MiB + 1),
        'content-length': String(signedLength(MiB, OFFERED)),
      },
    );
    const outcome = await overrun('PUT', target, headers, signedChunks(context, seed, MiB, OFFERED));
    t.diagnostic(`over 5 GiB: status ${outcome.status}, server read ${outcome.serverRead} B`);
    assert.equal(outcome.status, 400, outcome.body);
    assert.match(outcome.body, /<Code>EntityTooLarge<\/Code>/);
    assert.ok(outcome.serverRead < READ_SLACK, `read ${outcome.serverRead}`);
    assert.equal(await storage.provider.head(key), undefined);
  });

  it('never reads a plain body past its Content-Length, nor one without a length', async (t) => {
    const key = 'ws1/media/overrun-plain.bin';
    async function* tooMuch() {
      yield Buffer.from('0123456789');
      const filler = Buffer.alloc(MiB, 'q');
      for (let sent = 0; sent < OFFERED; sent += MiB) yield filler;
    }
    const plain = await signed(
      'PUT',
      key,
      {},
      { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(DECLARED) },
    );
    const exceeded = await overrun('PUT', plain.target, plain.headers, tooMuch());
    t.diagnostic(
      `plain, Content-Length exceeded: status ${exceeded.status}, server read ${exceeded.serverRead} B`,
    );
    // The declared bytes are the object; what follows is not a request and ends the connection.
    assert.ok(exceeded.serverRead < DECLARED + READ_SLACK, `read ${exceeded.serverRead}`);
    const stored = await storage.provider.head(key);
    assert.ok(stored === undefined || stored.size === DECLARED, `stored ${stored?.size}`);

    const unsized = await signed('PUT', `${key}.2`, {}, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
    async function* httpChunked() {
      const filler = Buffer.alloc(MiB, 'q');
      const piece = Buffer.concat([Buffer.from(`${MiB.toString(16)}\r\n`), filler, Buffer.from('\r\n')]);
      for (let sent = 0; sent < OFFERED; sent += MiB) yield piece;
      yield Buffer.from('0\r\n\r\n');
    }
    const missing = await overrun(
      'PUT',
      unsized.target,
      { ...unsized.headers, 'transfer-encoding': 'chunked' },
      httpChunked(),
    );
    t.diagnostic(`plain, no length: status ${missing.status}, server read ${missing.serverRead} B`);
    assert.equal(missing.status, 411, missing.body);
    assert.match(missing.body, /<Code>MissingContentLength<\/Code>/);
    assert.ok(missing.serverRead < READ_SLACK, `read ${missing.serverRead}`);
    assert.equal(await storage.provider.head(`${key}.2`), undefined);
    await until('no upload left in tmp/', () => (tmpFiles().length === 0 ? true : undefined));
  });
});
