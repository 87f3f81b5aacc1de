/** The `skyvault` command line: serve, simulate, version, help. */
import { parseArgs } from 'node:util';
import { VERSION } from './shared/version.ts';

const USAGE = `Usage: skyvault <command> [options]

Commands:
  serve [--config FILE]   start Skyvault (settings from SKYVAULT_* variables, see docs/configuration.md)
  simulate pilot --password PASSWORD [--url URL] [--username NAME] [--files N | --dir PATH] [--concurrency N]
                          a virtual DJI Pilot 2 uploading media the way the real app does
                          (defaults: --url http://127.0.0.1:8080 --username admin --files 10)
  version                 print the version
  help                    print this help
`;

async function simulate(args: string[]): Promise<number> {
  const [device, ...rest] = args;
  let values: Record<string, string | undefined>;
  try {
    if (device !== 'pilot')
      throw new Error(`simulate needs a device: "pilot"${device ? `, not "${device}"` : ''}`);
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
  const { SimulationError, simulatePilot } = await import('./simulate/pilot.ts');
  try {
    const summary = await simulatePilot({
      url: values.url!,
      username: values.username!,
      password: values.password!,
      files: values.files === undefined ? undefined : Number(values.files),
      dir: values.dir,
      concurrency: Number(values.concurrency),
      tty: process.stdout.isTTY === true,
    });
    process.stdout.write(
      `Done: ${summary.uploaded} uploaded, ${summary.alreadyInCloud} already in the cloud, ${summary.failed} failed.\n`,
    );
    return summary.failed > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof SimulationError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
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
