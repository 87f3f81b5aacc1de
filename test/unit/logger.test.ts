import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, maskUrlSecrets } from '../../src/shared/logger.ts';

describe('logger', () => {
  it('masks tokens and signatures in URLs', () => {
    assert.equal(
      maskUrlSecrets('/api/v1/ws?x-auth-token=abc.def&x=1'),
      '/api/v1/ws?x-auth-token=[redacted]&x=1',
    );
    assert.equal(
      maskUrlSecrets('/b/k?X-Amz-Signature=ff00&X-Amz-Expires=60'),
      '/b/k?X-Amz-Signature=[redacted]&X-Amz-Expires=60',
    );
    assert.equal(maskUrlSecrets('/plain/path'), '/plain/path');
  });

  it('redacts secret fields that code attaches to a log line', () => {
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({ write: (c, _e, done) => done(void lines.push(String(c))) }),
    );
    logger.info(
      { password: 'hunter2', user: { mqtt_password: 'mq-secret', name: 'bob' }, access_token: 'tok' },
      'x',
    );
    const out = lines.join('');
    for (const secret of ['hunter2', 'mq-secret', 'tok"'])
      assert.ok(!out.includes(secret), `${secret} leaked: ${out}`);
    assert.ok(out.includes('bob'));
  });
});
