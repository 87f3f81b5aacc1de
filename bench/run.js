#!/usr/bin/env node
// `npm run bench [-- --quick] [-- NAME[,NAME…]]`: the benchmark runner, bench/run-lib.ts, loaded
// through tsx (a dependency, as bin/skyvault.js loads the sources). Benchmarks are not tests; see
// bench/README.md. `npm run bench -- --help` lists the options.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./run-lib.ts');
process.exitCode = await main(process.argv.slice(2));
