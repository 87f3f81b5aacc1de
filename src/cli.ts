/** The `skyvault` command line: serve, simulate, admin, backup, restore, storage, bench, version, help. */
import { parseArgs } from 'node:util';
import { ADMIN_USAGE } from './admin-usage.ts';
import { BACKUP_USAGE } from './backup-usage.ts';
import { bench, BENCH_USAGE } from './bench-cli.ts';
import { STORAGE_USAGE } from './storage-usage.ts';
import { VERSION } from './shared/version.ts';

const USAGE_TEMPLATE = `Usage: skyvault <command> [options]

Commands:
  serve [--config FILE]   start Skyvault (settings from SKYVAULT_* variables, see docs/configuration.md)
  simulate pilot --password PASSWORD [--url URL] [--username NAME] [--files N | --dir PATH] [--concurrency N]
                          a virtual DJI Pilot 2 uploading media the way the real app does
                          (defaults: --url http://127.0.0.1:8080 --username admin --files 10)
  simulate dock --password PASSWORD [--url URL] [--username NAME] [--count N] [--files N] [--stay]
                [--fail-logs CODE]
                          N virtual DJI Docks (SIMDOCK0001…, each with an aircraft) delivering a flight's
                          photos and videos over MQTT the way real docks do; every run is a new flight
                          (defaults: --url http://127.0.0.1:8080 --username admin --count 1 --files 5).
                          They answer the cloud's services, remote logs included (list, export to
                          storage with progress, cancel). --stay keeps them online after their files
                          until Ctrl-C (--files 0: only come online); --fail-logs CODE makes every log
                          export fail part way with that DJI result code (e.g. 324018, 324019, 324016)
__ADMIN__  version                 print the version
  help                    print this help
`;
const USAGE = USAGE_TEMPLATE.replace('__ADMIN__', ADMIN_USAGE + BACKUP_USAGE + STORAGE_USAGE + BENCH_USAGE);

async function simulate(args: string[]): Promise<number> {
  const [device, ...rest] = args;
  if (device === 'dock') return simulateDock(rest);
  let values: Record<string, string | undefined>;
  try {
    if (device !== 'pilot')
      throw new Error(`simulate needs a device: "pilot" or "dock"${device ? `, not "${device}"` : ''}`);
    ({ values } = parseArgs({
      args: rest,
      options: {
        url: { type: 'string', default: 'http://127.0.0.1:8080' },
        username: { type: 'string', default: 'admin' },
        password: { type: 'string' },
        files: { type: 'string' },
        dir: { type: 'string' },
        concurrency: { type: 'string', default: '4' },
      },
    }));
    if (!values.password) throw new Error('--password is required');
    if (values.files !== undefined && values.dir !== undefined)
      throw new Error('give --files or --dir, not both');
    for (const name of ['files', 'concurrency'] as const) {
      if (values[name] !== undefined && !/^[1-9]\d*$/.test(values[name]))
        throw new Error(`--${name} must be a positive whole number`);
    }
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  // Loaded on demand: the simulator pulls in the AWS SDK, which other commands do not need.
  const { simulatePilot } = await import('./simulate/pilot.ts');
  return runSimulation(async () => {
    const summary = await simulatePilot({
      url: values.url!,
      username: values.username!,
      password: values.password!,
      files: values.files === undefined ? undefined : Number(values.files),
      dir: values.dir,
      concurrency: Number(values.concurrency),
      tty: process.stdout.isTTY === true,
    });
    return {
      done: `Done: ${summary.uploaded} uploaded, ${summary.alreadyInCloud} already in the cloud, ${summary.failed} failed.`,
      failed: summary.failed,
    };
  });
}

/** Runs a simulator: prints its summary line; exit 1 on failures, or with one sentence on a SimulationError. */
async function runSimulation(run: () => Promise<{ done: string; failed: number }>): Promise<number> {
  const { SimulationError } = await import('./simulate/pilot.ts');
  try {
    const { done, failed } = await run();
    process.stdout.write(`${done}\n`);
    return failed > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof SimulationError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

async function simulateDock(args: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        url: { type: 'string', default: 'http://127.0.0.1:8080' },
        username: { type: 'string', default: 'admin' },
        password: { type: 'string' },
        count: { type: 'string', default: '1' },
        files: { type: 'string', default: '5' },
        stay: { type: 'boolean', default: false },
        'fail-logs': { type: 'string' },
      },
    }));
    if (!values.password) throw new Error('--password is required');
    if (!/^[1-9]\d*$/.test(values.count as string))
      throw new Error('--count must be a positive whole number');
    if (!/^\d+$/.test(values.files as string))
      throw new Error('--files must be a positive whole number or 0');
    const failLogs = values['fail-logs'];
    if (failLogs !== undefined && !/^[1-9]\d{0,8}$/.test(failLogs as string))
      throw new Error(
        `--fail-logs must be a DJI result code (a positive whole number such as 324018), not "${failLogs}"`,
      );
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { MAX_DOCKS, simulateDock } = await import('./simulate/dock.ts');
  if (Number(values.count) > MAX_DOCKS) {
    process.stderr.write(`--count must be at most ${MAX_DOCKS}\n\n${USAGE}`);
    return 2;
  }
  // With --stay, Ctrl-C is the way out: the first one takes the docks offline cleanly, a second one the
  // process at once (the handler is gone by then).
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  if (values.stay) process.once('SIGINT', onInterrupt);
  try {
    return await runSimulation(async () => {
      const summary = await simulateDock({
        url: values.url as string,
        username: values.username as string,
        password: values.password as string,
        count: Number(values.count),
        files: Number(values.files),
        stay: values.stay === true,
        signal: stop.signal,
        ...(values['fail-logs'] === undefined ? {} : { failLogs: Number(values['fail-logs']) }),
        tty: process.stdout.isTTY === true,
      });
      const services = `${summary.servicesAnswered} ${summary.servicesAnswered === 1 ? 'service' : 'services'} answered`;
      return {
        done: `Done: ${summary.docks} docks, ${summary.uploaded} files uploaded and acknowledged, ${summary.failed} failed. ${services}.`,
        failed: summary.failed,
      };
    });
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

/** Runs a command; resolves with an exit code, or undefined when the command keeps running (serve). */
export async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      let values: { config?: string | undefined };
      try {
        ({ values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' } } }));
      } catch (error) {
        process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
        return 2;
      }
      const { serve } = await import('./main.ts');
      return serve({ configFile: values.config });
    }
    case 'simulate':
      return simulate(rest);
    case 'admin': {
      const { admin } = await import('./admin.ts');
      return admin(rest, {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      });
    }
    case 'backup':
    case 'restore': {
      const { backup, restore } = await import('./backup.ts');
      return (command === 'backup' ? backup : restore)(rest, {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      });
    }
    case 'storage': {
      const { storage } = await import('./storage-cli.ts');
      return storage(rest, {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      });
    }
    case 'bench':
      return bench(rest, {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      });
    case 'version':
    case '--version':
    case '-v':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`Unknown command "${command}".\n\n${USAGE}`);
      return 2;
  }
}
