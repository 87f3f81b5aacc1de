/**
 * What the web's live updates say (docs/protocol.md §7.5), in the DJI demo's `biz_code`s and snake_case
 * shapes: the services announce domain events, and this module alone turns them into messages for the
 * workspace's WebSocket sessions (live.routes.ts delivers them).
 */
import type { Device, DeviceService } from '../../features/devices/device.service.ts';
import type { LivePublisher } from '../../features/events/live-events.ts';
import type { LogTaskService } from '../../features/logs/log-task.service.ts';
import type { DockMediaService } from '../../features/media/dock-media.service.ts';
import type { MediaService } from '../../features/media/media.service.ts';
import { liveProgressDto } from './manage/device-logs.dto.ts';

/** A device as live updates describe it. */
function liveDevice(d: Device): Record<string, unknown> {
  return {
    sn: d.sn,
    device_model_key: d.modelKey,
    domain: d.domain,
    type: d.type,
    sub_type: d.subType,
    parent_sn: d.parentSn,
    nickname: d.callsign ?? d.sn,
    // DJI's front end labels its map markers with this one.
    device_callsign: d.callsign ?? d.sn,
    online: d.online === 1,
  };
}

/** Publishes the services' events to the web from now on. */
export function connectLiveUpdates(
  live: LivePublisher,
  sources: {
    devices: DeviceService;
    media: MediaService;
    dockMedia: DockMediaService;
    logTasks: LogTaskService;
  },
): void {
  const { devices, media, dockMedia, logTasks } = sources;
  devices.events.on('online', ({ workspaceId, device }) =>
    live.publish(workspaceId, 'device_online', liveDevice(device)),
  );
  devices.events.on('offline', ({ workspaceId, device }) =>
    live.publish(workspaceId, 'device_offline', liveDevice(device)),
  );
  devices.events.on('topology', ({ workspaceId, gateway }) =>
    live.publish(workspaceId, 'device_update_topo', liveDevice(gateway)),
  );
  media.events.on('created', (file) =>
    live.publish(file.workspaceId, 'media_file_created', {
      file_id: file.id,
      name: file.name,
      object_key: file.objectKey,
      source: file.source,
      media_type: file.mediaType,
      drone_sn: file.droneSn,
      file_group_id: file.fileGroupId,
      created_at: file.createdAt,
    }),
  );
  // The demo web's counter of a flight's uploaded media.
  dockMedia.events.on('groupProgress', (p) =>
    live.publish(p.workspaceId, 'file_upload_callback', {
      job_id: p.flightId,
      media_count: p.expected,
      uploaded_count: p.uploaded,
      device_sn: p.droneSn ?? p.gatewaySn,
      gateway_sn: p.gatewaySn,
    }),
  );
  dockMedia.events.on('priorityChanged', (p) =>
    live.publish(p.workspaceId, 'highest_priority_upload_flighttask_media', {
      sn: p.gatewaySn,
      job_id: p.flightId,
      pre_job_id: p.previous ?? null,
    }),
  );
  // A dock's log upload moved (DJI's demo shape, §7.5, plus the task's status and reason).
  logTasks.events.on('progress', ({ workspaceId, task }) =>
    live.publish(workspaceId, 'fileupload_progress', liveProgressDto(task)),
  );
}
