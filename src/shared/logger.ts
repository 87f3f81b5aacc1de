/**
 * Structured JSON logs (pino). Secrets never reach them: requests are logged by method, URL (with any
 * token query parameter masked), host and peer only, never headers or bodies, and the redact list
 * below catches credentials that code might attach to a log line by mistake.
 */
import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from '../config/config.ts';

export type { Logger };

const SECRET_KEYS = [
  'password',
  'passwordHash',
  'mqttPassword',
  'mqtt_password',
  'accessToken',
  'access_token',
  'token',
  'secret',
  'jwtSecret',
  'authorization',
  'x-auth-token',
  'access_key_secret',
  'security_token',
];

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: {
        paths: [
          ...SECRET_KEYS.map((k) => `["${k}"]`),
          ...SECRET_KEYS.map((k) => `*["${k}"]`),
          'req.headers["x-auth-token"]',
          'req.headers.authorization',
          'req.headers.cookie',
        ],
        censor: '[redacted]',
      },
      serializers: {
        req: (req: { method: string; url: string; host?: string; ip?: string; id?: string }) => ({
          method: req.method,
          url: maskUrlSecrets(req.url),
          host: req.host,
          remoteAddress: req.ip,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    },
    destination,
  );
}

/** Masks secrets carried in a query string (`?x-auth-token=…` is how DJI web sockets authenticate). */
export function maskUrlSecrets(url: string): string {
  return url.replace(
    /([?&](?:x-auth-token|token|access_token|password|X-Amz-Signature|X-Amz-Security-Token|x-amz-credential)=)[^&#]*/gi,
    '$1[redacted]',
  );
}
