/**
 * `skyvault storage init`: creates the bucket that SKYVAULT_STORAGE=minio|aws configures when it is
 * missing and gives it the CORS rule browsers need (storage/cors-rule.ts), through the provider's own
 * S3Provider.ensureBucket and applyCorsRule; running it again changes nothing. One line per step;
 * mistakes end with one plain sentence and exit code 1 (2 for bad arguments), as the other commands.
 */
import { parseArgs } from 'node:util';
import { reportOperatorError } from './cli-errors.ts';
import { type CommandIo, count, loadCommandConfig } from './cli-output.ts';
import { createLogger } from './shared/logger.ts';
import { CorsRuleNotKeptError } from './storage/cors-rule.ts';
import { describeError, NO_EMBEDDED_STORE, type OpenedStorage, openStorage } from './storage/open-storage.ts';
import { S3Provider } from './storage/s3/s3.provider.ts';
import { httpStatusOf } from './storage/storage-errors.ts';
import { STORAGE_USAGE } from './storage-usage.ts';

/**
 * The storages `storage init` does not set up, and what to do instead (one sentence, exit 1). Only a
 * bucket that S3Provider reaches is created and given its CORS rule from here.
 */
const NO_INIT: Partial<Record<string, string>> = {
  local:
    'SKYVAULT_STORAGE is local, whose embedded store needs no init: its bucket always exists and it answers CORS itself (docs/storage.md); set SKYVAULT_STORAGE=minio or aws and the SKYVAULT_S3_* settings to set up a bucket.',
  ali: 'SKYVAULT_STORAGE is ali, whose bucket `skyvault storage init` does not set up (it could not be tested without Aliyun): create the bucket and its CORS rule in the OSS console, as docs/storage.md says.',
};

/** `storage init [--config FILE]`: bucket, then CORS rule, then that rule read back; one line each. */
export async function init(args: string[], io: CommandIo): Promise<number> {
  let values: { config?: string | undefined };
  try {
    ({ values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } } }));
  } catch (error) {
    io.err(`${(error as Error).message}\n\nUsage:\n${STORAGE_USAGE}`);
    return 2;
  }
  let opened: OpenedStorage | undefined;
  try {
    const config = loadCommandConfig(io, values.config);
    const { storage: settings } = config;
    const refusal = NO_INIT[settings.kind] ?? (settings.cloud ? undefined : cannotInit(settings.kind));
    if (refusal !== undefined) {
      io.err(refusal);
      return 1;
    }
    opened = await openStorage(config, NO_EMBEDDED_STORE, {
      defaultPublicHostname: '127.0.0.1',
      logger: createLogger(config.log.level, { write: (line: string) => io.err(line.trimEnd()) }),
      now: Date.now,
    });
    const provider = opened.storage;
    if (!(provider instanceof S3Provider)) {
      io.err(cannotInit(settings.kind));
      return 1;
    }
    const where = `${settings.kind} storage at ${opened.place}`;
    const bucket = settings.bucket;

    let created: 'created' | 'existed';
    try {
      created = await provider.ensureBucket();
    } catch (error) {
      io.err(bucketSetupProblem(error, where, bucket));
      return 1;
    }
    io.out(
      created === 'created'
        ? `Bucket "${bucket}" created at the ${where}.`
        : `Bucket "${bucket}" already exists at the ${where}.`,
    );

    let cors: Awaited<ReturnType<S3Provider['applyCorsRule']>>;
    try {
      cors = await provider.applyCorsRule();
    } catch (error) {
      if (settings.kind === 'minio' && isNotImplemented(error)) {
        // Community MinIO (and Skyvault's embedded store) keep no bucket CORS rules: they answer every
        // origin's reads from a server-wide setting, which allows them unless it was changed.
        io.out(
          `CORS: the ${where} takes no per-bucket CORS rules (NotImplemented); community MinIO answers CORS from its server-wide setting (MINIO_API_CORS_ALLOW_ORIGIN), which lets any origin read unless it was changed (docs/storage.md).`,
        );
        io.out(
          'Done: the bucket is ready for Skyvault (skyvault serve); running this again changes nothing.',
        );
        return 0;
      }
      io.err(corsProblem(error, where, bucket));
      return 1;
    }
    const kept =
      cors.otherRules === 0
        ? ''
        : `, beside the bucket's ${count(cors.otherRules, 'other rule')}, which ${cors.otherRules === 1 ? 'is' : 'are'} kept`;
    io.out(
      cors.rule === 'added'
        ? `CORS rule set: any origin may GET and HEAD (with Range), as browsers need for download links and video${kept}.`
        : 'CORS rule already present: a rule of the bucket lets any origin GET and HEAD (with Range), so nothing was changed.',
    );
    io.out('CORS checked: the bucket answers GetBucketCors with that rule.');
    io.out('Done: the bucket is ready for Skyvault (skyvault serve); running this again changes nothing.');
    return 0;
  } catch (error) {
    const reported = reportOperatorError(error, io.err);
    if (reported !== undefined) return reported;
    throw error;
  } finally {
    await opened?.storage.close();
  }
}

