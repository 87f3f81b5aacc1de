/**
 * The DJI Pilot 2 H5 page (docs/pilot.md, docs/protocol.md §8): `GET /pilot` is the URL an operator types
 * into Pilot 2's "Cloud Service → Open Platforms". The page is static (src/http/pilot/: one HTML file with
 * its CSS, one plain script) and drives `window.djiBridge`. `GET /api/v1/pilot/setup` hands a logged-in
 * user what the page passes to the bridge: the DJI app licence and the addresses this client should use.
 */
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config/config.ts';
import type { UserService } from '../../features/users/user.service.ts';
import { Envelope, ErrorResponses, ok } from '../envelope.ts';
import { claimsOf } from '../plugins/auth.ts';
import type { PublicAddresses } from '../public-address.ts';
import { packagePath } from '../../shared/package-root.ts';

export interface PilotPageRoutesOptions {
  config: Config;
  users: UserService;
  addresses: PublicAddresses;
}

const asset = (name: string) => readFileSync(packagePath('src', 'http', 'pilot', name), 'utf8');

// The page's script comes from this origin only; styles are inline; calls go to this origin only.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PilotSetupDto = Type.Object({
  app_id: Type.String({ description: 'DJI app id (SKYVAULT_DJI_APP_ID); empty when not configured' }),
  app_key: Type.String({ description: 'DJI app key (SKYVAULT_DJI_APP_KEY); empty when not configured' }),
  app_license: Type.String({
    description: 'DJI app licence (SKYVAULT_DJI_APP_LICENSE); empty when not configured',
  }),
  platform_name: Type.String(),
  workspace_name: Type.String(),
  workspace_desc: Type.String(),
  api_host: Type.String({ description: 'the base URL for the JSBridge api component' }),
  mqtt_host: Type.String({ description: 'the MQTT address for the JSBridge thing component' }),
  ws_host: Type.String({ description: 'the WebSocket URL for the JSBridge ws component' }),
});

export const pilotPageRoutes: FastifyPluginAsyncTypebox<PilotPageRoutesOptions> = async (
  app,
  { config, users, addresses },
) => {
  const html = asset('index.html');
  const script = asset('pilot.js');

  app.get('/pilot', { config: { public: true }, schema: { hide: true } }, async (_request, reply) =>
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(html),
  );

  app.get('/pilot/pilot.js', { config: { public: true }, schema: { hide: true } }, async (_request, reply) =>
    reply
      .header('content-type', 'text/javascript; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .send(script),
  );

  app.get(
    '/api/v1/pilot/setup',
    {
      config: { permission: 'pilot' },
      schema: {
        tags: ['pilot'],
        summary: 'What the Pilot 2 page gives the JSBridge: the DJI app licence and the addresses to use',
        description:
          'Only for a logged-in user: the licence values are the operator’s DJI app secrets. Empty strings when they are not configured.',
        security: [{ token: [] }],
        response: { 200: Envelope(PilotSetupDto), ...ErrorResponses },
      },
    },
    async (request) => {
      const workspace = await users.currentWorkspace(claimsOf(request));
      const base = addresses.baseUrl(request).replace(/\/+$/, '');
      const wsBase = base.replace(/^http/i, 'ws');
      return ok({
        app_id: config.dji.appId ?? '',
        app_key: config.dji.appKey ?? '',
        app_license: config.dji.appLicense ?? '',
        platform_name: workspace.platformName,
        workspace_name: workspace.name,
        workspace_desc: workspace.description,
        api_host: base,
        mqtt_host: addresses.mqttAddress(request),
        ws_host: `${wsBase}/api/v1/ws`,
      });
    },
  );
};
