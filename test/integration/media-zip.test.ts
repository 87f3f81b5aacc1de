import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import yauzl from 'yauzl';
import { entryDate, entryName, UniqueNames } from '../../src/features/media/media-zip.service.ts';
import { testDialects } from '../helpers/databases.ts';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { testPilot } from '../helpers/pilot.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

interface ZipEntry {
  name: string;
  data: Buffer;
  method: number;
  /** The entry's zone-less date, read as UTC fields. */
  date: Date;
}

/** Opens a zip with a real reader (yauzl): every entry, in archive order, with its bytes. */
async function unzip(zip: Buffer): Promise<ZipEntry[]> {
  const file = await yauzl.fromBufferPromise(zip, { lazyEntries: true });
  const entries: ZipEntry[] = [];
  await new Promise<void>((resolve, reject) => {
    file.on('error', reject);
    file.on('end', () => resolve());
    file.on('entry', (entry: yauzl.Entry) => {
      file
        .openReadStreamPromise(entry)
        .then(async (stream) => {
          const chunks: Buffer[] = [];
          for await (const chunk of stream) chunks.push(chunk as Buffer);
          entries.push({
            name: entry.fileName,
            data: Buffer.concat(chunks),
            method: entry.compressionMethod,
            date: entry.getLastModDate({ timezone: 'UTC' }),
          });
          file.readEntry();
        })
        .catch(reject);
    });
    file.readEntry();
  });
  return entries;
}

function collect(response: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => resolve(Buffer.concat(chunks)));
    // A cut connection: 'aborted' on the response, then an error (ECONNRESET) on it.
    response.on('error', reject);
    response.on('aborted', () => reject(new Error('aborted')));
  });
}

/** The files of this process that are open under `dir` (Linux): object streams the server left open. */
function openFilesUnder(dir: string): string[] {
  if (!existsSync('/proc/self/fd')) return [];
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir) && !target.endsWith('.db') && !/\.db-(wal|shm)$/.test(target))
        open.push(target);
    } catch {
      // Closed between the listing and the readlink.
    }
  }
  return open;
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const BIG = 20 * 1024 * 1024;

