// `wirelab image check <qcow2>` and `wirelab image fix <src> <dst> [--in-place]`: offline image
// hygiene (a leftover 70-persistent-net.rules), with libguestfs. `check` never writes; `fix` writes a
// cleaned copy, and changes the original only with --in-place.
import { parseArgs } from 'node:util';
import { WirelabError } from '../core/errors.ts';
import { checkImage, describeReport, fixImage } from '../images/image-hygiene.ts';

const USAGE =
  'usage: wirelab image check <image.qcow2> | wirelab image fix <src.qcow2> <dst.qcow2> | wirelab image fix <image.qcow2> --in-place';

/** Exit codes: 0 clean (check) or fixed (fix), 1 the image carries persistent-net rules (check), 2 usage. */
export async function imageCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { 'in-place': { type: 'boolean' } },
    strict: true,
  });
  if (sub === 'check') {
    if (positionals.length !== 1 || values['in-place']) throw usage("'wirelab image check' takes one image and no options.");
    const report = await checkImage(positionals[0]!);
    console.log(describeReport(report));
    return report.persistentNetRules ? 1 : 0;
  }
  if (sub === 'fix') {
    const inPlace = values['in-place'] ?? false;
    const [src, dst = inPlace ? positionals[0] : undefined] = positionals;
    if (!src || !dst || positionals.length > 2) throw usage("'wirelab image fix' takes <src> <dst>, or one image with --in-place.");
    const found = await fixImage(src, dst, { inPlace });
    console.log(describeReport(found));
    console.log(
      found.persistentNetRules
        ? `${dst}: written without ${'/etc/udev/rules.d/70-persistent-net.rules'}${inPlace ? ' (in place)' : `; ${src} is unchanged`}.`
        : `${dst}: nothing to remove${inPlace ? '' : ` (an identical copy of ${src})`}.`,
    );
    return 0;
  }
  throw usage(sub ? `'${sub}' is not an image command.` : 'an image command is missing.');
}

function usage(message: string): WirelabError {
  return new WirelabError(`${message} ${USAGE}`, { exitCode: 2 });
}
