// What a service image is, as the OpenContrail service-chain guide names the kinds: a transparent
// (bump-in-the-wire) bridge, an in-network (L3) forwarder, or a monitor (analyzer) fed a mirror.

export const ROLES = ['l2-bridge', 'l3-forwarder', 'monitor'] as const;
export type GuestRole = (typeof ROLES)[number];
