/**
 * When to look for silent log uploads (log-task.service.ts): at start, at the soonest deadline any look
 * found or any new task set, and at least every MAX_WAIT_MS, since tasks started on other instances set
 * deadlines this one does not hear about. One timer; an earlier wake-up request replaces a later one,
 * never the reverse. The look itself (which tasks are overdue) is the database's decision.
 */
import type { Logger } from '../../shared/logger.ts';

const MAX_WAIT_MS = 30_000;
/** Looked for a little after a deadline, so that it has passed when the database compares. */
const AFTER_DEADLINE_MS = 50;

export class SilenceWatch {
  private timer: NodeJS.Timeout | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  private running = false;

  constructor(
    private readonly options: {
      /** Fails what is overdue; resolves with the soonest deadline still open, if any. */
      look: () => Promise<number | undefined>;
      logger: Logger;
      now: () => number;
    },
  ) {}

  /** Looks at once (tasks a stopped instance left open included), then as deadlines come. */
  start(): void {
    this.running = true;
    this.wakeBy(this.options.now());
  }

  close(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.wakeAt = Number.POSITIVE_INFINITY;
  }

  /** Makes sure a look happens by `deadline` (a little after it). */
  wakeBy(deadline: number): void {
    if (!this.running) return;
    const now = this.options.now();
    const at = Math.min(deadline + AFTER_DEADLINE_MS, now + MAX_WAIT_MS);
    if (at >= this.wakeAt) return;
    clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = setTimeout(() => void this.look(), Math.max(0, at - now));
    this.timer.unref();
  }

  private async look(): Promise<void> {
    this.wakeAt = Number.POSITIVE_INFINITY;
    let next: number | undefined;
    try {
      next = await this.options.look();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not check log uploads for silence; retrying');
    }
    this.wakeBy(next ?? Number.POSITIVE_INFINITY);
  }
}
