/**
 * Password hashing for request paths (login): scrypt in a few worker threads of its own, a bounded
 * number at once, behind a bounded queue.
 *
 * Why: a login's scrypt takes 32 MiB and a good fraction of a second of CPU at the default cost. Run
 * with node:crypto's asynchronous `scrypt`, it occupies one of libuv's four threadpool threads, which
 * the object store's file reads and writes also need: 32 concurrent bogus logins once made an S3 PUT
 * take 36 s. Here each worker calls `scryptSync` on its own thread, so the threadpool stays free for
 * file I/O whatever arrives (test/integration/login-flood.test.ts shows both ways).
 *
 * At most `concurrency` hashes run at once (SKYVAULT_PASSWORD_HASH_CONCURRENCY); the others wait in a
 * queue of at most `maxQueued` (SKYVAULT_PASSWORD_HASH_QUEUE). When it is full a new request fails at
 * once with PasswordCheckBusy (HTTP 429 with Retry-After) instead of waiting behind a flood. Requests
 * marked `priority` (a login from an address its account logged in from before: LoginLimiter) wait in
 * a queue of their own that is served first, so known users keep logging in through a flood of
 * strangers.
 *
 * The workers start when first needed and are unreferenced while idle (an idle pool keeps no process
 * alive); `close()` ends them.
 */
import { Worker } from 'node:worker_threads';
import { AppError } from '../../shared/app-error.ts';
import { hashPassword, type ScryptJob, verifyPassword } from '../users/password.ts';

/**
 * The worker's code: plain JavaScript (evaluated, so it needs no TypeScript loader), started without
 * the parent's execArgv (no loader hooks to run, no files to read).
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync } = require('node:crypto');
parentPort.on('message', (job) => {
  try {
    const key = scryptSync(job.password, job.salt, job.keyLength, {
      N: job.N, r: job.r, p: job.p, maxmem: job.maxmem,
    });
    parentPort.postMessage({ key: new Uint8Array(key) });
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  }
});
`;

export interface PasswordHasherOptions {
  /** Hashes run at once, each on a worker thread of its own. */
  concurrency: number;
  /** Requests that may wait for a thread (per queue: normal and priority); more are refused. */
  maxQueued: number;
}

interface Job {
  job: ScryptJob;
  resolve(key: Buffer): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  current: Job | undefined;
  started: number;
}

export class PasswordHasher {
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly slots: Slot[] = [];
  private readonly queued: Job[] = [];
  private readonly queuedFirst: Job[] = [];
  /** Running average of one hash's milliseconds, for Retry-After. */
  private averageMs = 250;
  private closed = false;

  constructor(options: PasswordHasherOptions) {
    this.concurrency = Math.max(1, options.concurrency);
    this.maxQueued = Math.max(0, options.maxQueued);
  }

  /** Checks a password against a stored hash (password.ts's rules), on the pool. */
  verify(password: string, stored: string, options: { priority?: boolean } = {}): Promise<boolean> {
    return verifyPassword(password, stored, { scrypt: (job) => this.run(job, options.priority ?? false) });
  }

  /** A new hash of `password` at `cost`, on the pool (for request paths that set passwords). */
  hash(password: string, cost: number): Promise<string> {
    return hashPassword(password, { cost, scrypt: (job) => this.run(job, false) });
  }

  /** Hashes running and waiting, for logs and tests. */
  get load(): { running: number; queued: number } {
    return {
      running: this.slots.filter((slot) => slot.current).length,
      queued: this.queued.length + this.queuedFirst.length,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const closing = new Error('The password hasher is closing.');
    for (const job of [...this.queuedFirst.splice(0), ...this.queued.splice(0)]) job.reject(closing);
    const slots = this.slots.splice(0);
    for (const slot of slots) slot.current?.reject(closing);
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  /**
   * Throws PasswordCheckBusy when a request would be refused now: lets a caller refuse before the work
   * that comes ahead of hashing (a database lookup), which a flood would otherwise pay for each time.
   */
  checkRoom(options: { priority?: boolean } = {}): void {
    if (!this.hasRoom(options.priority ?? false)) throw this.busy();
  }

  private hasRoom(priority: boolean): boolean {
    if (this.slots.length < this.concurrency || this.slots.some((slot) => !slot.current)) return true;
    return (priority ? this.queuedFirst : this.queued).length < this.maxQueued;
  }

  private run(job: ScryptJob, priority: boolean): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('The password hasher is closed.'));
    if (!this.hasRoom(priority)) return Promise.reject(this.busy());
    const queue = priority ? this.queuedFirst : this.queued;
    return new Promise<Buffer>((resolve, reject) => {
      queue.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  /** PasswordCheckBusy, with about how long the queue ahead takes to drain. */
  private busy(): AppError {
    const { running, queued } = this.load;
    const seconds = Math.max(1, Math.ceil((((running + queued) / this.concurrency) * this.averageMs) / 1000));
    return new AppError('PasswordCheckBusy', undefined, { details: { retry_after: seconds } });
  }

  private dispatch(): void {
    while (this.queuedFirst.length > 0 || this.queued.length > 0) {
      const slot = this.slots.find((s) => !s.current) ?? this.spawn();
      if (!slot) return;
      const next = (this.queuedFirst.shift() ?? this.queued.shift())!;
      slot.current = next;
      slot.started = performance.now();
      slot.worker.ref();
      // A copy of the salt: a small Buffer is a view of a shared pool, which would be cloned whole.
      slot.worker.postMessage({ ...next.job, salt: new Uint8Array(next.job.salt) });
    }
  }

  private spawn(): Slot | undefined {
    if (this.slots.length >= this.concurrency) return undefined;
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], name: 'skyvault-scrypt' });
    const slot: Slot = { worker, current: undefined, started: 0 };
    worker.on('message', (message: { key?: Uint8Array; error?: string }) => {
      const job = slot.current;
      slot.current = undefined;
      worker.unref();
      if (job) {
        this.averageMs = 0.8 * this.averageMs + 0.2 * (performance.now() - slot.started);
        if (message.key) job.resolve(Buffer.from(message.key));
        else job.reject(new Error(`scrypt failed: ${message.error ?? 'unknown error'}`));
      }
      this.dispatch();
    });
    const lost = (error: Error) => {
      const index = this.slots.indexOf(slot);
      if (index === -1) return;
      this.slots.splice(index, 1);
      slot.current?.reject(error);
      slot.current = undefined;
      if (!this.closed) this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the scrypt worker exited (${code})`)));
    this.slots.push(slot);
    return slot;
  }
}
