/**
 * Reads the configuration contract once, at start: the environment, plus an optional JSON file
 * (SKYVAULT_CONFIG) that the environment overrides. Every setting in SETTINGS is parsed once by its own
 * parser; every problem is collected and reported together, one sentence each, as a ConfigError;
 * nothing falls back silently on a bad value.
 */
import { buildConfig, type Config, readStorage, readTls } from './build.ts';
import { SettingProblem } from './parsers.ts';
import {
  SETTING_NAMES,
  SETTINGS,
  type SettingName,
  type SettingSpec,
  type SettingValues,
} from './settings.ts';
import { readRawSettings } from './sources.ts';

/** Log levels live with the settings, the Config shape with its assembly; re-exported from here. */
export { LOG_LEVELS, type LogLevel } from './settings.ts';
export type { Config, DatabaseConfig, TlsConfig } from './build.ts';

export class ConfigError extends Error {
  readonly problems: string[];
  readonly warnings: string[];
  constructor(problems: string[], warnings: string[] = []) {
    super(`Skyvault cannot start:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
    this.warnings = warnings;
  }
}

export interface LoadConfigOptions {
  env: NodeJS.ProcessEnv;
  /** Directory relative paths are resolved against. */
  cwd: string;
  /** Overrides SKYVAULT_CONFIG (the CLI's --config). */
  configFile?: string | undefined;
}

export interface LoadedConfig {
  config: Config;
  /** Non-fatal remarks for the operator, e.g. an unknown SKYVAULT_ variable. */
  warnings: string[];
}

export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const problems: string[] = [];
  const { values, warnings } = readRawSettings(options.env, options.configFile, options.cwd, problems);
  const settings = parseSettings(values, problems);
  const tls = readTls(settings.SKYVAULT_TLS_CERT, settings.SKYVAULT_TLS_KEY, options.cwd, problems);
  const storage = readStorage(settings, problems);
  if (problems.length > 0) throw new ConfigError(problems, warnings);
  // No problem: every setting parsed, and each one with a default has a value.
  const config = buildConfig(settings as SettingValues, tls, storage, options.cwd);
  return { config: deepFreeze(config), warnings };
}

/** Parses each setting's value (or default) once; a bad one becomes a sentence in `problems`. */
function parseSettings(values: Map<SettingName, string>, problems: string[]): Partial<SettingValues> {
  const parsed: Partial<Record<SettingName, unknown>> = {};
  for (const name of SETTING_NAMES) {
    const spec: SettingSpec = SETTINGS[name];
    const raw = values.get(name) ?? spec.default;
    if (raw === undefined) continue;
    try {
      parsed[name] = spec.parse(raw);
    } catch (error) {
      if (!(error instanceof SettingProblem)) throw error;
      problems.push(`${name} ${error.message}.`);
    }
  }
  return parsed as Partial<SettingValues>;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
