// What a reference service image learns from the profile on its kernel command line: its addresses
// (an l3-forwarder's gateways, IPv4 and IPv6, with the hosts' prefixes) and its NICs' MTUs. Real
// images configure themselves; wirelab's own images follow the profile, so a profile that moves the
// subnets or declares per-side MTUs describes the reference router it runs.
import { addressOf, parseCidr, parseCidr6 } from '../core/addressing.ts';
import { SIDES } from '../core/sides.ts';
import type { LabProfile } from '../profile/types.ts';

export function referenceImageArguments(profile: LabProfile): string[] {
  const args: string[] = [];
  for (const side of SIDES) {
    const host = profile.trafficHosts[side];
    const mtu = profile.guest.nics[side].mtu;
    if (mtu !== undefined) args.push(`wirelab.${side}mtu=${mtu}`);
    if (profile.role !== 'l3-forwarder') continue;
    const v4 = parseCidr(host.ipv4);
    if (host.gateway && v4) args.push(`wirelab.${side}=${addressOf(host.gateway)}/${v4.prefix}`);
    const v6 = host.ipv6 ? parseCidr6(host.ipv6) : null;
    if (host.gateway6 && v6) args.push(`wirelab.${side}6=${host.gateway6}/${v6.prefix}`);
  }
  return args;
}
