// The shape of a lab profile after validation (defaults filled in). Field documentation lives in
// profile-schema.ts, the single source for checks and docs.

import type { EmissionClass } from '../analysis/emissions.ts';
import type { GuestRole } from '../core/roles.ts';
import type { Policy } from '../policy/model.ts';
import type { RawPolicy } from './policy-fields.ts';
import type { Rfc2544Settings } from '../rfc2544/config.ts';
import type { SoakSettings } from './soak-fields.ts';
import type { ReservedGroupPolicy } from '../contracts/settings.ts';

export type { GuestRole };
export type LabKind = 'nested' | 'host';

export interface SshTargetProfile {
  address: string;
  port: number;
  user: string;
  hostKey: string;
  privateKeyFile?: string;
}

export interface TrafficHostProfile {
  ipv4: string;
  mac?: string;
  gateway?: string;
  /** IPv6 address with prefix, in 2001:db8::/32. */
  ipv6?: string;
  gateway6?: string;
  dataNic: string;
  ssh?: SshTargetProfile;
}

export interface BenchHostProfile {
  connection: 'local' | 'ssh';
  ssh?: SshTargetProfile;
  managementNic?: string;
  dataNics: { left: string; right: string };
  bridges: { left: string; right: string };
  libvirtUri: string;
  netns?: string;
}

interface ProfileCommon {
  name: string;
  kind: LabKind;
  role: GuestRole;
  trafficHosts: { left: TrafficHostProfile; right: TrafficHostProfile };
  expect: {
    mtu: number;
    loadPps: number;
    frames: number;
    latencyP99Ms: number;
    latencyP50Ms: number;
    latencyAsymmetryMs: number;
    guestMayEmit: EmissionClass[];
    reservedGroups: ReservedGroupPolicy;
    monitorCounting: { counts: 'cumulative' | 'per-report'; samplingRatio: number; tolerance: number };
  };
  /** The RFC 2544 suite's settings (unset knobs absent: their defaults are in lib/rfc2544/config.ts). */
  rfc2544: Rfc2544Settings;
  rfc2889: { maxStations: number; capacityRatePps: number; learningStations: number };
  restart: {
    ratePps: number;
    leadSeconds: number;
    maxOutageSeconds: number;
    maxReorderedAfter: number;
    serviceCommand?: string;
    flapSeconds: number;
  };
  soak: SoakSettings;
  host?: BenchHostProfile;
}

interface GuestCommon {
  memoryMiB: number;
  cpus: number;
  accel: 'auto' | 'kvm' | 'tcg';
  nics: { left: { mac?: string; mtu?: number }; right: { mac?: string; mtu?: number } };
  ready: { consolePattern: string; timeoutSeconds: number; maxForwardingGapSeconds: number };
  monitorReportPattern: string;
  haltTimeoutSeconds: number;
}

/** As the schema validator returns it. */
export interface RawProfile extends ProfileCommon {
  policy?: RawPolicy;
  guest: GuestCommon & {
    image: { reference?: string; kernel?: string; initrd?: string; append?: string; disk?: string; upload?: string };
  };
}

export type GuestImageSource =
  | { kind: 'reference'; reference: string }
  | { kind: 'kernel'; kernel: string; initrd: string; append: string }
  /** On a bench host over SSH, `disk` is a path there and `upload` (if any) a file here to put at it. */
  | { kind: 'disk'; disk: string; upload?: string };

/** A validated profile: absolute paths, one image source. */
export interface LabProfile extends ProfileCommon {
  file: string;
  /** What the service does to each class of traffic on purpose; absent: the role's contract for everything. */
  policy?: Policy;
  guest: GuestCommon & { image: GuestImageSource };
}
