/**
 * The ordering rules of a log upload's progress (docs/protocol.md §5.2, §5.5), as pure functions.
 * MQTT events are delivered at least once and, with several instances, possibly out of order: a file's
 * progress is kept only when it moves forward. Its `rank` orders what a dock can say about one file:
 * pulling < compressing < uploading (each by percent) < a terminal failure (failed, rejected, canceled,
 * timeout) < ok. A terminal `ok` always wins: the file is in storage, even after Skyvault timed the task
 * out or the user cancelled and the dock did not honour it. Among failures the first one stays.
 */
import type { LogTaskStatus } from '../../db/schema.ts';
import type { UploadStatus } from './log-model.ts';

export const RANK_FAILED = 8000;
export const RANK_OK = 9000;

/** The running statuses, in the order a dock goes through them. */
const PHASE: Partial<Record<UploadStatus, number>> = {
  sent: 1,
  file_pull: 1,
  file_zip: 2,
  file_uploading: 3,
  in_progress: 3,
  paused: 3,
};

/** Where a file's reported progress stands; 0 for a report without a status. */
export function progressRank(status: UploadStatus | undefined, percent: number | undefined): number {
  if (status === undefined) return 0;
  if (status === 'ok') return RANK_OK;
  const phase = PHASE[status];
  if (phase === undefined) return RANK_FAILED;
  return phase * 1000 + Math.max(0, Math.min(100, percent ?? 0));
}

/** DJI's task status for a terminal upload status (§5.1); undefined while it runs. */
export function taskStatusOf(status: UploadStatus | undefined): LogTaskStatus | undefined {
  switch (status) {
    case 'ok':
      return 2;
    case 'canceled':
      return 3;
    case 'failed':
    case 'rejected':
    case 'timeout':
      return 4;
    default:
      return undefined;
  }
}
