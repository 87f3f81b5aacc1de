/**
 * `storage_config_get` (requests, docs/protocol.md §4.1): upload credentials for the media prefix of the
 * gateway's workspace, the same object as Pilot's HTTP `sts`. `module` 0 (media) is the only one DJI
 * defines; a missing one means media, any other gets StorageModuleUnsupported's result rather than media
 * credentials it did not ask for. An unbound gateway gets GatewayNotBound's result (no workspace, no
 * prefix to scope credentials to).
 */
import type { DeviceService } from '../../features/devices/device.service.ts';
import type { MediaService } from '../../features/media/media.service.ts';
import { AppError } from '../../shared/app-error.ts';
import { integer } from '../../dji/values.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';

const MEDIA_MODULE = 0;

export function storageConfigGetHandler(deps: {
  devices: DeviceService;
  media: MediaService;
}): MethodHandler {
  return {
    family: 'requests',
    method: 'storage_config_get',
    async handle({ sn, envelope }) {
      const module = envelope.data.module;
      if (module !== undefined && module !== null && integer(module) !== MEDIA_MODULE) {
        throw new AppError('StorageModuleUnsupported');
      }
      const workspaceId = await deps.devices.workspaceOf(sn);
      if (!workspaceId) throw new AppError('GatewayNotBound');
      const c = await deps.media.uploadCredentials(workspaceId, undefined);
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
