#!/usr/bin/env node
// Entry point: load TypeScript sources through tsx (no build step), then hand over to the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lib/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
