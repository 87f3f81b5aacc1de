/**
 * `storage_config_get` (requests, dji-protocol.md §4.1): upload credentials for the media prefix of the
 * gateway's workspace, the same object as Pilot's HTTP `sts`. An unbound gateway gets a non-zero result
 * (no workspace, no prefix to scope credentials to).
 */
import type { DeviceService } from '../../features/devices/device.service.ts';
import type { MediaService } from '../../features/media/media.service.ts';
import type { Logger } from '../../shared/logger.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';

/** DJI-style result for "this gateway is not bound to a workspace". */
export const RESULT_NOT_BOUND = 314001;

export function storageConfigGetHandler(deps: {
  devices: DeviceService;
  media: MediaService;
  /** The host name devices reach Skyvault at (storage endpoint). */
  publicHostname: () => string | undefined;
  logger: Logger;
}): MethodHandler {
  return {
    family: 'requests',
    method: 'storage_config_get',
    async handle({ sn }) {
      const workspaceId = await deps.devices.workspaceOf(sn);
      if (!workspaceId) {
        deps.logger.warn({ gatewaySn: sn }, 'storage_config_get from a gateway bound to no workspace');
        return { result: RESULT_NOT_BOUND, output: {} };
      }
      const c = await deps.media.uploadCredentials(workspaceId, deps.publicHostname());
      return {
        result: 0,
        output: {
          bucket: c.bucket,
          credentials: {
            access_key_id: c.accessKeyId,
            access_key_secret: c.accessKeySecret,
            security_token: c.securityToken,
            expire: c.announcedExpireSeconds,
          },
          endpoint: c.endpoint,
          object_key_prefix: c.prefix,
          provider: c.provider,
          region: c.region,
        },
      };
    },
  };
}
