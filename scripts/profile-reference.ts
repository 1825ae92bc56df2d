// Writes docs/profile-reference.md from the profile schema (the single source of the field docs).
// Run: npx tsx scripts/profile-reference.ts
import { writeFileSync } from 'node:fs';
import { profileSchema } from '../lib/profile/fields.ts';
import { renderReference } from '../lib/profile/schema-engine.ts';

const text = [
  '# Lab profile reference',
  '',
  'Generated from `lib/profile/fields.ts` by `npx tsx scripts/profile-reference.ts`; do not edit by hand.',
  'Relative paths in a profile are relative to the profile file. Check a profile with `wirelab validate <file>`.',
  'Besides the per-field rules below, wirelab checks across fields: exactly one guest image source; every MAC in',
  'the lab distinct; both traffic hosts in one subnet for `l2-bridge` and `monitor`, in two subnets with gateways',
  "for `l3-forwarder`; in a nested lab no subnet overlapping 198.19.0.0/16 (the container engine's management pool);",
  '`host` only with `kind: host`, where the data NICs must not be the management NIC and the two bridges differ',
  '(at run time the data NICs must also not be the NIC the SSH session arrives on, on the bench host and on each',
  'traffic host); on a bench host over SSH `guest.image.disk` is an absolute path on the bench host (plain characters, no',
  '`..`) and `guest.image.upload` a file here, only with such a disk;',
  'a `policy` only for `l2-bridge` and `l3-forwarder` (no VLANs for a router), declaring something to qualify, each class',
  'with its own name, a match no earlier class already has, ports only with `l4: udp`/`tcp`, addresses of one IP version',
  'agreeing with `l3`, and the fields of its action only (`mayChange` for forward, `rate` with exactly one rate for',
  'rate-limit, `set` with at least one field for rewrite, a VLAN rewrite only on a VLAN match); each request class with',
  'its own name, a match that leaves something outside it, `blockedAs` for block (`status` with an error page), `header`',
  'with exactly one of `set` and `remove` for rewrite-header. See',
  '`lab-profiles/nested-policy-firewall.yaml` (transparent) and `nested-policy-debian-gateway.yaml` (routed, L7) for policies',
  'written out.',
  '',
  ...renderReference(profileSchema),
  '',
].join('\n');
writeFileSync(new URL('../docs/profile-reference.md', import.meta.url), text);
console.log('wrote docs/profile-reference.md');
