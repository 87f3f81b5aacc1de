import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fileuploadStartData,
  filePercent,
  logTimeMs,
  parseFileUploadList,
  parseFileUploadProgress,
} from '../../src/dji/log-upload.wire.ts';
import { isTerminal, logErrorReason } from '../../src/features/logs/log-model.ts';
import { progressRank, taskStatusOf } from '../../src/features/logs/log-progress.ts';

describe('fileupload_list answers', () => {
  it('reads files beside result, with end_ime, numeric modules and an empty module', () => {
    const parsed = parseFileUploadList({
      result: 0,
      files: [
        {
          device_sn: 'DOCK1',
          module: '3',
          result: 0,
          list: [
            { boot_index: 1111, start_time: 1_638_263_510_000, end_ime: 1_638_263_520_000, size: 12_345 },
            { boot_index: '1112', start_time: 1_638_263_530, end_time: 1_638_263_540, size: '99' },
          ],
        },
        { device_sn: '', module: 0, result: 324015, list: [] },
        { module: '7', list: [{ boot_index: 1 }] },
      ],
    });
    assert.equal(parsed.result, 0);
    assert.deepEqual(parsed.modules, [
      {
        module: '3',
        deviceSn: 'DOCK1',
        result: 0,
        logs: [
          { bootIndex: 1111, size: 12_345, startTime: 1_638_263_510_000, endTime: 1_638_263_520_000 },
          { bootIndex: 1112, size: 99, startTime: 1_638_263_530, endTime: 1_638_263_540 },
        ],
      },
      { module: '0', deviceSn: undefined, result: 324015, logs: [] },
    ]);
  });

  it('reads files inside output too, and survives nonsense', () => {
    const parsed = parseFileUploadList({
      result: 0,
      output: { files: [{ module: '0', list: [{ boot_index: 5 }] }] },
    });
    assert.equal(parsed.modules[0]?.logs[0]?.bootIndex, 5);
    assert.deepEqual(parseFileUploadList(null), { result: 0, modules: [] });
    assert.deepEqual(parseFileUploadList({ files: 'x' }), { result: 0, modules: [] });
  });

  it('reads list times in seconds or milliseconds as ms', () => {
    assert.equal(logTimeMs(1_638_263_530), 1_638_263_530_000);
    assert.equal(logTimeMs(1_638_263_530_000), 1_638_263_530_000);
    assert.equal(logTimeMs(undefined), undefined);
  });
});

