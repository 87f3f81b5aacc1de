/**
 * Debian's Chromium, headless, for the browser tests (.ci/run installs it). The flags keep it off the
 * network it would otherwise try to reach at start (this machine has none) and out of a sandbox that
 * needs privileges CI does not have. Screenshots go to test-output/screenshots/ for a person to look at.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

const CHROMIUM = process.env.SKYVAULT_TEST_CHROMIUM ?? '/usr/bin/chromium';
export const SHOTS = path.resolve(import.meta.dirname, '../../test-output/screenshots');

export async function launchChromium(): Promise<Browser> {
  assert.ok(
    existsSync(CHROMIUM),
    `Chromium is not installed at ${CHROMIUM}: install it (apt-get install -y chromium; .ci/run does) or set SKYVAULT_TEST_CHROMIUM.`,
  );
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
