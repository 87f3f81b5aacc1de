/** Shared by the benchmarks: start `skyvault serve` or a helper script in a child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

export interface Started {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `skyvault serve` with `env`; resolves with its HTTP URL once it is ready. */
export async function startSkyvault(env: Record<string, string>): Promise<Started & { url: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/skyvault.js'), 'serve'], {
    env: {
      ...process.env,
      SKYVAULT_HOST: '127.0.0.1',
      SKYVAULT_HTTP_PORT: '0',
      SKYVAULT_STORAGE_PORT: '0',
      SKYVAULT_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = /Web and API:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`skyvault serve exited with ${code}`)));
  });
  return { child, url, stop: () => stop(child) };
}

/** Starts a TypeScript helper that prints one JSON line when ready; resolves with that line parsed. */
export async function startScript<T>(script: string, args: string[] = []): Promise<Started & { ready: T }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, ready: JSON.parse(line) as T, stop: () => stop(child) };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export async function postJson<T>(url: string, body: unknown, token?: string): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { 'x-auth-token': token } : {}) },
    body: JSON.stringify(body),
  });
  return (await response.json()) as T;
}