function isNotImplemented(error: unknown): boolean {
  return (error as { name?: string }).name === 'NotImplemented' || httpStatusOf(error) === 501;
}

function cannotInit(kind: string): string {
  return `SKYVAULT_STORAGE is ${kind}, whose bucket \`skyvault storage init\` cannot set up: create it and give it the CORS rule by hand, as docs/storage.md says.`;
}

/** Why the bucket could not be found or created, in one sentence for the operator. */
function bucketSetupProblem(error: unknown, where: string, bucket: string): string {
  const status = httpStatusOf(error);
  const name = (error as { name?: string }).name ?? '';
  if (name === 'RequestTimeTooSkewed' || /skew/i.test(describeError(error))) {
    return `This machine's clock is too far from the ${where}'s, so every signature is refused: set the clock right (NTP).`;
  }
  if (name === 'BucketAlreadyExists') {
    return `The bucket name "${bucket}" is taken at the ${where} by another account (BucketAlreadyExists): set SKYVAULT_S3_BUCKET to another name, since S3 bucket names are shared by all accounts.`;
  }
  if (status === 403 || status === 401) {
    return `The ${where} refuses SKYVAULT_S3_ACCESS_KEY / SKYVAULT_S3_SECRET_KEY for the bucket "${bucket}" (HTTP ${status}): check the keys, that they may use and create the bucket (s3:ListBucket, s3:CreateBucket), and on S3 that no other account owns the name.`;
  }
  if (status === 301 || (status === 400 && name !== 'InvalidBucketName')) {
    // A bucket in another region (HeadBucket), or a region S3 does not take for a new bucket.
    return `The bucket "${bucket}" answers HTTP ${status} at the ${where} (${name}): check SKYVAULT_S3_REGION (the bucket's region) and SKYVAULT_S3_ENDPOINT.`;
  }
  if (status !== undefined && status < 500) {
    return `The ${where} refuses to create the bucket "${bucket}" (${name || 'HTTP'} ${status}): create it by hand or set SKYVAULT_S3_BUCKET to an existing one (docs/storage.md).`;
  }
  return `The ${where} cannot be reached (${describeError(error)}): check SKYVAULT_S3_ENDPOINT and the network.`;
}

/** Why the CORS rule could not be set or confirmed, in one sentence for the operator. */
function corsProblem(error: unknown, where: string, bucket: string): string {
  const status = httpStatusOf(error);
  const name = (error as { name?: string }).name ?? '';
  const byHand = 'set the rule by hand as docs/storage.md says';
  if (error instanceof CorsRuleNotKeptError) {
    return `The ${where} accepted the CORS rule for the bucket "${bucket}" but does not return it, so it may not apply it: ${byHand}.`;
  }
  if (status === 403 || status === 401) {
    return `The ${where} does not let SKYVAULT_S3_ACCESS_KEY read or set the CORS rules of the bucket "${bucket}" (HTTP ${status}): allow it s3:GetBucketCORS and s3:PutBucketCORS and run this again, or ${byHand}.`;
  }
  if (name === 'NotImplemented' || status === 501 || (status !== undefined && status < 500)) {
    return `The ${where} does not take CORS rules for the bucket "${bucket}" (${name || 'HTTP'} ${status}): ${byHand}.`;
  }
  return `The ${where} cannot be reached (${describeError(error)}): check SKYVAULT_S3_ENDPOINT and the network.`;
}
