/**
 * Secrets kept recoverable but not readable at rest (issue 13, hole 5): device MQTT passwords must be
 * handed back to Pilot 2 and shown to administrators, so they are encrypted (AES-256-GCM, a fresh IV
 * each time) with a key kept outside the database: SKYVAULT_SECRET_KEY, or a key file generated once in
 * the data directory. A copy of the database alone reveals no device password.
 * Written with node:crypto directly: GCM with a random IV is the whole scheme, and no library adds to it.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StartupError } from './startup-error.ts';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBox {
  private readonly key: Buffer;

  /** `material`: the key as configured or read from the key file (any length; hashed to 256 bits). */
  constructor(material: string) {
    this.key = createHash('sha256').update(`skyvault secret box\0${material}`).digest();
  }

  /** `v1:<iv>:<ciphertext+tag>`, base64url. */
  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}:${iv.toString('base64url')}:${body.toString('base64url')}`;
  }

  /**
   * The plain text of a sealed value. A value that is not sealed (stored before encryption existed) is
   * returned as it is; a sealed value this key cannot open throws.
   */
  open(stored: string): string {
    if (!isSealed(stored)) return stored;
    const [, iv, body] = stored.split(':') as [string, string, string];
    const bytes = Buffer.from(body, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  }

  /** A value that proves which key is in use without revealing it (kept in the database, compared at start). */
  fingerprint(): string {
    return createHmac('sha256', this.key).update('skyvault secret key check').digest('base64url');
  }
}

export function isSealed(stored: string): boolean {
  return stored.startsWith(`${VERSION}:`) && stored.split(':').length === 3;
}

/**
 * The key material: SKYVAULT_SECRET_KEY when set, else the data directory's `secret.key`, created
 * (readable by its owner only) on first use. StartupError when the file cannot be made or read.
 */
export function loadSecretKey(configured: string | undefined, dataDir: string): string {
  if (configured) return configured;
  const file = path.join(dataDir, 'secret.key');
  try {
    if (!existsSync(file)) {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
    }
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    // Two first starts at once: the other one wrote it.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw new StartupError(
      `The secret key file ${file} cannot be created or read (${(error as Error).message}); check that SKYVAULT_DATA_DIR is writable, or set SKYVAULT_SECRET_KEY.`,
      { cause: error },
    );
  }
}
