#!/usr/bin/env node
// Entry point: load TypeScript sources through tsx (no build step), then hand over to the CLI.
import { register } from 'tsx/esm/api';

register();
// Output piped into a reader that stops early (`wirelab plan | head`): the rest is not wanted, yet a
// run still cleans up its lab, so the closed pipe is ignored rather than ending the process.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error;
  });
}
const { main } = await import('../lib/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