for (const dialect of testDialects()) {
  describe(`media zip on ${dialect}`, () => {
    let t: TestApp;
    let token: string;
    let ws: string;
    let port: number;
    /** Object streams the server opened through storage.get, in order. */
    const opened: { key: string; body: Readable }[] = [];
    /** Object keys whose body a test replaces (a read that fails). */
    const replaced = new Map<string, (body: Readable) => Readable>();
    const contents = new Map<string, Buffer>();
    const ids = new Map<string, string>();

    before(async () => {
      ({ t, token, ws } = await startLoggedInApp({ dialect, captureLogs: true }));
      port = (t.app.http.server.address() as AddressInfo).port;
      const storage = t.app.storage;
      const get = storage.get.bind(storage);
      storage.get = async (key, range) => {
        // Only the zip's reads: background enrichment reads the same objects.
        const byZip = new Error().stack?.includes('media-zip.service') ?? false;
        const object = await get(key, range);
        if (!object || !byZip) return object;
        const swap = replaced.get(key);
        const body = swap ? swap(object.body) : object.body;
        opened.push({ key, body });
        return { info: object.info, body };
      };

      const pilot = await testPilot(t, token, ws);
      const files: [string, Buffer, Record<string, unknown>, string?][] = [
        [
          'a/DJI_0001.JPG',
          Buffer.from('photo a'),
          { metadata: { created_time: '2024-05-01T10:00:00+08:00' } },
        ],
        ['b/DJI_0001.JPG', Buffer.from('photo b'), {}],
        ['c/dji_0001.jpg', Buffer.from('photo c'), {}],
        ['d/DJI_0002.MP4', randomBytes(300_000), {}, 'video/mp4'],
        ['e/DJI_0003.JPG', Buffer.from('missing'), {}],
        ['g/EMPTY.DAT', Buffer.alloc(0), {}, 'application/octet-stream'],
        ['f/DJI_0004.MP4', randomBytes(1024 * 1024), {}, 'video/mp4'],
        ['big/DJI_1001.MP4', randomBytes(BIG), {}, 'video/mp4'],
        ['big/DJI_1002.MP4', randomBytes(BIG), {}, 'video/mp4'],
        ['big/DJI_1003.MP4', randomBytes(BIG), {}, 'video/mp4'],
      ];
      for (const [name, body, report, type] of files) {
        const answer = await pilot.upload(name, body, report, type);
        if (answer.code !== 0) throw new Error(`upload of ${name}: ${answer.message}`);
        const key = `${pilot.credentials.prefix}/${name}`;
        contents.set(name, body);
        ids.set(name, (await t.app.repos.media.findByObjectKey(ws, key))!.id);
      }
      // A file whose object has gone from storage behind the library's back.
      const missing = await t.app.repos.media.findById(ws, ids.get('e/DJI_0003.JPG')!);
      await t.app.storage.delete(missing!.objectKey);
    });
    after(() => t.close());

    const id = (name: string) => ids.get(name)!;
    const zip = (fileIds: string[], auth = token): Promise<http.IncomingMessage> =>
      new Promise((resolve, reject) => {
        const request = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: `/api/v1/workspaces/${ws}/media/zip`,
            headers: { 'content-type': 'application/json', 'x-auth-token': auth },
          },
          resolve,
        );
        request.on('error', reject);
        request.end(JSON.stringify({ file_ids: fileIds }));
      });

    it('zips the files in the order given, once each, with unique names, their bytes and dates', async () => {
      const order = ['a/DJI_0001.JPG', 'd/DJI_0002.MP4', 'b/DJI_0001.JPG', 'g/EMPTY.DAT', 'c/dji_0001.jpg'];
      const before = opened.length;
      const response = await zip([...order.map(id), id('a/DJI_0001.JPG')]);
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['content-type'], 'application/zip');
      assert.match(
        response.headers['content-disposition'] ?? '',
        /^attachment; filename="skyvault-\d{8}-\d{6}\.zip"$/,
      );
      const mediaBytes = order.reduce((sum, name) => sum + contents.get(name)!.length, 0);
      assert.equal(response.headers['x-skyvault-media-bytes'], String(mediaBytes));
      assert.equal(response.headers['x-skyvault-file-count'], '5');
      const entries = await unzip(await collect(response));
      assert.deepEqual(
        entries.map((e) => e.name),
        ['DJI_0001.JPG', 'DJI_0002.MP4', 'DJI_0001 (2).JPG', 'EMPTY.DAT', 'dji_0001 (3).jpg'],
      );
      entries.forEach((entry, i) => {
        assert.ok(entry.data.equals(contents.get(order[i]!)!), `bytes of ${entry.name}`);
        assert.equal(entry.method, 0, 'stored, not deflated');
      });
      // The capture time as the drone's clock read it (10:00 at +08:00), as a photo's EXIF shows it.
      assert.equal(entries[0]!.date.toISOString(), '2024-05-01T10:00:00.000Z');
      // No capture time: when Skyvault recorded the file, on the server's clock (2 s resolution).
      const recorded = await t.app.repos.media.findById(ws, id('d/DJI_0002.MP4'));
      const expected = entryDate({ capturedAt: null, capturedAtRaw: null, createdAt: recorded!.createdAt });
      assert.ok(Math.abs(entries[1]!.date.getTime() - expected.getTime()) <= 2000);
      assert.equal(opened.length - before, 5, 'each object read once');
    });

    it('refuses unknown ids before any zip, naming them', async () => {
      const before = opened.length;
      const unknown = ['not-a-file', '00000000-0000-0000-0000-000000000000'];
      const response = await zip([id('a/DJI_0001.JPG'), ...unknown]);
      assert.equal(response.statusCode, 404);
      assert.match(response.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(response.headers['content-disposition'], undefined);
      const body = JSON.parse((await collect(response)).toString('utf8'));
      assert.equal(body.code, 100406);
      assert.match(body.message, /2 of the files asked for are not in this workspace: not-a-file, 0{8}-/);
      assert.deepEqual(body.data, { unknown_file_ids: unknown });
      assert.equal(opened.length, before, 'storage was not read');
    });

    it('takes a browser form too: repeated file_ids, the token as a field, checked like the header', async () => {
      const form = (fields: [string, string][]): Promise<http.IncomingMessage> =>
        new Promise((resolve, reject) => {
          const request = http.request(
            {
              host: '127.0.0.1',
              port,
              method: 'POST',
              path: `/api/v1/workspaces/${ws}/media/zip`,
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
            },
            resolve,
          );
          request.on('error', reject);
          request.end(new URLSearchParams(fields).toString());
        });
      const names = ['a/DJI_0001.JPG', 'd/DJI_0002.MP4'];
      const ok = await form([
        ...names.map((n): [string, string] => ['file_ids', id(n)]),
        ['x-auth-token', token],
      ]);
      assert.equal(ok.statusCode, 200);
      const entries = await unzip(await collect(ok));
      assert.deepEqual(
        entries.map((e) => e.data.equals(contents.get(names[entries.indexOf(e)]!)!)),
        [true, true],
      );
      // One id (a single field) is a list of one.
      const single = await form([
        ['file_ids', id('a/DJI_0001.JPG')],
        ['x-auth-token', token],
      ]);
      assert.equal(single.statusCode, 200);
      assert.equal((await unzip(await collect(single))).length, 1);
      // No token, a bad one, or another workspace's: refused before anything is read.
      const before = opened.length;
      const anonymous = await form([['file_ids', id('a/DJI_0001.JPG')]]);
      assert.equal(anonymous.statusCode, 401);
      await collect(anonymous);
      const forged = await form([
        ['file_ids', id('a/DJI_0001.JPG')],
        ['x-auth-token', 'not-a-token'],
      ]);
      assert.equal(forged.statusCode, 401);
      await collect(forged);
      const otherWs = await createWorkspace(t.app.database.db, 'Form workspace');
      await createUser(t.app.database.db, otherWs, 'form-user', 'form-user-password');
      const other = await t.login('form-user', 'form-user-password');
      const foreign = await form([
        ['file_ids', id('a/DJI_0001.JPG')],
        ['x-auth-token', other.access_token],
      ]);
      assert.equal(foreign.statusCode, 403);
      await collect(foreign);
      assert.equal(opened.length, before, 'storage was not read');
    });

    it('checks the request: 1 to 10,000 ids, a token of this workspace', async () => {
      const empty = await zip([]);
      assert.equal(empty.statusCode, 400);
      await collect(empty);
      const tooMany = await zip(Array.from({ length: 10_001 }, (_, i) => `id-${i}`));
      assert.equal(tooMany.statusCode, 400);
      await collect(tooMany);

      const other = await createWorkspace(t.app.database.db);
      await createUser(t.app.database.db, other, `zip-${dialect}`, 'pw-zip');
      const stranger = await t.login(`zip-${dialect}`, 'pw-zip');
      const forbidden = await zip([id('a/DJI_0001.JPG')], stranger.access_token);
      assert.equal(forbidden.statusCode, 403);
      assert.equal(JSON.parse((await collect(forbidden)).toString('utf8')).code, 403);
    });

    it('streams with backpressure: one object open at a time, read as fast as the client reads', async () => {
      const names = ['big/DJI_1001.MP4', 'big/DJI_1002.MP4', 'big/DJI_1003.MP4'];
      const before = opened.length;
      const response = await zip(names.map(id));
      assert.equal(response.headers['x-skyvault-media-bytes'], String(3 * BIG));
      // Take the first bytes, then stop reading: the server must stop too, well before the last object.
      const first = await new Promise<Buffer>((resolve) =>
        response.once('data', (chunk: Buffer) => {
          response.pause();
          resolve(chunk);
        }),
      );
      await sleep(500);
      const soFar = opened.slice(before);
      assert.equal(soFar.length, 1, 'the next object is not opened while the client does not read');
      assert.equal(soFar[0]!.body.readableEnded, false, 'nor the first read ahead to its end');
      response.resume();
      const zipped = Buffer.concat([first, await collect(response)]);
      const entries = await unzip(zipped);
      assert.deepEqual(
        entries.map((e) => e.name),
        names.map((n) => n.split('/')[1]),
      );
      entries.forEach((entry, i) => assert.ok(entry.data.equals(contents.get(names[i]!)!)));
      assert.ok(zipped.length - 3 * BIG < 1000, 'stored: the zip is the media plus its headers');
    });

    it('stops reading storage when the client goes away, and stays healthy', async () => {
      const before = opened.length;
      const response = await zip(['big/DJI_1001.MP4', 'big/DJI_1002.MP4', 'big/DJI_1003.MP4'].map(id));
      await new Promise((resolve) => response.once('data', resolve));
      response.destroy();
      await until(
        () => opened.slice(before).every((o) => o.body.destroyed),
        'the object stream to be destroyed',
      );
      await sleep(200);
      assert.equal(opened.length - before, 1, 'no further object opened');
      assert.ok(opened[before]!.body.destroyed);
      await until(() => openFilesUnder(t.dataDir).length === 0, 'no object file left open');

      const next = await zip([id('a/DJI_0001.JPG')]);
      assert.equal(next.statusCode, 200);
      assert.equal((await unzip(await collect(next)))[0]!.data.toString(), 'photo a');
    });

    it('cuts the download when an object is missing, rather than ending a truncated zip', async () => {
      const response = await zip([id('f/DJI_0004.MP4'), id('e/DJI_0003.JPG')]);
      assert.equal(response.statusCode, 200);
      await assert.rejects(collect(response));
      await until(
        () => t.logs.some((l) => l.includes('zip download aborted') && l.includes(id('e/DJI_0003.JPG'))),
        'the failure logged with the file id',
      );
      const line = JSON.parse(t.logs.find((l) => l.includes('zip download aborted'))!);
      assert.equal(line.fileId, id('e/DJI_0003.JPG'));
      assert.match(line.err.message, /is not in storage/);
    });

    it('cuts the download when a read fails mid-file, and closes what it opened', async () => {
      const failing = (await t.app.repos.media.findById(ws, id('big/DJI_1002.MP4')))!.objectKey;
      replaced.set(failing, (body) => {
        // 1 MiB of the real bytes, then a read error (a disk or network failure).
        let sent = 0;
        const broken = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            sent += chunk.length;
            if (sent > 1024 * 1024) done(new Error('simulated read failure'));
            else done(null, chunk);
          },
        });
        broken.once('close', () => body.destroy());
        return body.pipe(broken);
      });
      try {
        const before = opened.length;
        const response = await zip([id('big/DJI_1001.MP4'), id('big/DJI_1002.MP4'), id('big/DJI_1003.MP4')]);
        assert.equal(response.statusCode, 200);
        await assert.rejects(collect(response));
        await until(
          () =>
            t.logs.some((l) => l.includes('simulated read failure') && l.includes(id('big/DJI_1002.MP4'))),
          'the failure logged with the file id',
        );
        assert.equal(opened.length - before, 2, 'the third object was never opened');
        await until(() => openFilesUnder(t.dataDir).length === 0, 'no object file left open');
      } finally {
        replaced.delete(failing);
      }
      const next = await zip([id('b/DJI_0001.JPG')]);
      assert.equal((await unzip(await collect(next)))[0]!.data.toString(), 'photo b');
    });

    it('answers an error, not a zip, when the first object cannot be read', async () => {
      const response = await zip([id('e/DJI_0003.JPG'), id('a/DJI_0001.JPG')]);
      const body = await collect(response).catch(() => undefined);
      // Nothing was sent yet, so there is still a status to tell the failure with.
      assert.equal(response.statusCode, 500);
      assert.match(response.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(response.headers['content-disposition'], undefined, 'not under the zip headers');
      assert.equal(response.headers['x-skyvault-file-count'], undefined);
      assert.equal(JSON.parse(body!.toString('utf8')).code, 500);
    });
  });
}

