/** The `skyvault` command line. Subcommands: serve (later: simulate, bench). */
import { parseArgs } from 'node:util';
import { serve } from './main.ts';
import { VERSION } from './shared/version.ts';

const USAGE = `Usage: skyvault <command> [options]

Commands:
  serve [--config FILE]   start Skyvault (HTTP API; settings from SKYVAULT_* variables, see docs/configuration.md)
  version                 print the version
  help                    print this help
`;

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
      return serve({ configFile: values.config });
    }
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
