/**
 * Where raw setting values come from: an optional JSON config file, overridden by the environment.
 * Values stay strings here; SETTINGS' parsers give them meaning. Unknown names are reported with the
 * closest setting's name: as a problem in the config file, as a warning in the environment.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SETTING_NAMES, SETTINGS, type SettingName } from './settings.ts';

export interface RawSettings {
  /** The value each setting was given, file first and environment over it; absent = unset. */
  values: Map<SettingName, string>;
  warnings: string[];
}

/**
 * Variables named like settings that are not: the test suites' (SKYVAULT_TEST_*), and the launcher's
 * SKYVAULT_FROM_SOURCE (bin/skyvault.js: run the sources rather than the bundle).
 */
const NOT_SETTINGS = /^SKYVAULT_(TEST_|FROM_SOURCE$)/;

export function readRawSettings(
  env: NodeJS.ProcessEnv,
  configFile: string | undefined,
  cwd: string,
  problems: string[],
): RawSettings {
  const values = new Map<SettingName, string>();
  const warnings: string[] = [];
  const file = configFile ?? nonEmpty(env.SKYVAULT_CONFIG);
  if (file) readConfigFile(path.resolve(cwd, file), values, problems);
  for (const name of SETTING_NAMES) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') values.set(name, raw);
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('SKYVAULT_') && !NOT_SETTINGS.test(name) && !(name in SETTINGS)) {
      warnings.push(`${name} is not a Skyvault setting and is ignored${suggest(name)}.`);
    }
  }
  return { values, warnings };
}

function readConfigFile(file: string, values: Map<SettingName, string>, problems: string[]): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : describe(error);
    problems.push(`The config file ${file} cannot be read: ${reason}.`);
    return;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(
      `The config file ${file} must hold a JSON object of settings, e.g. {"SKYVAULT_HTTP_PORT": 8080}.`,
    );
    return;
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key in SETTINGS) || key === 'SKYVAULT_CONFIG') {
      problems.push(
        `The config file ${file} names "${key}", which is not a Skyvault setting${suggest(key)}.`,
      );
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      values.set(key as SettingName, String(value));
    } else if (value !== null) {
      problems.push(
        `The config file ${file} gives ${key} a ${typeof value}; use a string, number or boolean.`,
      );
    }
  }
}

/** Why a file could not be read or parsed, as a clause for the operator. */
export function describe(error: unknown): string {
  if (error instanceof SyntaxError) return `it is not valid JSON (${error.message})`;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return error instanceof Error ? error.message : String(error);
}

function suggest(name: string): string {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of SETTING_NAMES) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best ? ` (did you mean ${best}?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
