/**
 * What an object key may be: the one rule for every place Skyvault takes a key from outside, the
 * embedded store's writes (s3-server.ts, and LocalStorageProvider.put) and every device callback whose
 * key gets recorded or served (Pilot's upload-callback, the dock's file_upload_callback, log uploads).
 *
 * S3 itself takes any UTF-8 string as a key, but keys are also read as paths: by people in the library,
 * by tools that sync a bucket to a filesystem, by MinIO (which refuses these keys) and by the prefix
 * checks of credentials. `<ws>/media/../../<other>/media/x` starts with `<ws>/media/` and reads as a key
 * of `<other>`; `<ws>/media//x` looks like `<ws>/media/x`. So a key is refused when it has
 *
 * - a `.` or `..` segment, or an empty one (a leading, trailing or double slash);
 * - a control character (U+0000–U+001F, U+007F);
 * - anything that is not UTF-8 (a lone surrogate: percent-decoding already refuses bad byte sequences);
 * - more than 1,024 bytes of UTF-8 (S3's limit).
 *
 * Segments that merely contain dots (`..x`, `.y`, `x..jpg`) are fine.
 */

/** S3's limit on a key, in bytes of UTF-8. */
export const MAX_OBJECT_KEY_BYTES = 1024;

export interface ObjectKeyProblem {
  /** 'too-long': over MAX_OBJECT_KEY_BYTES; 'invalid': any other reason. */
  kind: 'too-long' | 'invalid';
  /** A sentence saying what is wrong, without the key itself (it may hold control characters). */
  message: string;
}

// eslint-disable-next-line no-control-regex -- control characters are what this looks for
const CONTROL = /[\u0000-\u001f\u007f]/;
/** A lone surrogate: in a `u` regex a well-formed pair is one code point, never a surrogate. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Why `key` cannot be an object key, or undefined when it can. */
export function objectKeyProblem(key: string): ObjectKeyProblem | undefined {
  const invalid = (what: string): ObjectKeyProblem => ({
    kind: 'invalid',
    message: `The object key ${what}.`,
  });
  if (key === '') return invalid('is empty');
  if (LONE_SURROGATE.test(key)) return invalid('is not valid UTF-8');
  if (CONTROL.test(key)) return invalid('holds a control character (U+0000 to U+001F or U+007F)');
  if (Buffer.byteLength(key, 'utf8') > MAX_OBJECT_KEY_BYTES) {
    return {
      kind: 'too-long',
      message: `The object key is longer than ${MAX_OBJECT_KEY_BYTES} bytes (UTF-8).`,
    };
  }
  for (const segment of key.split('/')) {
    if (segment === '') return invalid('has an empty segment (a leading, trailing or double slash)');
    if (segment === '.' || segment === '..') return invalid(`has a "${segment}" segment`);
  }
  return undefined;
}

/** Throws the key's problem, for a provider's own `put` (a caller's bug, not a device's input). */
export function assertObjectKey(key: string): void {
  const problem = objectKeyProblem(key);
  if (problem) throw new Error(`${problem.message} (${JSON.stringify(key.slice(0, 200))})`);
}

export function isValidObjectKey(key: string): boolean {
  return objectKeyProblem(key) === undefined;
}
