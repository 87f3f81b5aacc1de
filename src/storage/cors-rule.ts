/**
 * The one CORS rule browsers need to read media straight from storage (docs/storage.md, "Browsers").
 * The web library (and DJI's demo front end) sends the browser to a presigned URL to download a file or
 * play a video, from a page served on another origin than the storage; players send Range requests,
 * which need a preflight. Any origin may GET and HEAD: the signature in the URL is the credential, so
 * allowing every origin grants nothing a link does not already grant. Writes stay closed to pages.
 *
 * The embedded store answers this rule itself (local/s3-cors.ts); `skyvault storage init` puts it on a
 * MinIO or S3 bucket (S3Provider.applyCorsRule); docs/storage.md shows it for setting it by hand, and
 * test/unit/docs.test.ts keeps that copy equal to this one.
 */
import type { CORSRule } from '@aws-sdk/client-s3';

export const CORS_READ_RULE = {
  allowedOrigins: ['*'],
  allowedMethods: ['GET', 'HEAD'],
  allowedHeaders: ['*'],
  /** What a page may read of a response: what range requests, downloads and players need. */
  exposeHeaders: [
    'Accept-Ranges',
    'Content-Length',
    'Content-Range',
    'Content-Type',
    'Content-Disposition',
    'ETag',
    'Last-Modified',
    'x-amz-request-id',
  ],
  /** How long a browser may keep a preflight's answer. */
  maxAgeSeconds: 3600,
} as const;

/** CORS_READ_RULE as a bucket's CORS rule. */
export function bucketCorsRule(): CORSRule {
  return {
    AllowedOrigins: [...CORS_READ_RULE.allowedOrigins],
    AllowedMethods: [...CORS_READ_RULE.allowedMethods],
    AllowedHeaders: [...CORS_READ_RULE.allowedHeaders],
    ExposeHeaders: [...CORS_READ_RULE.exposeHeaders],
    MaxAgeSeconds: CORS_READ_RULE.maxAgeSeconds,
  };
}

/**
 * Whether a bucket rule already lets any origin GET and HEAD with a Range header, which is what the
 * web app needs: then `storage init` adds nothing. A rule for some origins only, or one whose preflight
 * would refuse Range, does not count (S3 tries the next rule when one does not match a request).
 */
export function allowsBrowserReads(rule: CORSRule): boolean {
  const methods = (rule.AllowedMethods ?? []).map((m) => m.toUpperCase());
  const headers = (rule.AllowedHeaders ?? []).map((h) => h.toLowerCase());
  return (
    (rule.AllowedOrigins ?? []).includes('*') &&
    methods.includes('GET') &&
    methods.includes('HEAD') &&
    (headers.includes('*') || headers.includes('range'))
  );
}

/** A storage that accepted the CORS rule but does not return it: it does not apply bucket CORS rules. */
export class CorsRuleNotKeptError extends Error {
  override readonly name = 'CorsRuleNotKept';
}
