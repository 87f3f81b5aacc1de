/**
 * `file_upload_callback` (events, need_reply 1; docs/protocol.md §4.2): the dock uploaded a file. Recorded
 * through the same media service as Pilot's callback; acknowledged once handled, including reports the
 * media service refuses (logged) and failed uploads (kept as failures), never dropped for a gateway that
 * looks offline. A transient failure throws: no acknowledgement, so the dock resends.
 */
import type { DockMediaService } from '../../features/media/dock-media.service.ts';
import type { Logger } from '../../shared/logger.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';
import { dockUploadReportOf } from './dock-media.wire.ts';

export function fileUploadCallbackHandler(deps: {
  dockMedia: DockMediaService;
  logger: Logger;
}): MethodHandler {
  return {
    family: 'events',
    method: 'file_upload_callback',
    async handle({ sn, envelope }) {
      const report = dockUploadReportOf(envelope.data);
      if (!report.ok) {
        deps.logger.warn(
          { gatewaySn: sn, tid: envelope.tid },
          `file_upload_callback ignored: ${report.reason}`,
        );
        return undefined;
      }
      await deps.dockMedia.recordUpload(sn, report.value);
      return undefined;
    },
  };
}
