/**
 * `fileupload_progress` (events, docs/protocol.md §5.5): a dock's progress uploading its logs. The wire
 * is read leniently (dji/log-upload.wire.ts: `prgress`, a missing `total_step` or `result`, `ext` in
 * `data` or in `output`) and handed to the log-task service, which matches it by bid, then by object key.
 * The gateway replies `{result: 0}` when `need_reply` is 1 (mqtt-gateway.ts), matched or not: an event
 * that matches no task would not match on a resend either, so the service logs it instead.
 */
import { parseFileUploadProgress } from '../../dji/log-upload.wire.ts';
import type { LogTaskService } from '../../features/logs/log-task.service.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';

export function fileuploadProgressHandler(deps: { logTasks: LogTaskService }): MethodHandler {
  return {
    family: 'events',
    method: 'fileupload_progress',
    async handle({ sn, envelope }) {
      await deps.logTasks.recordProgress(sn, envelope.bid, parseFileUploadProgress(envelope.data));
      return undefined;
    },
  };
}
