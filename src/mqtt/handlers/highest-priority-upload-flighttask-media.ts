/**
 * `highest_priority_upload_flighttask_media` (events, need_reply 1; docs/protocol.md §4.3): the dock now
 * uploads this flight's media first. Recorded on the file group, the first event included (the DJI demo
 * crashes on it, decision §10.28).
 */
import type { DockMediaService } from '../../features/media/dock-media.service.ts';
import type { Logger } from '../../shared/logger.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';
import { flightIdOf } from './dock-media.wire.ts';

export function highestPriorityUploadHandler(deps: {
  dockMedia: DockMediaService;
  logger: Logger;
}): MethodHandler {
  return {
    family: 'events',
    method: 'highest_priority_upload_flighttask_media',
    async handle({ sn, envelope }) {
      const flightId = flightIdOf(envelope.data);
      if (!flightId.ok) {
        deps.logger.warn(
          { gatewaySn: sn },
          `highest_priority_upload_flighttask_media ignored: ${flightId.reason}`,
        );
        return undefined;
      }
      await deps.dockMedia.prioritize(sn, flightId.value);
      return undefined;
    },
  };
}
