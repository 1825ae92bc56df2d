// A run's identity: `wl-` and six hex digits. Every resource a run creates carries it (the network
// namespace is named after it, containers are labelled with it), and every test frame carries it as
// the 32-bit run tag of its signature, so captures of one run are never confused with another's.
import { randomBytes } from 'node:crypto';

export type RunId = `wl-${string}`;

/** Network namespaces and run ids look like `wl-1a2b3c`; nothing else matches this. */
export const RUN_ID_PATTERN = /^wl-[0-9a-f]{6}$/;

export function newRunId(): RunId {
  return `wl-${randomBytes(3).toString('hex')}`;
}

export function isRunId(text: string): text is RunId {
  return RUN_ID_PATTERN.test(text);
}

/** The run id as the signature's 32-bit run tag (`wl-1a2b3c` → 0x1a2b3c). */
export function runTag(runId: RunId): number {
  return parseInt(runId.slice(3), 16) >>> 0;
}
