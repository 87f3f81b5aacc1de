/**
 * Live updates for the web (docs/protocol.md §7.5): services publish `{biz_code, data}` for a workspace;
 * the WebSocket route hands them to that workspace's open sessions. On one instance this is an in-process
 * emitter. On PostgreSQL every message goes through NOTIFY on one channel and each instance delivers what
 * it hears (its own messages included), so a browser connected to any instance sees events handled by
 * any other.
 */
import { EventEmitter } from 'node:events';
import { type Kysely, sql } from 'kysely';
// Imported by start() on PostgreSQL only: the SQLite default does not load pg.
import type pg from 'pg';
import type { DB } from '../../db/schema.ts';
import type { Logger } from '../../shared/logger.ts';

/** What a browser receives (DJI demo web socket message). */
export interface LiveMessage {
  biz_code: string;
  version: '1.0';
  timestamp: number;
  data: unknown;
}

/** One message in a NOTIFY payload. */
interface Notified {
  workspaceId: string;
  message: LiveMessage;
}

export type LiveListener = (message: LiveMessage) => void;

const CHANNEL = 'skyvault_live';
/** PostgreSQL's NOTIFY payload limit is 8000 bytes; larger messages are delivered on this instance only. */
const MAX_NOTIFY_BYTES = 7900;

export interface LiveEventsOptions {
  logger: Logger;
  now?: () => number;
  /**
   * PostgreSQL: fan out across instances, LISTENing on a connection of its own to `url` and sending
   * NOTIFY through `notifier`. That is Database.background: a NOTIFY takes a transaction id, so its commit
   * would wait for the WAL flush like a write, and a live update lost in a database crash is harmless.
   */
  postgres?: { url: string; notifier: Kysely<DB> } | undefined;
}

export class LiveEvents {
  private readonly emitter = new EventEmitter();
  private pg: typeof pg | undefined;
  private listener: pg.Client | undefined;
  private notifier: Kysely<DB> | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** Published messages not sent to PostgreSQL yet, and the sending under way. */
  private readonly outbox: { entry: string; workspaceId: string; message: LiveMessage }[] = [];
  private sending: Promise<void> | undefined;

  constructor(private readonly options: LiveEventsOptions) {
    this.now = options.now ?? Date.now;
    // One listener per open browser session; the count is bounded by sessions, not a leak.
    this.emitter.setMaxListeners(0);
  }

  async start(): Promise<void> {
    if (!this.options.postgres) return;
    this.pg = (await import('pg')).default;
    this.notifier = this.options.postgres.notifier;
    await this.listen();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.outbox.length = 0;
    clearTimeout(this.retry);
    this.emitter.removeAllListeners();
    await this.sending;
    await this.listener?.end().catch(() => {});
  }

  /** Sends `data` under `bizCode` to the workspace's sessions, on every instance. */
  publish(workspaceId: string, bizCode: string, data: unknown): void {
    const message: LiveMessage = { biz_code: bizCode, version: '1.0', timestamp: this.now(), data };
    const entry = JSON.stringify({ workspaceId, message });
    // Room for the brackets of the array it is sent in.
    if (!this.notifier || Buffer.byteLength(entry) + 2 > MAX_NOTIFY_BYTES) {
      this.deliver(workspaceId, message);
      return;
    }
    // While LISTEN is down this instance would not hear its own NOTIFY: deliver here, too.
    if (!this.listener) this.deliver(workspaceId, message);
    this.outbox.push({ entry, workspaceId, message });
    this.sending ??= this.send();
  }

  /**
   * Sends what was published, in order, as few NOTIFYs as their size allows (each a JSON array), in one
   * statement, one statement at a time: under load, what is published while one is on its way goes in
   * the next, instead of a statement per message (two per dock event) queueing for the pool's
   * connections.
   */
  private async send(): Promise<void> {
    // Lets the rest of the current event's messages join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.outbox.length > 0 && this.notifier) {
      const batch = this.outbox.splice(0, this.outbox.length);
      const payloads: string[] = [];
      let current: string[] = [];
      let bytes = 2;
      for (const { entry } of batch) {
        const size = Buffer.byteLength(entry) + 1;
        if (current.length > 0 && bytes + size > MAX_NOTIFY_BYTES) {
          payloads.push(`[${current.join(',')}]`);
          current = [];
          bytes = 2;
        }
        current.push(entry);
        bytes += size;
      }
      payloads.push(`[${current.join(',')}]`);
      const calls = sql.join(payloads.map((payload) => sql`pg_notify(${CHANNEL}, ${payload})`));
      try {
        await sql`SELECT ${calls}`.execute(this.notifier);
      } catch (error) {
        this.options.logger.warn(
          { err: error, messages: batch.length },
          'live updates not sent to other instances',
        );
        for (const { workspaceId, message } of batch) this.deliver(workspaceId, message);
      }
    }
    this.sending = undefined;
  }

  /** Calls `listener` with the workspace's messages until the returned function is called. */
  subscribe(workspaceId: string, listener: LiveListener): () => void {
    this.emitter.on(workspaceId, listener);
    return () => this.emitter.off(workspaceId, listener);
  }

  private deliver(workspaceId: string, message: LiveMessage): void {
    this.emitter.emit(workspaceId, message);
  }

  /** LISTEN on a dedicated connection; reconnects (1 s, doubling to 30 s) when it drops. */
  private async listen(delayMs = 1000): Promise<void> {
    const client = new this.pg!.Client({ connectionString: this.options.postgres!.url });
    client.on('notification', (n) => {
      if (n.channel !== CHANNEL || !n.payload) return;
      try {
        // An array of messages; a single one from an instance of an earlier version.
        const parsed = JSON.parse(n.payload) as Notified | Notified[];
        for (const { workspaceId, message } of Array.isArray(parsed) ? parsed : [parsed]) {
          this.deliver(workspaceId, message);
        }
      } catch (error) {
        this.options.logger.warn({ err: error }, 'unreadable live update notification');
      }
    });
    client.on('error', (error) => {
      this.options.logger.warn({ err: error.message }, 'live updates: PostgreSQL LISTEN connection lost');
    });
    const again = () => {
      if (this.closed) return;
      this.retry = setTimeout(() => void this.listen(Math.min(delayMs * 2, 30_000)).catch(() => {}), delayMs);
      this.retry.unref();
    };
    client.on('end', () => {
      if (this.closed || this.listener !== client) return;
      this.listener = undefined;
      again();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      if (this.closed) {
        await client.end().catch(() => {});
        return;
      }
      this.listener = client;
    } catch (error) {
      await client.end().catch(() => {});
      if (this.closed) return;
      this.options.logger.warn({ err: error }, 'live updates: cannot LISTEN on PostgreSQL; retrying');
      again();
    }
  }
}

/** What services need to announce something to the web: publish only. */
export interface LivePublisher {
  publish(workspaceId: string, bizCode: string, data: unknown): void;
}
