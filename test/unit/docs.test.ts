import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SETTING_NAMES } from '../../src/config/settings.ts';
import { AppError, type ErrorName, ERRORS } from '../../src/shared/app-error.ts';
import { bucketCorsRule } from '../../src/storage/cors-rule.ts';

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

/** First-column names of a markdown table: rows like "| `NAME` | …". */
function tableNames(markdown: string): string[] {
  return [...markdown.matchAll(/^\|\s*`([A-Za-z0-9_]+)`\s*\|/gm)].map((m) => m[1]!);
}

describe('docs stay true', () => {
  it('docs/configuration.md lists exactly the settings the code reads, in order', () => {
    assert.deepEqual(tableNames(read('docs/configuration.md')), SETTING_NAMES);
  });

  it('docs/errors.md lists every error with its status, code and MQTT reply', () => {
    const doc = read('docs/errors.md');
    assert.deepEqual(tableNames(doc), Object.keys(ERRORS));
    for (const name of Object.keys(ERRORS) as ErrorName[]) {
      const error = new AppError(name);
      const mqtt = error.transient ? 'no reply \\(resend\\)' : String(error.mqttResult);
      assert.match(
        doc,
        new RegExp(
          `^\\|\\s*\`${name}\`\\s*\\|\\s*${error.status}\\s*\\|\\s*${error.code}\\s*\\|\\s*${mqtt}\\s*\\|`,
          'm',
        ),
        name,
      );
    }
  });

  it('docs/storage.md shows the CORS rule that `skyvault storage init` sets and the embedded store answers', () => {
    const block = /```json\n(\{\s*"CORSRules"[\s\S]*?)```/.exec(read('docs/storage.md'));
    assert.ok(block, 'a json block with CORSRules');
    assert.deepEqual(JSON.parse(block[1]!), { CORSRules: [bucketCorsRule()] });
  });

  it('README starts with what Skyvault is, then the two commands', () => {
    const readme = read('README.md');
    assert.match(readme.split('\n')[0]!, /^# Skyvault/);
    const start = readme.indexOf('npm ci && npm start');
    const test = readme.indexOf('npm test');
    assert.ok(start > 0 && test > start, 'npm ci && npm start, then npm test');
  });
});
