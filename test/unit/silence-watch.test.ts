import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SilenceWatch } from '../../src/features/logs/silence-watch.ts';
import { createLogger } from '../../src/shared/logger.ts';

describe('SilenceWatch', () => {
  it('looks at start, keeps the earliest wake-up, and looks again at the deadline a look returns', async () => {
    const looks: number[] = [];
    const started = Date.now();
    let nextDeadline: number | undefined;
    const watch = new SilenceWatch({
      look: async () => {
        looks.push(Date.now() - started);
        const next = nextDeadline;
        nextDeadline = undefined;
        return next;
      },
      logger: createLogger('silent'),
      now: Date.now,
    });
    watch.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(looks.length, 1, 'one look at start');

    watch.wakeBy(Date.now() + 200);
    watch.wakeBy(Date.now() + 20_000); // a later task must not postpone the earlier deadline
    nextDeadline = Date.now() + 400;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    watch.close();
    assert.equal(looks.length, 3, `looks at ${looks.join(', ')} ms`);
    assert.ok(looks[1]! >= 200 && looks[1]! < 1000, `second look at ${looks[1]} ms`);
    assert.ok(looks[2]! >= 400, `third look at ${looks[2]} ms, after the deadline the look returned`);
  });

  it('does nothing once closed', async () => {
    let looks = 0;
    const watch = new SilenceWatch({
      look: async () => {
        looks += 1;
        return undefined;
      },
      logger: createLogger('silent'),
      now: Date.now,
    });
    watch.start();
    watch.close();
    watch.wakeBy(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(looks, 0);
  });
});
