// What of a lab profile shapes a role's contract: the MTUs, the IP versions the traffic hosts speak,
// what the image declares about the reserved group addresses. The contracts read these plain values,
// never the profile itself, so they stay pure and unit-testable.
import type { GuestRole } from '../core/roles.ts';
import type { Side } from '../core/sides.ts';

/**
 * What a bridge does with frames to 01:80:c2:00:00:00–0f (IEEE 802.1Q Table 8-1):
 *  - `standard`: relays none of 01–0f; BPDUs (00) either way — a bridge that does not run STP may relay them (Linux does);
 *  - `filter`: relays none of them, BPDUs included (a standards bridge);
 *  - `pass`: relays all of them (a bump in the wire that is invisible to the switches around it).
 */
export type ReservedGroupPolicy = 'standard' | 'filter' | 'pass';
export const RESERVED_GROUP_POLICIES: readonly ReservedGroupPolicy[] = ['standard', 'filter', 'pass'];

export interface ContractSettings {
  role: GuestRole;
  /** The largest IP packet the data path carries (expect.mtu). */
  mtu: number;
  /** The MTU of the guest's NIC on each side (a router's egress MTU decides fragmentation and Packet Too Big). */
  sideMtu: Record<Side, number>;
  /** IP versions the traffic hosts are addressed in (a router is checked in each). */
  ipVersions: readonly (4 | 6)[];
  reservedGroups: ReservedGroupPolicy;
}
