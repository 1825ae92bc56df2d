// No line in lib/ longer than 140 characters: Prettier keeps code within it, but not strings and
// comments, which this check catches. Prints each offending line and exits 1.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const MAX = 140;
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'lib/'], { encoding: 'utf8' })
  .split('\n')
  .filter((f) => f.endsWith('.ts'));
let long = 0;
for (const file of files) {
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.length > MAX) {
        long++;
        console.error(`${file}:${i + 1}: ${line.length} characters (at most ${MAX})`);
      }
    });
}
if (long > 0) process.exit(1);
