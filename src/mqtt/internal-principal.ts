/**
 * Skyvault's own identity on MQTT (issue 13). Skyvault's client logs in as an *internal principal*: a
 * username in a namespace no device account can have (`skyvault:internal:…`; user names are letters,
 * digits and `. _ @ -`, and the brokers' account check refuses the namespace before looking anything up)
 * with a secret no device knows. Client ids starting with `skyvault-` are reserved to it, so no device
 * can take Skyvault's session over.
 *
 * - On the embedded broker the principal is made per process: a random name and a random secret.
 * - On an external broker whose authentication Skyvault answers (the EMQX HTTP hooks,
 *   http/routes/mqtt-auth.routes.ts), each instance has its own name and its password is an HMAC of that
 *   name under the hook secret: whichever instance EMQX asks can verify it, nothing is stored, and no
 *   device can compute it.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const INTERNAL_USERNAME_PREFIX = 'skyvault:internal:';
export const RESERVED_CLIENT_ID_PREFIX = 'skyvault-';

export interface MqttCredentials {
  username: string;
  password: string;
}

/** A username of the internal namespace: never a device account, whatever the database holds. */
export function isInternalUsername(username: string): boolean {
  return username.startsWith(INTERNAL_USERNAME_PREFIX);
}

/** A client id only Skyvault's own connection may use. */
export function isReservedClientId(clientId: string): boolean {
  return clientId.startsWith(RESERVED_CLIENT_ID_PREFIX);
}

/** Skyvault's client id: stable across restarts (its persistent session), one per host and data dir. */
export function skyvaultClientId(host: string, dataDir: string): string {
  return `${RESERVED_CLIENT_ID_PREFIX}${createHash('sha256').update(`${host}:${dataDir}`).digest('hex').slice(0, 16)}`;
}

/** The embedded broker's internal principal: random, known to this process only. */
export function randomInternalPrincipal(): MqttCredentials {
  return {
    username: `${INTERNAL_USERNAME_PREFIX}${randomBytes(8).toString('hex')}`,
    password: randomBytes(24).toString('base64url'),
  };
}

/** An instance's internal principal on an external broker whose hooks answer with `key`. */
export function derivedInternalPrincipal(instance: string, key: string): MqttCredentials {
  const username = `${INTERNAL_USERNAME_PREFIX}${instance}`;
  return { username, password: internalPassword(username, key) };
}

/** Whether `username` / `password` are an internal principal derived with `key`. */
export function isDerivedInternal(username: string, password: Buffer, key: string): boolean {
  if (!isInternalUsername(username) || username.length === INTERNAL_USERNAME_PREFIX.length) return false;
  return sameSecret(Buffer.from(internalPassword(username, key), 'utf8'), password);
}

/** Constant-time comparison of two secrets. */
export function sameSecret(expected: Buffer, given: Buffer): boolean {
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function internalPassword(username: string, key: string): string {
  return createHmac('sha256', key)
    .update(`skyvault mqtt internal principal\0${username}`)
    .digest('base64url');
}