describe('media zip at shutdown', () => {
  it('cuts a download in progress rather than waiting for it', async () => {
    const { t, token, ws } = await startLoggedInApp();
    let response: http.IncomingMessage | undefined;
    try {
      const pilot = await testPilot(t, token, ws);
      await pilot.upload('DJI_0001.MP4', randomBytes(BIG), {}, 'video/mp4');
      const key = `${pilot.credentials.prefix}/DJI_0001.MP4`;
      const file = await t.app.repos.media.findByObjectKey(ws, key);
      const port = (t.app.http.server.address() as AddressInfo).port;
      response = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const request = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: `/api/v1/workspaces/${ws}/media/zip`,
            headers: { 'content-type': 'application/json', 'x-auth-token': token },
          },
          resolve,
        );
        request.on('error', reject);
        request.end(JSON.stringify({ file_ids: [file!.id] }));
      });
      const cut = collect(response);
      cut.catch(() => {});
      await new Promise((resolve) => response!.once('data', resolve));
      response.pause();
      const started = Date.now();
      await t.close();
      assert.ok(Date.now() - started < 5000, `closed in ${Date.now() - started} ms`);
      response.resume();
      await assert.rejects(cut);
    } finally {
      response?.destroy();
      await t.close();
    }
  });
});

describe('zip entry names', () => {
  it('are made unique without case, before the extension', () => {
    const names = new UniqueNames();
    assert.deepEqual(
      ['a.jpg', 'A.JPG', 'a.jpg', 'a (2).jpg', 'noext', 'noext', '.hidden', '.hidden'].map((n) =>
        names.claim(n),
      ),
      ['a.jpg', 'A (2).JPG', 'a (3).jpg', 'a (2) (2).jpg', 'noext', 'noext (2)', '.hidden', '.hidden (2)'],
    );
  });

  it('unpack as one file, anywhere', () => {
    assert.deepEqual(
      ['DJI_0001.JPG', 'a/b.jpg', '..\\x.jpg', 'C:x.jpg', 'a\u0000b', '..', '', ' ok.jpg '].map(entryName),
      ['DJI_0001.JPG', 'a_b.jpg', '.._x.jpg', 'C_x.jpg', 'a_b', 'file', 'file', 'ok.jpg'],
    );
  });

  it('are dated with the capture time as the device clock read it, zone or not', () => {
    const at = (capturedAtRaw: string) =>
      entryDate({ capturedAt: null, capturedAtRaw, createdAt: 0 }).toISOString();
    assert.equal(at('2021-12-02T16:17:07+08:00'), '2021-12-02T16:17:07.000Z');
    assert.equal(at('2021-05-10 16:04:20'), '2021-05-10T16:04:20.000Z', 'a dock: its local clock');
    assert.equal(at('2021:05:10 16:04:20'), '2021-05-10T16:04:20.000Z', 'EXIF');
  });
});
