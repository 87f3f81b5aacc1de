/**
 * The `log_tasks` and `log_task_files` tables (migration 0008). SQL only; the rules are LogTaskService's.
 * Every state change is one conditional UPDATE, so instances that handle one dock's events concurrently,
 * or a progress event racing the silence timeout, agree without locks held across round trips:
 * - a file's progress is written only when its `rank` moves forward (log-progress.ts);
 * - a task ends once (`status = 1` in the WHERE), except that `ok` replaces any end;
 * - the timeout takes overdue tasks with one UPDATE … RETURNING: each row is returned to one instance.
 */
import { type Kysely, type Selectable, sql } from 'kysely';
import type { DB, LogTaskFilesTable, LogTasksTable, LogTaskStatus } from '../../db/schema.ts';
import type { DeviceLog, LogModule } from './log-model.ts';
import { RANK_FAILED, RANK_OK } from './log-progress.ts';

export type LogTask = Selectable<LogTasksTable>;
export type LogTaskFile = Selectable<LogTaskFilesTable>;

/** The boot sessions chosen for a file, as stored (`boot_logs`, JSON of the log model's DeviceLog). */
export function bootLogsOf(file: Pick<LogTaskFile, 'bootLogs'>): DeviceLog[] {
  return JSON.parse(file.bootLogs) as DeviceLog[];
}

export interface FileProgressUpdate {
  status: string;
  rank: number;
  percent: number;
  currentStep: number | null;
  totalStep: number | null;
  uploadRate: number | null;
  result: number;
  reportedKey: string | undefined;
  size: number | undefined;
  fingerprint: string | undefined;
  finishTime: number | undefined;
}

export interface HistoryFilter {
  status?: LogTaskStatus | undefined;
  /** Created at or after / before, epoch ms. */
  createdFrom?: number | undefined;
  createdTo?: number | undefined;
  /** Substring of the description, case-insensitive. */
  text?: string | undefined;
}

export class LogTaskRepo {
  constructor(private readonly db: Kysely<DB>) {}

