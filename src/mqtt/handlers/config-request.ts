/**
 * The dock's `config` request (docs/protocol.md Appendix B): the licence parameters of the operator's DJI
 * developer app and an NTP server, asked before binding; without them the dock disconnects. The docs put
 * the fields directly in `data`, DJI's demo under `output`: both are sent.
 */
import type { Logger } from '../../shared/logger.ts';
import type { MethodHandler } from '../mqtt-gateway.ts';

export interface DjiAppConfig {
  appId: string | undefined;
  appKey: string | undefined;
  appLicense: string | undefined;
  ntpServerHost: string;
  ntpServerPort: number;
}

export function configHandler(deps: { app: DjiAppConfig; logger: Logger }): MethodHandler {
  return {
    family: 'requests',
    method: 'config',
    async handle({ sn }) {
      const { app } = deps;
      if (!app.appId || !app.appKey || !app.appLicense) {
        deps.logger.warn(
          { gatewaySn: sn },
          'a dock asked for its licence parameters, but SKYVAULT_DJI_APP_ID, _APP_KEY and _APP_LICENSE are not all set: it will disconnect',
        );
      }
      const fields = {
        app_id: app.appId ?? '',
        app_key: app.appKey ?? '',
        app_license: app.appLicense ?? '',
        ntp_server_host: app.ntpServerHost,
        ntp_server_port: app.ntpServerPort,
      };
      return { result: 0, output: fields, ...fields };
    },
  };
}
