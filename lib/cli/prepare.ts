// `wirelab prepare`: everything a lab needs that is slow the first time and cached after — the
// container engine, the traffic-host image and the reference service images. Idempotent.
import { ensureDockerEngine } from '../runtime/docker-engine.ts';
import { REFERENCE_VARIANTS, buildReferenceImage } from '../images/reference-image.ts';
import { ensureTrafficHostImage } from '../images/traffic-host-image.ts';

export async function prepare(): Promise<number> {
  const t0 = performance.now();
  const engine = await ensureDockerEngine();
  console.log(`wirelab prepare: container engine ${engine.startedByUs ? 'started' : 'already running'} (${engine.socketPath})`);
  const tag = await ensureTrafficHostImage();
  console.log(`wirelab prepare: traffic-host image ${tag}`);
  for (const variant of REFERENCE_VARIANTS) {
    const image = await buildReferenceImage(variant.name);
    console.log(`wirelab prepare: reference image ${variant.name.padEnd(22)} ${image.digest.slice(0, 12)}`);
  }
  console.log(`wirelab prepare: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

export async function listImages(): Promise<number> {
  for (const v of REFERENCE_VARIANTS)
    console.log(`${v.name.padEnd(22)} ${v.role.padEnd(13)} ${v.fault ? `FAULT: ${v.fault}` : 'good'} — ${v.description}`);
  return 0;
}