describe('fileupload_progress events', () => {
  it('reads the per-file progress, with prgress, without total_step and without result', () => {
    const parsed = parseFileUploadProgress({
      output: {
        status: 'in_progress',
        ext: {
          files: [
            {
              module: '3',
              device_sn: 'DOCK1',
              key: 'ws/logs/abc/dock.tar',
              fingerprint: '4f65b891f3bc09bdb6d4c36a996b532d',
              size: 4096,
              progress: {
                current_step: 2,
                total_step: 3,
                prgress: 50,
                status: 'file_uploading',
                result: 0,
                upload_rate: 12.5,
                finish_time: 0,
              },
            },
            { module: 0, device_sn: '', progress: { current_step: 1, progress: 40, status: 'SENT' } },
          ],
        },
      },
    });
    assert.equal(parsed.result, 0);
    assert.equal(parsed.status, 'in_progress');
    assert.equal(parsed.files[0]?.percent, 50, '((2 − 1) × 100 + 50) / 3');
    assert.equal(parsed.files[0]?.uploadRate, 12.5);
    assert.equal(parsed.files[0]?.key, 'ws/logs/abc/dock.tar');
    assert.equal(parsed.files[1]?.percent, 40, 'without total_step the step progress is the percentage');
    assert.equal(parsed.files[1]?.status, 'sent');
    assert.equal(parsed.files[1]?.deviceSn, undefined);
  });

  it('keeps percentages within 0–100 and knows the terminal statuses', () => {
    assert.equal(filePercent(9, 3, 100), 100);
    assert.equal(filePercent(1, 3, -5), 0);
    assert.equal(filePercent(undefined, undefined, undefined), undefined);
    for (const status of ['ok', 'failed', 'canceled', 'timeout', 'rejected'] as const)
      assert.ok(isTerminal(status));
    for (const status of [
      'file_pull',
      'file_zip',
      'file_uploading',
      'sent',
      'in_progress',
      'paused',
    ] as const)
      assert.ok(!isTerminal(status));
    assert.equal(parseFileUploadProgress({ output: { status: 'weird' } }).status, undefined);
  });

  it('explains the log error codes in plain words, both restart codes included', () => {
    assert.match(logErrorReason(324015) ?? '', /aircraft is off/);
    assert.ok(logErrorReason(324001) && logErrorReason(324021));
    assert.equal(logErrorReason(123456), undefined);
  });

  it('reads `ext` and the status directly in `data` too (an older table, decision §10.37)', () => {
    const parsed = parseFileUploadProgress({
      status: 'file_zip',
      ext: {
        files: [
          { module: 3, progress: { current_step: 2, total_step: 4, progress: 50, status: 'file_zip' } },
        ],
      },
    });
    assert.equal(parsed.status, 'file_zip');
    assert.equal(parsed.files[0]?.module, '3');
    assert.equal(parsed.files[0]?.percent, 37);
  });

  it('orders a file’s progress: steps by percent, then any failure, then ok above all', () => {
    const ranks = [
      progressRank(undefined, undefined),
      progressRank('file_pull', 99),
      progressRank('file_zip', 0),
      progressRank('file_uploading', 10),
      progressRank('in_progress', 11),
      progressRank('timeout', 0),
      progressRank('ok', 0),
    ];
    assert.deepEqual(
      [...ranks].sort((a, b) => a - b),
      ranks,
    );
    assert.equal(progressRank('canceled', 50), progressRank('failed', 0), 'the first end stays');
    assert.equal(progressRank('file_uploading', 250), progressRank('file_uploading', 100), 'clamped');
    assert.deepEqual(
      (['ok', 'canceled', 'failed', 'rejected', 'timeout', 'file_zip'] as const).map(taskStatusOf),
      [2, 3, 4, 4, 4, undefined],
    );
  });

  it('writes fileupload_start with absolute-ms expiry and the boot sessions exactly as listed', () => {
    const data = fileuploadStartData({
      credentials: {
        accessKeyId: 'AK',
        accessKeySecret: 'SK',
        securityToken: 'TOKEN',
        expiresAt: 1_659_432_582_000,
        endpoint: 'https://oss-cn-hangzhou.aliyuncs.com',
        bucket: 'bucket',
        region: 'hz',
        provider: 'ali',
        prefix: 'ws/logs',
      },
      expireAt: 1_659_432_522_000,
      prefix: 'ws/logs',
      files: [
        {
          module: '3',
          objectKey: 'ws/logs/a.tar',
          deviceSn: 'DOCK',
          logs: [{ bootIndex: 321, startTime: 1, endTime: undefined, size: 9 }],
        },
      ],
    });
    assert.deepEqual(data, {
      bucket: 'bucket',
      region: 'hz',
      endpoint: 'https://oss-cn-hangzhou.aliyuncs.com',
      provider: 'ali',
      credentials: {
        access_key_id: 'AK',
        access_key_secret: 'SK',
        security_token: 'TOKEN',
        expire: 1_659_432_522_000,
      },
      file_store_dir: 'ws/logs',
      file_type: 'text_log',
      params: {
        files: [
          {
            module: '3',
            object_key: 'ws/logs/a.tar',
            device_sn: 'DOCK',
            list: [{ boot_index: 321, start_time: 1, size: 9 }],
          },
        ],
      },
    });
  });
});
