import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { type DockSimulationSummary, simulateDock } from '../../src/simulate/dock.ts';
import { runCli } from '../helpers/cli.ts';
import { ADMIN_PASSWORD, startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

/** A `fileupload_progress` as it reached Skyvault. */
interface ProgressEvent {
  tid: string;
  bid: string;
  need_reply?: number;
  data: {
    result: number;
    output: {
      status: string;
      ext: {
        files: {
          module: string;
          device_sn: string;
          key: string;
          fingerprint: string;
          size: number;
          progress: Record<string, number | string>;
        }[];
      };
    };
  };
}

interface ListedFile {
  device_sn: string;
  module: string;
  result: number;
  list: Record<string, number>[];
}

const DOCK = 'SIMDOCK0001';
const AIRCRAFT = 'SIMUAV0001';
const TERMINAL = ['ok', 'failed', 'canceled'];
/** A file's percentage within its step, whichever spelling the event used (decision §10.34). */
const uploadProgress = (p: Record<string, number | string>) => Number(p.progress ?? p.prgress);

/** Polls `check` until it returns something other than undefined (or false). */
async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// One Skyvault for the file; the simulated docks run one after the other (they are all SIMDOCK0001).
describe('skyvault simulate dock: remote logs', { concurrency: false }, () => {
  let t: TestApp;
  let url: string;
  let ws: string;
  /** Every `fileupload_progress` Skyvault received, in order. */
  const events: ProgressEvent[] = [];
  const eventsOf = (bid: string) => events.filter((e) => e.bid === bid);

  before(async () => {
    ({ t, ws } = await startLoggedInApp());
    url = `http://127.0.0.1:${(t.app.http.server.address() as { port: number }).port}`;
    // The events as they reach Skyvault's own MQTT client (a private field: the broker holds every other
    // connection to its own gateway's topics, and a second login as the dock would take the dock over).
    const client = (t.app.gateway as unknown as { client: MqttClient }).client;
    client.on('message', (topic, payload) => {
      if (topic !== `thing/product/${DOCK}/events`) return;
      const message = JSON.parse(payload.toString()) as ProgressEvent & { method: string };
      if (message.method === 'fileupload_progress') events.push(message);
    });
  });
  after(() => t.close());

  /** A simulated dock that stays online, and the way to take it offline. */
  async function stayingDock(options: { logStepMs: number; failLogs?: number }) {
    const stop = new AbortController();
    const lines: string[] = [];
    const run = simulateDock({
      url,
      username: 'admin',
      password: ADMIN_PASSWORD,
      files: 0,
      stay: true,
      signal: stop.signal,
      out: (line) => lines.push(line),
      ...options,
    });
    // A failed start ends the run: show it rather than time out.
    const early = run.then((summary) =>
      assert.fail(`the run ended: ${JSON.stringify(summary)}\n${lines.join('\n')}`),
    );
    await Promise.race([
      early,
      until('the dock online', async () => (await t.app.devices.find(DOCK))?.online === 1),
    ]);
    await until('the stay line', () => lines.some((l) => /1 dock stays online/.test(l)));
    return {
      lines,
      async stop(): Promise<DockSimulationSummary> {
        stop.abort();
        const summary = await run;
        await until('the dock offline', async () => (await t.app.devices.find(DOCK))?.online === 0);
        return summary;
      },
    };
  }

  /** `fileupload_start` as Skyvault's log feature sends it (§5.4), with real credentials for `<ws>/logs`. */
  async function startExport(bid: string, modules: { module: '0' | '3'; bootIndexes: number[] }[]) {
    const c = await t.app.storage.issueUploadCredentials({
      prefix: `${ws}/logs`,
      ttlSeconds: 900,
      actions: ['put', 'get'],
    });
    const keys = modules.map(() => `${ws}/logs/${randomUUID()}.tar`);
    const reply = await t.app.gateway.call(
      DOCK,
      'fileupload_start',
      {
        bucket: c.bucket,
        region: c.region,
        endpoint: c.endpoint,
        provider: c.provider,
        credentials: {
          access_key_id: c.accessKeyId,
          access_key_secret: c.accessKeySecret,
          security_token: c.securityToken,
          expire: c.expiresAt,
        },
        file_store_dir: `${ws}/logs`,
        file_type: 'text_log',
        params: {
          files: modules.map((m, i) => ({
            module: m.module,
            object_key: keys[i],
            device_sn: m.module === '0' ? AIRCRAFT : DOCK,
            list: m.bootIndexes.map((boot_index) => ({ boot_index })),
          })),
        },
      },
      bid,
    );
    return { reply, keys };
  }

  const listLogs = async () => {
    const reply = await t.app.gateway.call(DOCK, 'fileupload_list', { module_list: ['0', '3'] });
    return { reply, files: reply.data.files as ListedFile[] };
  };

  describe('a dock that stays online', () => {
    let dock: Awaited<ReturnType<typeof stayingDock>>;
    before(async () => {
      dock = await stayingDock({ logStepMs: 150 });
    });

    it('lists the logs of the dock and its aircraft, files beside result, one item with end_ime', async () => {
      const { reply, files } = await listLogs();
      assert.equal(reply.result, 0);
      assert.deepEqual(Object.keys(reply.data).sort(), ['files', 'result'], 'files beside result, no output');
      assert.deepEqual(
        files.map((f) => [f.module, f.device_sn, f.result]),
        [
          ['0', AIRCRAFT, 0],
          ['3', DOCK, 0],
        ],
      );
      for (const file of files) {
        assert.ok(file.list.length >= 5 && file.list.length <= 8, `${file.list.length} boot sessions`);
        assert.equal(file.list.filter((item) => 'end_ime' in item).length, 1, 'one end_ime, as DJI examples');
        file.list.forEach((item, i) => {
          const end = item.end_time ?? item.end_ime!;
          assert.ok(item.start_time! > 1e12 && end > item.start_time!, 'epoch ms, end after start');
          assert.ok(item.size! >= 100_000 && item.size! <= 5_000_000, `size ${item.size}`);
          if (i > 0) assert.equal(item.boot_index, file.list[i - 1]!.boot_index! + 1, 'counting up');
        });
        const last = file.list.at(-1)!;
        const lastEnd = last.end_time ?? last.end_ime!;
        assert.ok(
          Date.now() - lastEnd < 3_600_000 && lastEnd < Date.now(),
          'the newest ends just before now',
        );
      }
      assert.notDeepEqual(files[0]!.list, files[1]!.list, 'each device its own logs');
      // The same list when asked again: the server may start an export from an earlier answer.
      assert.deepEqual((await listLogs()).files, files);

      const only = await t.app.gateway.call(DOCK, 'fileupload_list', { module_list: ['3', '7'] });
      assert.deepEqual(
        (only.data.files as ListedFile[]).map((f) => f.module),
        ['3'],
        'an unknown module gets no entry',
      );
    });

    it('uploads the chosen logs to the given keys, reporting progress under the start’s bid', async () => {
      const { files } = await listLogs();
      const aircraftBoots = files[0]!.list.slice(-2).map((item) => item.boot_index!);
      const dockBoots = files[1]!.list.slice(0, 1).map((item) => item.boot_index!);
      const bid = randomUUID();
      const { reply, keys } = await startExport(bid, [
        { module: '0', bootIndexes: aircraftBoots },
        { module: '3', bootIndexes: dockBoots },
      ]);
      assert.deepEqual(reply.data, { result: 0 });

      // One export at a time, as on a real dock.
      await until('the first progress event', () => eventsOf(bid).length > 0);
      const busy = await startExport(randomUUID(), [{ module: '3', bootIndexes: dockBoots }]);
      assert.equal(busy.reply.result, 325009);

      const final = await until('the end of the export', () =>
        eventsOf(bid).find((e) => TERMINAL.includes(e.data.output.status)),
      );
      assert.equal(final.data.output.status, 'ok', JSON.stringify(final));
      assert.equal(final.data.result, 0);
      assert.equal(final.need_reply, 1, 'the final event asks for an events_reply');

      const seen = eventsOf(bid);
      const statuses = seen.map((e) => e.data.output.status);
      assert.deepEqual([...new Set(statuses)], ['file_pull', 'file_zip', 'file_uploading', 'ok']);
      assert.ok(seen.slice(0, -1).every((e) => e.need_reply === 0));
      for (const module of ['0', '3']) {
        const uploading = seen
          .filter((e) => e.data.output.status === 'file_uploading')
          .map((e) => e.data.output.ext.files.find((f) => f.module === module)!)
          .filter((f) => f.progress.status === 'file_uploading');
        assert.ok(uploading.length >= 3, `several upload events for module ${module}`);
        const values = uploading.map((f) => uploadProgress(f.progress));
        assert.deepEqual(
          values,
          [...values].sort((a, b) => a - b),
          'rising progress',
        );
        assert.ok(values.at(-1)! > values[0]!);
        assert.ok((uploading.at(-1)!.progress.upload_rate as number) > 0, 'an upload rate in bytes/s');
      }
      // DJI's quirks, in a mix: `prgress` for `progress` and no `total_step` in some events.
      const reports = seen.flatMap((e) => e.data.output.ext.files.map((f) => f.progress));
      assert.ok(reports.some((p) => 'prgress' in p && !('progress' in p)));
      assert.ok(reports.some((p) => 'progress' in p));
      assert.ok(reports.some((p) => !('total_step' in p)));
      assert.ok(reports.some((p) => p.total_step === 3));

      const reported = final.data.output.ext.files;
      assert.deepEqual(
        reported.map((f) => [f.module, f.device_sn, f.key]),
        [
          ['0', AIRCRAFT, keys[0]],
          ['3', DOCK, keys[1]],
        ],
      );
      for (const [i, file] of reported.entries()) {
        assert.equal(file.progress.status, 'ok');
        assert.equal(file.progress.result, 0);
        assert.equal(uploadProgress(file.progress), 100);
        assert.ok(Number(file.progress.finish_time) > Date.now() - 60_000, 'finish_time in ms');
        const stored = await t.app.storage.head(keys[i]!);
        assert.ok(stored, `${keys[i]} in storage`);
        assert.equal(stored.size, file.size);
        assert.ok(file.size > 1000 && file.size < 2_500_000, `archive of ${file.size} bytes`);
        assert.match(file.fingerprint, /^[0-9a-f]{32}$/);
        assert.equal(stored.md5, file.fingerprint, 'the fingerprint is the MD5 of what was uploaded');
      }
      // A tar of one text log per chosen boot session.
      const archive = await t.app.storage.get(keys[0]!);
      const chunks: Buffer[] = [];
      for await (const chunk of archive!.body) chunks.push(chunk as Buffer);
      const tar = Buffer.concat(chunks);
      for (const index of aircraftBoots)
        assert.ok(tar.includes(`${AIRCRAFT}/boot_${index}.log`), `boot ${index}`);
      assert.equal(tar.subarray(257, 262).toString(), 'ustar', 'a tar archive');
      assert.ok(
        dock.lines.some((l) => l.includes(`uploaded the logs of ${AIRCRAFT}`)),
        dock.lines.join('\n'),
      );
    });

    it('counts every service it answered, and goes offline when its signal aborts', async () => {
      const summary = await dock.stop();
      // fileupload_list ×4, fileupload_start ×2.
      assert.equal(summary.servicesAnswered, 6, dock.lines.join('\n'));
      assert.deepEqual(
        { ...summary, servicesAnswered: 0 },
        { docks: 1, uploaded: 0, failed: 0, servicesAnswered: 0 },
      );
    });

    after(async () => {
      if (dock) await dock.stop();
    });
  });

  it('cancels an upload under way when told to, and stores nothing', async () => {
    // Slow: a second between events leaves the cancel plenty of time on a loaded machine.
    const dock = await stayingDock({ logStepMs: 1000 });
    try {
      const { files } = await listLogs();
      const bid = randomUUID();
      const { reply, keys } = await startExport(bid, [
        { module: '3', bootIndexes: files[1]!.list.map((item) => item.boot_index!) },
      ]);
      assert.equal(reply.result, 0);
      // A first part sent: the upload request is in flight.
      await until('the upload under way', () =>
        eventsOf(bid).some((e) => {
          const { progress } = e.data.output.ext.files[0]!;
          return progress.status === 'file_uploading' && uploadProgress(progress) > 0;
        }),
      );
      const cancel = await t.app.gateway.call(DOCK, 'fileupload_update', {
        status: 'cancel',
        module_list: ['3'],
      });
      assert.equal(cancel.result, 0);
      const final = await until('the canceled event', () =>
        eventsOf(bid).find((e) => TERMINAL.includes(e.data.output.status)),
      );
      assert.equal(final.data.output.status, 'canceled');
      assert.equal(final.data.output.ext.files[0]!.progress.status, 'canceled');
      assert.equal(final.data.output.ext.files[0]!.key, keys[0]);
      // Nothing after the end (the next step would have come by now), and nothing in storage.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(eventsOf(bid).at(-1), final);
      assert.equal(await t.app.storage.head(keys[0]!), undefined);
      assert.ok(dock.lines.some((l) => l.includes(`canceled the log upload of ${DOCK}`)));
      // The dock takes the next export (stopping the dock ends it).
      const next = await startExport(randomUUID(), [{ module: '0', bootIndexes: [1] }]);
      assert.equal(next.reply.result, 0);
    } finally {
      await dock.stop();
    }
  });

  for (const [code, when] of [
    [324019, 'during the upload'],
    [324016, 'while compressing'],
  ] as const) {
    it(`fails every export with the failLogs code, ${code} ${when}`, async () => {
      const dock = await stayingDock({ logStepMs: 20, failLogs: code });
      try {
        const bid = randomUUID();
        const { reply, keys } = await startExport(bid, [{ module: '0', bootIndexes: [1, 2] }]);
        assert.equal(reply.result, 0);
        const final = await until('the failed event', () =>
          eventsOf(bid).find((e) => TERMINAL.includes(e.data.output.status)),
        );
        assert.equal(final.data.result, code);
        assert.equal(final.data.output.status, 'failed');
        const [file] = final.data.output.ext.files;
        assert.equal(file!.progress.status, 'failed');
        assert.equal(file!.progress.result, code);
        assert.equal(
          eventsOf(bid).some((e) => e.data.output.status === 'file_uploading'),
          code === 324019,
          `the failure comes ${when}`,
        );
        assert.equal(await t.app.storage.head(keys[0]!), undefined);
      } finally {
        await dock.stop();
      }
    });
  }

  it('`--stay --files 0` keeps the command online until Ctrl-C; --fail-logs is checked', async () => {
    const bad = runCli(['simulate', 'dock', '--password', 'x', '--fail-logs', 'disk-full'], {});
    const cli = runCli(
      ['simulate', 'dock', '--url', url, '--password', ADMIN_PASSWORD, '--files', '0', '--stay'],
      {},
    );
    try {
      await cli.waitFor(/1 dock stays online, answering services .*Ctrl-C/);
      const { reply } = await listLogs();
      assert.equal(reply.result, 0);
      assert.equal(await cli.stop('SIGINT'), 0, cli.stderr());
      assert.match(
        cli.stdout(),
        /Done: 1 docks, 0 files uploaded and acknowledged, 0 failed\. 1 service answered\./,
      );
    } finally {
      if (cli.child.exitCode === null) await cli.stop('SIGKILL');
    }
    assert.equal(await bad.exited(), 2);
    assert.match(bad.stderr(), /--fail-logs must be a DJI result code/);
    assert.match(bad.stderr(), /--stay/);
  });
});
