import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simulateDock } from '../../src/simulate/dock.ts';
import { type Cli, runCli, startServe } from '../helpers/cli.ts';
import { ADMIN_PASSWORD, startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

/** Loosely typed JSON of an API answer (the test reads a few fields of it). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function json(url: string, init?: RequestInit): Promise<any> {
  return (await fetch(url, init)).json();
}

// The command line against one shared `skyvault serve`, and the simulator in process against an app of
// its own: the two run side by side, and so do the refusals next to the deliveries (they store nothing).
describe('skyvault simulate dock', { concurrency: true }, () => {
  describe('the command', { concurrency: true }, () => {
    let server: Cli;
    let url: string;
    const password = 'simulated-dock-pw';
    before(async () => {
      ({ server, url } = await startServe(password));
    });
    after(() => server.stop());

    const simulate = async (...args: string[]) => {
      const cli = runCli(['simulate', 'dock', '--url', url, ...args], {});
      const code = await cli.exited();
      return { code, out: cli.stdout(), err: cli.stderr() };
    };

    it('delivers each dock flight over MQTT; a second run is a new flight of the same docks', async () => {
      const first = await simulate('--password', password, '--count', '2', '--files', '3');
      assert.equal(first.code, 0, first.err);
      assert.match(first.out, /SIMDOCK0001: online with aircraft SIMUAV0001/);
      assert.match(first.out, /SIMDOCK0002: online with aircraft SIMUAV0002/);
      assert.match(first.out, /Done: 2 docks, 6 files uploaded and acknowledged, 0 failed\./);

      const login = await json(`${url}/manage/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password, flag: 1 }),
      });
      const headers = { 'x-auth-token': login.data.access_token };
      const ws: string = login.data.workspace_id;
      const listed = async () =>
        (await json(`${url}/media/api/v1/files/${ws}/files?page_size=100`, { headers })).data;

      const list = await listed();
      assert.equal(list.pagination.total, 6);
      for (const file of list.list) {
        assert.equal(file.source, 'dock');
        assert.equal(file.media_type, 'image');
        assert.equal(file.drone_model_key, '0-67-0');
        assert.equal(file.payload_model_key, '1-53-0');
        assert.equal(file.relative_altitude, 80);
        assert.ok(file.latitude > 22.5 && file.latitude < 22.7, `latitude ${file.latitude}`);
        assert.match(file.captured_time_raw, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
        // The dock's zone-less clock, normalised and marked as such (decision §10.23).
        assert.equal(file.captured_time_local, file.captured_time_raw.replace(' ', 'T'));
        assert.equal(file.captured_time_is_device_local, true);
        assert.match(file.file_name, /^DJI_\d{14}_000[1-3]_W\.JPG$/);
        assert.equal(file.object_key, `${ws}/media/${file.job_id}/${file.file_name}`);
      }
      // The aircraft online under each dock; one flight (file group) per dock, its three files in it.
      const byDrone = new Map<string, string[]>();
      for (const f of list.list as { drone: string; job_id: string }[])
        byDrone.set(f.drone, [...(byDrone.get(f.drone) ?? []), f.job_id]);
      assert.deepEqual([...byDrone.keys()].sort(), ['SIMUAV0001', 'SIMUAV0002']);
      for (const jobIds of byDrone.values()) {
        assert.equal(jobIds.length, 3);
        assert.equal(new Set(jobIds).size, 1);
      }
      const groups = (await json(`${url}/media/api/v1/files/${ws}/groups`, { headers })).data.list;
      assert.equal(groups.length, 2);
      assert.deepEqual(
        groups.map((g: { stored_count: number }) => g.stored_count),
        [3, 3],
      );

      // Same docks, new flight: six more files under two new flight ids, and nothing recorded twice.
      const again = await simulate('--password', password, '--count', '2', '--files', '3');
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /Done: 2 docks, 6 files uploaded and acknowledged, 0 failed\./);
      const after = await listed();
      assert.equal(after.pagination.total, 12);
      const keys = (after.list as { object_key: string }[]).map((f) => f.object_key);
      assert.equal(new Set(keys).size, 12);
      assert.equal(new Set((after.list as { job_id: string }[]).map((f) => f.job_id)).size, 4);
      assert.deepEqual(
        [...new Set((after.list as { drone: string }[]).map((f) => f.drone))].sort(),
        ['SIMUAV0001', 'SIMUAV0002'],
        'the same aircraft (and docks) as the first run',
      );
    });

    it('explains a wrong password, an unreachable server and bad arguments', async () => {
      const unreachable = runCli(['simulate', 'dock', '--url', 'http://127.0.0.1:1', '--password', 'x'], {});
      const usages = (
        [
          [['--count', '2'], /--password is required/],
          [['--password', 'x', '--count', '0'], /--count must be a positive whole number/],
          [['--password', 'x', '--files', 'many'], /--files must be a positive whole number/],
          [['--password', 'x', '--count', '10000'], /--count must be at most 9999/],
        ] as const
      ).map(([args, message]) => ({ args, message, cli: runCli(['simulate', 'dock', ...args], {}) }));

      const wrong = await simulate('--password', 'wrong');
      assert.equal(wrong.code, 1);
      assert.match(wrong.err, /^Login as "admin" failed: Invalid username or password\.$/m);
      assert.doesNotMatch(wrong.err, /\n\s+at /, 'no stack trace');
      assert.equal(wrong.out, '');

      assert.equal(await unreachable.exited(), 1);
      assert.match(unreachable.stderr(), /Cannot reach http:\/\/127\.0\.0\.1:1/);

      for (const { args, message, cli } of usages) {
        assert.equal(await cli.exited(), 2, args.join(' '));
        assert.match(cli.stderr(), message);
        assert.match(cli.stderr(), /simulate dock --password PASSWORD/);
      }
    });
  });

  // In turn: the second test takes the app's MQTT client away.
  describe('simulateDock against a running Skyvault (in process)', { concurrency: false }, () => {
    let t: TestApp;
    let url: string;
    before(async () => {
      ({ t } = await startLoggedInApp());
      url = `http://127.0.0.1:${(t.app.http.server.address() as { port: number }).port}`;
    });
    after(() => t.close());

    it('answers the services the cloud sends while it runs', async () => {
      let service: Promise<{ result: number }> | undefined;
      const lines: string[] = [];
      const summary = await simulateDock({
        url,
        username: 'admin',
        password: ADMIN_PASSWORD,
        files: 2,
        out: (line) => {
          lines.push(line);
          // Sent while the dock goes on with its flight (upload_flighttask_media_prioritize, §4.4).
          if (line.startsWith('SIMDOCK0001: online'))
            service = t.app.gateway.call('SIMDOCK0001', 'upload_flighttask_media_prioritize', {
              flight_id: 'flight-x',
            });
        },
      });
      assert.ok(service, lines.join('\n'));
      assert.equal((await service).result, 0);
      assert.equal(summary.servicesAnswered, 1);
      assert.deepEqual(
        { ...summary, servicesAnswered: 0 },
        { docks: 1, uploaded: 2, failed: 0, servicesAnswered: 0 },
      );
      assert.ok(lines.includes('SIMDOCK0001: answered the service upload_flighttask_media_prioritize'));
    });

    it('uploads a short H.264 video every fifth file, new bytes every flight', async () => {
      const run = () =>
        simulateDock({ url, username: 'admin', password: ADMIN_PASSWORD, files: 5, out: () => undefined });
      assert.deepEqual(await run(), { docks: 1, uploaded: 5, failed: 0, servicesAnswered: 0 });
      assert.deepEqual(await run(), { docks: 1, uploaded: 5, failed: 0, servicesAnswered: 0 });
      const videos = await t.app.database.db
        .selectFrom('mediaFiles')
        .select(['name', 'contentType', 'mediaType', 'etag', 'relativeAltitude', 'fileGroupId'])
        .where('mediaType', '=', 'video')
        .execute();
      assert.equal(videos.length, 2, 'one per flight');
      for (const video of videos) {
        assert.match(video.name, /^DJI_\d{14}_0005_W\.MP4$/);
        assert.equal(video.contentType, 'video/mp4');
        assert.equal(video.relativeAltitude, 80, 'reported like the photos');
      }
      assert.notEqual(videos[0]!.etag, videos[1]!.etag);
      assert.notEqual(videos[0]!.fileGroupId, videos[1]!.fileGroupId);
    });

    it('fails a dock with a clear sentence when a reply does not come', async () => {
      // Skyvault's MQTT client gone: the broker still accepts the dock, but nobody answers.
      await t.app.gateway.close();
      const lines: string[] = [];
      const summary = await simulateDock({
        url,
        username: 'admin',
        password: ADMIN_PASSWORD,
        count: 2,
        files: 3,
        timeoutMs: 300,
        out: (line) => lines.push(line),
      });
      assert.deepEqual(summary, { docks: 2, uploaded: 0, failed: 6, servicesAnswered: 0 });
      assert.ok(
        lines.includes('FAILED SIMDOCK0001: no status_reply to update_topo within 0.3 s.'),
        lines.join('\n'),
      );
      assert.ok(lines.includes('FAILED SIMDOCK0002: no status_reply to update_topo within 0.3 s.'));
    });
  });
});
