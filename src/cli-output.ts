/** What the command-line tools (`skyvault storage`, `backup`…) print to, and words they share. */
import { type Config, loadConfig } from './config/config.ts';

/** Where a command prints, and the environment it reads its settings from (tests pass their own). */
export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** `1 object`, `2 objects`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** The settings (environment, then `--config FILE`), each warning printed before anything else. */
export function loadCommandConfig(io: CommandIo, configFile: string | undefined): Config {
  const { config, warnings } = loadConfig({ env: io.env ?? process.env, cwd: process.cwd(), configFile });
  for (const warning of warnings) io.err(`Warning: ${warning}`);
  return config;
}
