/**
 * How a cloud storage client's failure is read, the same for the AWS SDK (`minio`, `aws`) and ali-oss
 * (`ali`): the HTTP status the storage answered, if it answered; and whether the failure is transient
 * (StorageUnavailable: devices and people retry) or a refusal to keep as it is.
 */
import { AppError } from '../shared/app-error.ts';

/**
 * The HTTP status of a storage client's error: the AWS SDK's `$metadata`, or ali-oss's `status` (negative
 * for network failures); undefined when the storage never answered.
 */
export function httpStatusOf(error: unknown): number | undefined {
  const e = error as { $metadata?: { httpStatusCode?: number }; status?: unknown };
  const status = e.$metadata?.httpStatusCode ?? (typeof e.status === 'number' ? e.status : undefined);
  return status !== undefined && status > 0 ? status : undefined;
}

/**
 * A storage call that failed: StorageUnavailable (transient) for the network and 5xx, so devices and
 * people retry; anything else (a refusal, a bad request) is a configuration problem, kept as it is.
 */
export function unavailable(error: unknown): unknown {
  const status = httpStatusOf(error);
  if (status !== undefined && status < 500) return error;
  return new AppError('StorageUnavailable', undefined, { cause: error });
}
