import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type DeviceEvents, DeviceService } from '../../src/features/devices/device.service.ts';
import type { Repositories } from '../../src/features/repositories.ts';
import { AppError } from '../../src/shared/app-error.ts';
import { memoryRepositories } from '../helpers/memory-db.ts';

const DOCK = { domain: 3, type: 1, subType: 0, subDevices: [] };
const withAircraft = (sn: string) => ({
  ...DOCK,
  subDevices: [{ sn, domain: 0, type: 67, subType: 0 }],
});

describe(DeviceService.name, () => {
  let repos: Repositories;
  let close: () => Promise<void>;
  let sut: DeviceService;
  let clock = 1_000;
  let emitted: { name: keyof DeviceEvents; data: unknown }[];

  before(async () => {
    ({ repos, close } = await memoryRepositories());
    const now = Date.now();
    for (const id of ['ws-a', 'ws-b']) {
      await repos.workspaces.insert({
        id,
        name: `Workspace ${id}`,
        description: '',
        platformName: 'Skyvault',
        bindCode: `code-${id}`,
        deletingAt: null,
        createdAt: now,
        updatedAt: now,
      });
    }
  });
  after(() => close());

  let n = 0;
  /** Fresh serial numbers per test: the database is shared by the file. */
  const sn = (name: string) => `${name}-${n}`;
  beforeEach(() => {
    n += 1;
    sut = new DeviceService({ devices: repos.devices, workspaces: repos.workspaces, now: () => clock++ });
    emitted = [];
    sut.events.onAny((name, data) => {
      emitted.push({ name, data });
    });
  });

  it('binds a gateway on first update_topo to its account’s workspace, with its aircraft', async () => {
    const gateway = await sut.updateTopology(sn('DOCK'), withAircraft(sn('AIR')), 'ws-a');
    assert.equal(gateway.workspaceId, 'ws-a');
    assert.equal((await sut.find(sn('AIR')))?.workspaceId, 'ws-a');
    assert.deepEqual(
      emitted.map((e) => e.name),
      ['bound', 'online', 'online', 'topology'],
    );
    assert.deepEqual(emitted[0]?.data, { gatewaySn: sn('DOCK'), workspaceId: 'ws-a' });
  });

  it('keeps a gateway unbound on purpose unbound, whatever account announces it', async () => {
    await sut.updateTopology(sn('DOCK'), DOCK, 'ws-a');
    await sut.unbindInWorkspace('ws-a', sn('DOCK'));
    const again = await sut.updateTopology(sn('DOCK'), DOCK, 'ws-a');
    assert.equal(again.workspaceId, null);
  });

  it('decides "bound elsewhere" one way for every caller', async () => {
    await sut.updateTopology(sn('DOCK'), withAircraft(sn('AIR')), 'ws-a');
    assert.equal(await sut.boundElsewhere(sn('DOCK'), 'ws-a'), false);
    assert.equal(await sut.boundElsewhere(sn('DOCK'), 'ws-b'), true);
    assert.equal(await sut.boundElsewhere('NEVER-SEEN', 'ws-b'), false);
    // Another workspace's dock announcing the aircraft does not take it over.
    await sut.updateTopology(sn('OTHER'), withAircraft(sn('AIR')), 'ws-b');
    assert.equal((await sut.find(sn('AIR')))?.workspaceId, 'ws-a');
    assert.equal((await sut.find(sn('AIR')))?.parentSn, sn('DOCK'));
    // Nor does its binding code.
    assert.equal(await sut.bindFromGateway(sn('OTHER'), sn('AIR'), 'ws-b'), 'not-yours');
    assert.equal(await sut.bindFromGateway(sn('OTHER'), sn('DOCK'), 'ws-b'), 'not-yours');
    // Nor a user of that workspace.
    await assert.rejects(sut.bindForUser(sn('DOCK'), 'ws-b'), hasKind('WorkspaceForbidden'));
  });

  it('lets a dock bind itself and its own aircraft with a binding code', async () => {
    await sut.updateTopology(sn('DOCK'), withAircraft(sn('AIR')));
    assert.equal((await sut.find(sn('DOCK')))?.workspaceId, null);
    const workspace = await sut.workspaceForBindingCode('code-ws-b', undefined);
    assert.equal(workspace?.id, 'ws-b');
    assert.equal(await sut.bindFromGateway(sn('DOCK'), sn('DOCK'), 'ws-b', { callsign: 'Roof' }), 'bound');
    assert.equal((await sut.find(sn('DOCK')))?.callsign, 'Roof');
    assert.equal((await sut.find(sn('AIR')))?.workspaceId, 'ws-b', 'the aircraft follows its dock');
    const statuses = await sut.bindStatus(sn('DOCK'), [sn('DOCK'), sn('AIR'), 'SOMEONE-ELSE']);
    assert.deepEqual(
      statuses.map((s) => [s.sn, s.workspace?.id]),
      [
        [sn('DOCK'), 'ws-b'],
        [sn('AIR'), 'ws-b'],
        ['SOMEONE-ELSE', undefined],
      ],
    );
  });

  it('refuses a binding code with another workspace’s organization id', async () => {
    assert.equal(await sut.workspaceForBindingCode('code-ws-b', 'ws-a'), undefined);
    assert.equal(await sut.workspaceForBindingCode('no-such-code', undefined), undefined);
    assert.equal(await sut.workspaceForBindingCode(undefined, 'ws-a'), undefined);
  });

  it('binds for a user only a device that connected, in the user’s own workspace', async () => {
    await assert.rejects(sut.bindForUser(sn('RC'), 'ws-a'), hasKind('DeviceNotSeen'));
    await sut.updateTopology(sn('RC'), { domain: 2, type: 144, subType: 0, subDevices: [] });
    await assert.rejects(sut.bindForUser(sn('RC'), 'ws-a', 'ws-b'), hasKind('WorkspaceForbidden'));
    await sut.bindForUser(sn('RC'), 'ws-a');
    assert.equal((await sut.getInWorkspace('ws-a', sn('RC'))).workspaceId, 'ws-a');
    await assert.rejects(sut.getInWorkspace('ws-b', sn('RC')), hasKind('DeviceNotFound'));
    await assert.rejects(sut.unbindInWorkspace('ws-b', sn('RC')), hasKind('DeviceNotFound'));
  });

  it('a failing `bound` listener fails the report, so the device sends it again', async () => {
    sut.events.on('bound', () => Promise.reject(new Error('pending media could not be recorded')));
    await assert.rejects(sut.updateTopology(sn('DOCK'), DOCK, 'ws-a'), /pending media/);
  });

  it('marks a gateway and its aircraft offline and says so', async () => {
    await sut.updateTopology(sn('DOCK'), withAircraft(sn('AIR')), 'ws-a');
    emitted = [];
    await sut.markOffline(sn('DOCK'));
    assert.deepEqual(emitted.map((e) => e.name).sort(), ['offline', 'offline']);
    assert.equal((await sut.find(sn('AIR')))?.online, 0);
    const context = await sut.gatewayContext(sn('DOCK'));
    assert.deepEqual(context, { workspaceId: 'ws-a', subDeviceSn: undefined });
  });
});

function hasKind(kind: string) {
  return (error: unknown) => error instanceof AppError && error.kind === kind;
}