  async insert(task: LogTask, files: LogTaskFile[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('logTasks').values(task).execute();
      await trx.insertInto('logTaskFiles').values(files).execute();
    });
  }

  /** Removes the task and its files' rows. */
  async delete(taskId: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('logTaskFiles').where('taskId', '=', taskId).execute();
      await trx.deleteFrom('logTasks').where('id', '=', taskId).execute();
    });
  }

  find(taskId: string): Promise<LogTask | undefined> {
    return this.db.selectFrom('logTasks').selectAll().where('id', '=', taskId).executeTakeFirst();
  }

  /** The gateway's task whose file has `key` as its assigned key, else as the key the dock reported. */
  async findByKey(gatewaySn: string, key: string): Promise<LogTask | undefined> {
    for (const column of ['objectKey', 'reportedKey'] as const) {
      const task = await this.db
        .selectFrom('logTaskFiles as f')
        .innerJoin('logTasks as t', 't.id', 'f.taskId')
        .selectAll('t')
        .where(`f.${column}`, '=', key)
        .where('t.gatewaySn', '=', gatewaySn)
        .executeTakeFirst();
      if (task) return task;
    }
    return undefined;
  }

  async filesOf(taskIds: string[]): Promise<LogTaskFile[]> {
    if (taskIds.length === 0) return [];
    return this.db
      .selectFrom('logTaskFiles')
      .selectAll()
      .where('taskId', 'in', taskIds)
      .orderBy('module', 'desc')
      .execute();
  }

  /** Writes one file's progress if it moves the file forward; the file as written, else undefined. */
  applyFileProgress(
    taskId: string,
    module: LogModule,
    p: FileProgressUpdate,
    now: number,
  ): Promise<LogTaskFile | undefined> {
    return (
      this.db
        .updateTable('logTaskFiles')
        .set({
          status: p.status,
          rank: p.rank,
          percent: p.percent,
          currentStep: p.currentStep,
          totalStep: p.totalStep,
          uploadRate: p.uploadRate,
          result: p.result,
          updatedAt: now,
          ...(p.reportedKey === undefined ? {} : { reportedKey: p.reportedKey }),
          ...(p.size === undefined ? {} : { size: p.size }),
          ...(p.fingerprint === undefined ? {} : { fingerprint: p.fingerprint }),
          ...(p.finishTime === undefined ? {} : { finishTime: p.finishTime }),
        })
        .where('taskId', '=', taskId)
        .where('module', '=', module)
        // Only forward (log-progress.ts); a repeat of a running step may refresh its rate, an end never.
        .where('rank', p.rank < RANK_FAILED ? '<=' : '<', p.rank)
        .returningAll()
        .executeTakeFirst()
    );
  }

  /** Whether every file of the task is uploaded. */
  async allFilesOk(taskId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('logTaskFiles')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('taskId', '=', taskId)
      .where('rank', '<', RANK_OK)
      .executeTakeFirstOrThrow();
    return Number(row.n) === 0;
  }

  /** Done (every file in storage): replaces any earlier end. Whether the task changed. */
  async markDone(taskId: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('logTasks')
      .set({ status: 2, uploadStatus: 'ok', result: 0, failure: null, updatedAt: now, finishedAt: now })
      .where('id', '=', taskId)
      .where('status', '<>', 2)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Canceled or failed, once: only a task still uploading ends. Whether it did. */
  async markEnded(
    taskId: string,
    end: { status: 3 | 4; uploadStatus: string; result: number; failure: string | null },
    now: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('logTasks')
      .set({ ...end, updatedAt: now, finishedAt: now })
      .where('id', '=', taskId)
      .where('status', '=', 1)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** The dock spoke about an open task: record its status and push the silence deadline back. */
  async touch(
    taskId: string,
    uploadStatus: string | undefined,
    deadlineAt: number,
    now: number,
  ): Promise<void> {
    await this.db
      .updateTable('logTasks')
      .set({ deadlineAt, updatedAt: now, ...(uploadStatus ? { uploadStatus } : {}) })
      .where('id', '=', taskId)
      .where('status', '=', 1)
      .execute();
  }

  /** Files of an ended task that had not ended themselves take its end (`timeout`, `failed`…). */
  async endOpenFiles(taskIds: string[], status: string, now: number): Promise<void> {
    if (taskIds.length === 0) return;
    await this.db
      .updateTable('logTaskFiles')
      .set({ status, rank: RANK_FAILED, updatedAt: now })
      .where('taskId', 'in', taskIds)
      .where('rank', '<', RANK_FAILED)
      .execute();
  }

  /**
   * Fails every open task whose deadline passed, and returns them: one statement, so with several
   * instances each overdue task is returned to exactly one.
   */
  async expireOverdue(now: number, failure: string): Promise<LogTask[]> {
    const expired = await this.db
      .updateTable('logTasks')
      .set({ status: 4, uploadStatus: 'timeout', failure, updatedAt: now, finishedAt: now })
      .where('status', '=', 1)
      .where('deadlineAt', '<=', now)
      .returningAll()
      .execute();
    await this.endOpenFiles(
      expired.map((t) => t.id),
      'timeout',
      now,
    );
    return expired;
  }

  /** The soonest deadline of an open task, if any. */
  async nextDeadline(): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('logTasks')
      .select((eb) => eb.fn.min('deadlineAt').as('next'))
      .where('status', '=', 1)
      .executeTakeFirst();
    return row?.next === null || row?.next === undefined ? undefined : Number(row.next);
  }

  /** One page of a gateway's tasks in a workspace, newest first. */
  async listForGateway(
    workspaceId: string,
    gatewaySn: string,
    filter: HistoryFilter,
    page: { offset: number; limit: number },
  ): Promise<{ items: LogTask[]; total: number }> {
    let query = this.db
      .selectFrom('logTasks')
      .where('workspaceId', '=', workspaceId)
      .where('gatewaySn', '=', gatewaySn);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.createdFrom !== undefined) query = query.where('createdAt', '>=', filter.createdFrom);
    if (filter.createdTo !== undefined) query = query.where('createdAt', '<=', filter.createdTo);
    if (filter.text) {
      const pattern = `%${filter.text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query = query.where(sql<boolean>`lower(description) like ${pattern} escape '\\'`);
    }
    const [items, count] = await Promise.all([
      query
        .selectAll()
        .orderBy('createdAt', 'desc')
        .orderBy('id')
        .offset(page.offset)
        .limit(page.limit)
        .execute(),
      query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { items, total: Number(count.n) };
  }
}
