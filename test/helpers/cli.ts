/** Runs the real `skyvault` command in a child process, as an operator would. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const BIN = path.resolve(import.meta.dirname, '../../bin/skyvault.js');

export interface Cli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with stdout once `text` appears in it (rejects if the process exits first or times out). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code. */
  exited(): Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function runCli(args: string[], env: Record<string, string>): Cli {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: () => exit,
    waitFor(text, timeoutMs = 30_000) {
      const matches = () => (typeof text === 'string' ? out.includes(text) : text.test(out));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => done(new Error(`timed out waiting for ${text}; stdout:\n${out}\nstderr:\n${err}`)),
          timeoutMs,
        );
        const check = () => matches() && done();
        const onExit = () => done(new Error(`exited before ${text}; stdout:\n${out}\nstderr:\n${err}`));
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
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exit;
    },
  };
}

/** `skyvault serve` on free ports in a fresh data dir with this admin password; resolves once it is ready. */
export async function startServe(adminPassword: string): Promise<{ server: Cli; url: string }> {
  const server = runCli(['serve'], {
    SKYVAULT_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'skyvault-serve-')),
    SKYVAULT_HOST: '127.0.0.1',
    SKYVAULT_HTTP_PORT: '0',
    SKYVAULT_STORAGE_PORT: '0',
    SKYVAULT_MQTT_PORT: '0',
    SKYVAULT_ADMIN_PASSWORD: adminPassword,
    SKYVAULT_LOG_LEVEL: 'warn',
  });
  const url = /Web and API:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(await server.waitFor('Try it:'))![1]!;
  return { server, url };
}
