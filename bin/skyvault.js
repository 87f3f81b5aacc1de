#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx (Node 20 cannot strip types itself).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
const code = await main(process.argv.slice(2));
if (code !== undefined) process.exitCode = code;
