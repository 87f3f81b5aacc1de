/** `POST /manage/api/v1/login` and `POST /manage/api/v1/token/refresh` (docs/protocol.md §7.1). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { UserType } from '../../../db/schema.ts';
import { retryAfterOf } from '../../../features/auth/login-limiter.ts';
import type { Session, UserService } from '../../../features/users/user.service.ts';
import { Envelope, ErrorResponses, ok } from '../../envelope.ts';
import { tokenOf } from '../../plugins/auth.ts';
import type { PublicAddresses } from '../../public-address.ts';
import { SessionDto, userDto } from './manage.dto.ts';

export interface SessionRoutesOptions {
  users: UserService;
  addresses: PublicAddresses;
}

const LoginBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
  flag: Type.Integer({ minimum: 1, maximum: 2, description: 'client: 1 web, 2 Pilot 2' }),
});

export const sessionRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = async (
  app,
  { users, addresses },
) => {
  const render = (session: Session, mqttAddr: string) =>
    ok({
      ...userDto(session.user, mqttAddr),
      access_token: session.accessToken,
      expires_at: session.expiresAt,
    });

  app.post(
    '/manage/api/v1/login',
    {
      config: { public: true },
      schema: {
        tags: ['session'],
        summary: 'Log in; answers the access token and the MQTT credentials for devices',
        description:
          'A wrong username or password answers HTTP 200 with code 401, as DJI clients expect. Too many attempts for one account or from one address (SKYVAULT_LOGIN_LIMIT_ACCOUNT, SKYVAULT_LOGIN_LIMIT_ADDRESS), or too many passwords being checked at once, answer HTTP 429 with Retry-After.',
        body: LoginBody,
        response: { 200: Envelope(SessionDto), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const { username, password, flag } = request.body;
      // request.ip: the peer, or the X-Forwarded-For client when the peer is a trusted proxy
      // (SKYVAULT_TRUST_PROXY).
      const session = await users
        .login(username, password, flag as UserType, { address: request.ip })
        .catch((error: unknown) => {
          const seconds = retryAfterOf(error);
          if (seconds !== undefined) void reply.header('retry-after', String(seconds));
          throw error;
        });
      return render(session, addresses.mqttAddress(request));
    },
  );

  app.post(
    '/manage/api/v1/token/refresh',
    {
      config: { public: true },
      schema: {
        tags: ['session'],
        summary: 'Exchange a valid or recently expired token for a new one',
        description:
          'Send the old token in x-auth-token. Its signature must be valid; expiry is tolerated for SKYVAULT_TOKEN_REFRESH_WINDOW seconds.',
        security: [{ token: [] }],
        response: { 200: Envelope(SessionDto), ...ErrorResponses },
      },
    },
    async (request) => render(await users.refresh(tokenOf(request)), addresses.mqttAddress(request)),
  );
};
