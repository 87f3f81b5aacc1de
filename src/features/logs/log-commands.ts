/**
 * What the log-task service asks of a dock (docs/protocol.md §5.3, §5.4, §5.6), in the log model's
 * terms: the MQTT side (mqtt/log-commands.ts) writes and reads DJI's wire. Each resolves with the dock's
 * `result` (0 = done) and rejects with DeviceNoReply when the dock does not answer.
 */
import type { LogModule, ModuleLogs, UploadOrder } from './log-model.ts';

export interface LogCommands {
  /** `fileupload_list`: the logs the dock holds for these modules. */
  list(gatewaySn: string, modules: LogModule[]): Promise<{ result: number; modules: ModuleLogs[] }>;
  /** `fileupload_start`, with `bid` the task's id (kept across resends, decision §10.40). */
  start(gatewaySn: string, bid: string, order: UploadOrder): Promise<number>;
  /** `fileupload_update` with status cancel for these modules. */
  cancel(gatewaySn: string, modules: LogModule[]): Promise<number>;
}
