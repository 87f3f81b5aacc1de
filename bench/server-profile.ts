/**
 * For the servers the storage benchmarks start in their own process (bench/*-server.ts):
 * BENCH_SERVER_CPU_PROF=<dir> profiles the process as `node --cpu-prof` would (a flag NODE_OPTIONS does
 * not take, and startScript passes no Node flags), and SIGINT/SIGTERM end it normally, writing the
 * profile to <dir>/<BENCH_SERVER_PROFILE_NAME or `name`>-<pid>.cpuprofile first.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

export function profileUntilStopped(name: string): void {
  const profileDir = process.env.BENCH_SERVER_CPU_PROF;
  const profiler = profileDir ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    profiler.post('Profiler.enable');
    profiler.post('Profiler.setSamplingInterval', { interval: 1000 });
    profiler.post('Profiler.start');
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (!profiler || !profileDir) process.exit(0);
      profiler.post('Profiler.stop', (error, result) => {
        if (!error) {
          mkdirSync(profileDir, { recursive: true });
          writeFileSync(
            path.join(
              profileDir,
              `${process.env.BENCH_SERVER_PROFILE_NAME ?? name}-${process.pid}.cpuprofile`,
            ),
            JSON.stringify(result.profile),
          );
        }
        process.exit(0);
      });
    });
  }
}
