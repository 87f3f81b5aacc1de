/**
 * The hooks an external MQTT broker calls to authenticate and authorize its clients (EMQX 5's "HTTP
 * Server" authenticator and authorizer; docs/mqtt.md says how to configure it), so that device accounts
 * and topic rules live in Skyvault for the external broker as for the embedded one (mqtt/broker-hooks.ts):
 *
 * - `POST /api/v1/mqtt/hooks/authenticate` `{clientid, username, password, peerhost}` →
 *   `{"result": "allow" | "deny", "is_superuser": bool}`;
 * - `POST /api/v1/mqtt/hooks/authorize` `{clientid, username, topic, action}` → `{"result": "allow" | "deny"}`.
 *
 * Only with SKYVAULT_MQTT_HOOK_SECRET set (otherwise they do not exist); the broker sends it in the
 * `x-skyvault-hook-secret` header: 401 without it, 403 with another (EMQX reads any status but 200/204
 * as "ignore", so the operator's chain must end in a refusal: docs/mqtt.md). No access token: the broker
 * is not a user.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { DeviceService } from '../../features/devices/device.service.ts';
import type { UserService } from '../../features/users/user.service.ts';
import { BrokerHooks } from '../../mqtt/broker-hooks.ts';
import { sameSecret } from '../../mqtt/internal-principal.ts';
import { AppError } from '../../shared/app-error.ts';
import { ErrorResponses } from '../envelope.ts';
import type { Logger } from '../../shared/logger.ts';

export const HOOK_SECRET_HEADER = 'x-skyvault-hook-secret';

const tags = ['mqtt hooks'];
const MaybeText = Type.Optional(Type.Union([Type.String(), Type.Null()]));

export interface MqttAuthRoutesOptions {
  /** SKYVAULT_MQTT_HOOK_SECRET; undefined = no hook routes. */
  hookSecret: string | undefined;
  users: Pick<UserService, 'mqttAccount' | 'mqttAccountNamed'>;
  devices: Pick<DeviceService, 'boundElsewhere' | 'find'>;
  logger: Logger;
}

export const mqttAuthRoutes: FastifyPluginAsyncTypebox<MqttAuthRoutesOptions> = async (app, deps) => {
  const secret = deps.hookSecret;
  if (!secret) return;
  const hooks = new BrokerHooks({
    secret,
    authenticate: (username, password) => deps.users.mqttAccount(username, password),
    // The broker authenticated this username (through the hook above): its account, without password.
    accountOf: (username) => deps.users.mqttAccountNamed(username),
    boundElsewhere: (sn, workspaceId) => deps.devices.boundElsewhere(sn, workspaceId),
    parentOf: async (sn) => (await deps.devices.find(sn))?.parentSn ?? undefined,
    logger: deps.logger.child({ component: 'mqtt-hooks' }),
  });
  const expected = Buffer.from(secret, 'utf8');
  const checkSecret = async (request: FastifyRequest) => {
    const given = request.headers[HOOK_SECRET_HEADER];
    if (typeof given !== 'string' || given === '') throw new AppError('HookSecretMissing');
    if (!sameSecret(expected, Buffer.from(given, 'utf8'))) throw new AppError('HookSecretInvalid');
  };
  // Called for every CONNECT and (past EMQX's cache) every publish and subscribe: logged at warn only.
  const common = { logLevel: 'warn' as const, preHandler: checkSecret };

  app.post(
    '/api/v1/mqtt/hooks/authenticate',
    {
      ...common,
      schema: {
        tags,
        summary: 'EMQX HTTP authenticator: may this MQTT client connect?',
        body: Type.Object(
          { clientid: MaybeText, username: MaybeText, password: MaybeText, peerhost: MaybeText },
          { additionalProperties: true },
        ),
        response: {
          200: Type.Object({
            result: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
            is_superuser: Type.Boolean(),
          }),
          ...ErrorResponses,
        },
      },
    },
    async (request) => {
      const { clientid, username, password } = request.body;
      return hooks.authenticate({
        clientid: clientid ?? undefined,
        username: username ?? undefined,
        password: password ?? undefined,
      });
    },
  );

  app.post(
    '/api/v1/mqtt/hooks/authorize',
    {
      ...common,
      schema: {
        tags,
        summary: 'EMQX HTTP authorizer: may this MQTT client publish or subscribe to this topic?',
        body: Type.Object(
          { clientid: MaybeText, username: MaybeText, topic: MaybeText, action: MaybeText },
          { additionalProperties: true },
        ),
        response: {
          200: Type.Object({ result: Type.Union([Type.Literal('allow'), Type.Literal('deny')]) }),
          ...ErrorResponses,
        },
      },
    },
    async (request) => {
      const { clientid, username, topic, action } = request.body;
      return hooks.authorize({
        clientid: clientid ?? undefined,
        username: username ?? undefined,
        topic: topic ?? undefined,
        action: action ?? undefined,
      });
    },
  );
};
