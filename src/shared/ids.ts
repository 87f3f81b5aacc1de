import { randomBytes, randomInt, randomUUID } from 'node:crypto';

export function newId(): string {
  return randomUUID();
}

/** URL-safe random secret with `bytes` bytes of entropy. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** Letters and digits that cannot be misread for each other when typed from a screen (no 0/O, 1/I/L). */
const READABLE = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

/** A short code a person types, e.g. a workspace bind code or a generated password. */
export function readableCode(length: number): string {
  let code = '';
  for (let i = 0; i < length; i++) code += READABLE[randomInt(READABLE.length)];
  return code;
}
