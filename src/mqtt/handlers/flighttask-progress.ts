/**
 * `flighttask_progress` (events): a wayline task's progress. Only what the media library needs is read:
 * `output.ext.media_count`, how many media the flight produced, becomes the file group's expected count
 * (decision §10.29: keyed by flight id, `output.ext.flight_id` or else the message's bid, as DJI's demo
 * starts tasks with bid = flight id; uploads may be reported before the count is known).
 */
import type { DockMediaService } from '../../features/media/dock-media.service.ts';
import { integer, isRecord, text } from '../../dji/values.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';

export function flighttaskProgressHandler(deps: { dockMedia: DockMediaService }): MethodHandler {
  return {
    family: 'events',
    method: 'flighttask_progress',
    async handle({ sn, envelope }) {
      // `ext` sits in `output` in DJI's examples, directly in `data` in one table: read either.
      const output = isRecord(envelope.data.output) ? envelope.data.output : {};
      const ext = isRecord(output.ext) ? output.ext : isRecord(envelope.data.ext) ? envelope.data.ext : {};
      const mediaCount = integer(ext.media_count);
      const flightId = text(ext.flight_id) ?? text(envelope.bid);
      if (mediaCount !== undefined && mediaCount > 0 && flightId) {
        await deps.dockMedia.expectMedia(sn, flightId, mediaCount);
      }
      return undefined;
    },
  };
}
