/**
 * How the command-line tools (`skyvault admin`, `skyvault storage`) report an error the operator can act
 * on: bad settings (each problem, after the warnings), a start-up check, a refused action — in their
 * own plain sentences, never a stack trace.
 */
import { ConfigError } from './config/config.ts';
import { isAppError } from './shared/app-error.ts';
import { StartupError } from './shared/startup-error.ts';

/** Writes the error's sentences and answers exit code 1; undefined for anything else (a bug: rethrow it). */
export function reportOperatorError(error: unknown, err: (line: string) => void): 1 | undefined {
  if (error instanceof ConfigError) {
    for (const warning of error.warnings) err(`Warning: ${warning}`);
    err(error.message);
    return 1;
  }
  if (error instanceof StartupError || isAppError(error)) {
    err(error.message);
    return 1;
  }
  return undefined;
}
