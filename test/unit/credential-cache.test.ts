/**
 * When Skyvault calls a provider's STS (src/storage/credential-cache.ts): once per scope while half
 * the credentials' lifetime is left, one call for concurrent requests, and a lifetime clamped to
 * 3600 s, with one warning, when the provider refuses SKYVAULT_CREDENTIAL_TTL as above the role's
 * maximum. The refusals are recognised as AWS and Aliyun word them.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { isAliyunDurationRefused } from '../../src/storage/ali/aliyun-sts.ts';
import { type AssumeRoleRequest, CredentialCache } from '../../src/storage/credential-cache.ts';
import { isAwsDurationRefused } from '../../src/storage/s3/sts-credentials.ts';
import { createLogger } from '../../src/shared/logger.ts';

function cacheWith(options: { maxDuration?: number; refusal?: () => Error } = {}) {
  const clock = { now: 1_000_000 };
  const calls: AssumeRoleRequest[] = [];
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const cache = new CredentialCache({
    assume: async (request) => {
      calls.push(request);
      if (options.maxDuration !== undefined && request.ttlSeconds > options.maxDuration) {
        throw options.refusal!();
      }
      return {
        accessKeyId: `AK${calls.length}`,
        secretAccessKey: 'secret',
        sessionToken: 'token',
        expiresAt: clock.now + request.ttlSeconds * 1000,
      };
    },
    isDurationRefused: (e) => isAwsDurationRefused(e) || isAliyunDurationRefused(e),
    logger: createLogger('warn', sink),
    now: () => clock.now,
  });
  return { cache, clock, calls, lines };
}

describe('upload credentials from STS', () => {
  it('are reused per scope until half their lifetime is gone, then renewed', async () => {
    const { cache, clock, calls } = cacheWith();
    const first = await cache.credentials('ws1/media', ['put', 'get'], 3600);
    assert.equal((await cache.credentials('ws1/media', ['get', 'put'], 3600)).accessKeyId, first.accessKeyId);
    assert.notEqual(
      (await cache.credentials('ws2/media', ['put', 'get'], 3600)).accessKeyId,
      first.accessKeyId,
    );
    assert.notEqual((await cache.credentials('ws1/media', ['put'], 3600)).accessKeyId, first.accessKeyId);
    clock.now += 1799_000;
    assert.equal((await cache.credentials('ws1/media', ['put', 'get'], 3600)).accessKeyId, first.accessKeyId);
    clock.now += 2_000;
    assert.notEqual(
      (await cache.credentials('ws1/media', ['put', 'get'], 3600)).accessKeyId,
      first.accessKeyId,
    );
    assert.equal(calls.length, 4);
    assert.match(calls[0]!.sessionName, /^skyvault-[0-9a-f]{12}$/);
  });

  it('come from one STS call for concurrent requests of one scope', async () => {
    const { cache, calls } = cacheWith();
    const all = await Promise.all(
      Array.from({ length: 20 }, () => cache.credentials('ws1/media', ['put', 'get'], 3600)),
    );
    assert.equal(new Set(all.map((c) => c.accessKeyId)).size, 1);
    assert.equal(calls.length, 1);
  });

  for (const [provider, refusal] of [
    [
      'AWS',
      () =>
        Object.assign(
          new Error('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.'),
          {
            name: 'ValidationError',
          },
        ),
    ],
    [
      'Aliyun',
      () =>
        Object.assign(
          new Error('InvalidParameter.DurationSeconds: The Min/Max value of DurationSeconds is 15min/1hr.'),
          {
            code: 'InvalidParameter.DurationSeconds',
            status: 400,
          },
        ),
    ],
  ] as const) {
    it(`last 3600 s, said once, when ${provider} refuses a longer lifetime`, async () => {
      const { cache, calls, lines } = cacheWith({ maxDuration: 3600, refusal });
      const issued = await cache.credentials('ws1/media', ['put'], 43_200);
      assert.equal(issued.expiresAt - 1_000_000, 3600_000);
      assert.deepEqual(
        calls.map((c) => c.ttlSeconds),
        [43_200, 3600],
      );
      assert.equal(cache.ttlFor(43_200), 3600);
      await cache.credentials('ws2/media', ['put'], 43_200);
      assert.deepEqual(
        calls.map((c) => c.ttlSeconds),
        [43_200, 3600, 3600],
      );
      assert.equal(lines.filter((l) => /upload credentials last 3600 s/.test(l)).length, 1);
    });
  }

  it('fail as STS failed for any other refusal, and are asked again next time', async () => {
    const { cache, calls } = cacheWith({
      maxDuration: 0,
      refusal: () => Object.assign(new Error('not authorized'), { name: 'AccessDenied' }),
    });
    await assert.rejects(cache.credentials('ws1/media', ['put'], 3600), /not authorized/);
    await assert.rejects(cache.credentials('ws1/media', ['put'], 3600), /not authorized/);
    assert.equal(calls.length, 2);
  });
});
