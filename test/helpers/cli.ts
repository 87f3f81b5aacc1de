/** Runs the real `skyvault` command in a child process, as an operator would. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const BIN = path.resolve(import.meta.dirname, '../../bin/skyvault.js');

/**
 * How long a command may take to print what a test waits for, or to end. Starting `skyvault` takes
 * a second or two of CPU (loading its dependencies; its sources through tsx where the bundle is not
 * current, bin/skyvault.js); on a loaded 2-core machine, with other test files starting theirs at the
 * same time, several times that.
 */
export const CLI_TIMEOUT_MS = 120_000;

/** What every `skyvault serve` of the tests has: loopback, free ports, quiet logs, cheap hashing. */
export function serveEnv(dataDir: string): Record<string, string> {
  return {
    SKYVAULT_DATA_DIR: dataDir,
    SKYVAULT_HOST: '127.0.0.1',
    SKYVAULT_HTTP_PORT: '0',
    SKYVAULT_STORAGE_PORT: '0',
    SKYVAULT_MQTT_PORT: '0',
    SKYVAULT_MQTTS_PORT: '0',
    SKYVAULT_LOG_LEVEL: 'warn',
    // The lowest scrypt cost the settings allow: production's 15 made hashing most of a start.
    SKYVAULT_PASSWORD_HASH_COST: '10',
  };
}

export interface Cli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with stdout once `text` appears in it (rejects if the process exits first or times out). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (rejects, and kills the process, if it has not ended in time). */
  exited(timeoutMs?: number): Promise<number | null>;
  /** Sends the signal (SIGKILL if the process has not ended 15 s later); resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * The commands still running. When the test process ends, also when the test runner kills it at a
 * timeout, they are killed with it rather than left running with nobody to stop them.
 */
const running = new Set<ChildProcess>();
let reaperInstalled = false;

function killRunning() {
  for (const child of running) child.kill('SIGKILL');
}

function installReaper() {
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.on('exit', killRunning);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killRunning();
      process.kill(process.pid, signal); // what the signal would have done without this handler
    });
  }
}

export function runCli(args: string[], env: Record<string, string>): Cli {
  installReaper();
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  const output = () => `\`skyvault ${args.join(' ')}\`; stdout:\n${out}\nstderr:\n${err}`;
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor(text, timeoutMs = CLI_TIMEOUT_MS) {
      const matches = () => (typeof text === 'string' ? out.includes(text) : text.test(out));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => done(new Error(`timed out after ${timeoutMs} ms waiting for ${text} from ${output()}`)),
          timeoutMs,
        );
        const check = () => matches() && done();
        const onExit = () => done(new Error(`exited before ${text}: ${output()}`));
        function done(error?: Error) {
          clearTimeout(timer);
          child.stdout!.off('data', check);
          child.off('exit', onExit);
          if (error) reject(error);
          else resolve(out);
        }
        child.stdout!.on('data', check);
        child.once('exit', onExit);
        check();
      });
    },
    async exited(timeoutMs = CLI_TIMEOUT_MS) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`still running after ${timeoutMs} ms: ${output()}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exit, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return exit;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try {
        return await exit;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** `skyvault serve` on free ports in a fresh data dir with this admin password; resolves once it is ready. */
export async function startServe(adminPassword: string): Promise<{ server: Cli; url: string }> {
  const server = runCli(['serve'], {
    ...serveEnv(mkdtempSync(path.join(tmpdir(), 'skyvault-serve-'))),
    SKYVAULT_ADMIN_PASSWORD: adminPassword,
  });
  try {
    const url = /Web and API:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(await server.waitFor('Try it:'))![1]!;
    return { server, url };
  } catch (error) {
    await server.stop('SIGKILL');
    throw error;
  }
}
