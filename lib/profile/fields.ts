// The lab profile's fields: one schema for both lab kinds. `nested` puts everything on this machine
// (bridges in a network namespace of the run's own, QEMU on taps, traffic hosts as containers);
// `host` is the three-NIC bench host (eth0 management, eth1→br0, eth2→br1, libvirt guest, SSH traffic hosts).
import {
  MAC_PATTERN,
  inBenchmarkRange,
  inDocumentationRange6,
  ipv6Groups,
  isMulticastMac,
  parseCidr,
  parseCidr6,
  subnetInBenchmarkRange,
} from '../core/addressing.ts';
import { RESERVED_GROUP_POLICIES } from '../contracts/settings.ts';
import type { FieldCheck, FieldSpec, ObjectSpec, StringSpec } from './schema-engine.ts';

import { ROLES } from '../core/roles.ts';
import { patternProblem } from './patterns.ts';
import { EMISSION_CLASSES } from '../analysis/emissions.ts';
import { policySchema } from './policy-fields.ts';
import { soakSchema } from './soak-fields.ts';
import { RFC2544_ENV_PREFIX, RFC2544_KNOBS, RFC2544_SIZES_KNOB } from '../rfc2544/config.ts';

export const LAB_KINDS = ['nested', 'host'] as const;

/** A console pattern: a valid, non-empty regular expression that cannot backtrack catastrophically. */
const consolePattern: FieldCheck = (v) => (typeof v === 'string' ? patternProblem(v) : null);
const PATTERN_FIX =
  'write it without a repetition inside a repetition, and not empty: each console line is matched on its own, so a literal ' +
  "part of the line is enough, e.g. 'service ready$'.";

const unicastMac: FieldCheck = (v) =>
  typeof v === 'string' && isMulticastMac(v) ? `is "${v}", a multicast/broadcast MAC; a NIC needs a unicast MAC.` : null;

const cidrInBenchmarkRange: FieldCheck = (v) => {
  if (typeof v !== 'string') return null;
  const cidr = parseCidr(v);
  if (!cidr) return `is "${v}", which is not an IPv4 address with a prefix length (address/prefix).`;
  if (!inBenchmarkRange(cidr.address)) return `is "${v}", outside 198.18.0.0/15, the only range lab traffic may use.`;
  return subnetInBenchmarkRange(cidr)
    ? null
    : `is "${v}": its prefix /${cidr.prefix} reaches outside 198.18.0.0/15 (the host would route those addresses over the lab` +
        `${cidr.prefix === 0 ? ', and lose its default route' : ''}); the prefix must be 15 or longer.`;
};

const addressInBenchmarkRange: FieldCheck = (v) => {
  if (typeof v !== 'string') return null;
  if (!parseCidr(`${v}/32`)) return `is "${v}", which is not an IPv4 address.`;
  return inBenchmarkRange(v) ? null : `is "${v}", outside 198.18.0.0/15, the only range lab traffic may use.`;
};

const cidr6InDocumentationRange: FieldCheck = (v) => {
  if (typeof v !== 'string') return null;
  const c = parseCidr6(v);
  if (!c) return `is "${v}", which is not an IPv6 address with a prefix length (address/prefix).`;
  if (!inDocumentationRange6(c.groups)) return `is "${v}", outside 2001:db8::/32, the only IPv6 range lab traffic may use.`;
  return c.prefix >= 32 ? null : `is "${v}": its prefix /${c.prefix} reaches outside 2001:db8::/32; it must be 32 or longer.`;
};

const address6InDocumentationRange: FieldCheck = (v) => {
  if (typeof v !== 'string') return null;
  const g = ipv6Groups(v);
  if (!g) return `is "${v}", which is not an IPv6 address.`;
  return inDocumentationRange6(g) ? null : `is "${v}", outside 2001:db8::/32, the only IPv6 range lab traffic may use.`;
};

const nicMtu = (side: 'left' | 'right'): FieldSpec => ({
  type: 'number',
  integer: true,
  min: 576,
  max: 9000,
  doc:
    `The MTU the image uses on its ${side} NIC (it configures that itself; wirelab's reference images take it from the kernel ` +
    'command line). Left out: `expect.mtu`. A router whose sides differ is checked for fragmentation and Packet Too Big towards ' +
    'the smaller side.',
});

const mac = (doc: string): StringSpec => ({
  type: 'string',
  doc,
  pattern: MAC_PATTERN,
  patternName: 'a MAC address like 02:00:5e:10:00:01',
  checks: [unicastMac],
  example: '02:00:5e:10:00:01',
  fix:
    'use six colon-separated hex bytes of a unicast MAC, preferably locally administered (first byte 02), e.g. 02:00:5e:10:00:01; ' +
    'or leave it out to have one generated.',
});

const nicName = (doc: string, example: string): StringSpec => ({
  type: 'string',
  doc,
  pattern: /^[A-Za-z0-9_.-]{1,15}$/,
  patternName: 'a Linux interface name (1–15 letters, digits, _ . -)',
  example,
});

const sshTarget = (what: string): ObjectSpec => ({
  type: 'object',
  doc: `How wirelab reaches ${what} over SSH. The host key is pinned: a host presenting another key is refused.`,
  fields: {
    address: { type: 'string', required: true, doc: 'Host name or management IP address.', example: 'bench1.lab.example' },
    port: { type: 'number', integer: true, min: 1, max: 65535, default: 22, doc: 'SSH port.' },
    user: {
      type: 'string',
      default: 'root',
      doc: 'Login user: root (bridges, libvirt and tcpdump need it; wirelab does not use sudo).',
    },
    hostKey: {
      type: 'string',
      required: true,
      pattern: /^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/=]+( .*)?$/,
      patternName: 'an OpenSSH public key line (type and base64 key)',
      doc: "The host's public key, as in its /etc/ssh/ssh_host_ed25519_key.pub (type and base64). Verification is always on.",
      example: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA...',
      fix: "paste the line from the host's /etc/ssh/ssh_host_ed25519_key.pub (or `ssh-keyscan -t ed25519 <host>` checked out of band).",
    },
    privateKeyFile: {
      type: 'string',
      doc: 'Private key file for key authentication (relative to the profile). Needed: wirelab logs in with key files, not an agent.',
    },
  },
});

export const profileSchema: ObjectSpec = {
  type: 'object',
  doc: 'A wirelab lab profile.',
  fields: {
    name: {
      type: 'string',
      required: true,
      doc: 'Name of the profile, shown in reports.',
      pattern: /^[A-Za-z0-9._-]{1,64}$/,
      patternName: 'a short name (letters, digits, . _ -)',
      example: 'nested-l2-bridge',
    },
    kind: {
      type: 'string',
      required: true,
      enum: LAB_KINDS,
      doc:
        '`nested`: the whole lab on this machine (QEMU on taps, container traffic hosts). `host`: the three-NIC bench host with ' +
        'libvirt and SSH traffic hosts.',
    },
    role: {
      type: 'string',
      required: true,
      enum: ROLES,
      doc:
        'What the service image is: `l2-bridge` (transparent, forwards by MAC), `l3-forwarder` (routes by IP, rewrites MACs and ' +
        'TTL) or `monitor` (receives mirrored traffic, injects nothing).',
    },
    guest: {
      type: 'object',
      required: true,
      doc: 'The service image under test and how to boot it.',
      fields: {
        image: {
          type: 'object',
          required: true,
          doc: 'Exactly one of `reference`, `kernel`+`initrd`, or `disk`.',
          fields: {
            reference: {
              type: 'string',
              doc:
                "A wirelab reference image built on this machine (see `wirelab images`), e.g. the good 'l2-bridge' or a faulty " +
                'variant for negative controls.',
              example: 'l2-bridge',
            },
            kernel: {
              type: 'string',
              doc: 'Path to a Linux kernel (bzImage), relative to the profile; needs `initrd`.',
              example: 'images/vmlinuz',
            },
            initrd: { type: 'string', doc: 'Path to the initramfs that goes with `kernel`.' },
            append: {
              type: 'string',
              default: 'console=ttyS0',
              doc: 'Kernel command line for a `kernel` image. Keep console=ttyS0: readiness is read from the serial console.',
            },
            disk: {
              type: 'string',
              doc:
                'A qcow2 (or raw) disk image. Never modified: the guest runs on an overlay. In a nested lab (or a bench host with ' +
                '`connection: local`) a path on this machine, relative to the profile; on a bench host over SSH an absolute path on ' +
                'the bench host, where wirelab finds it (or puts it, with `upload`).',
              example: 'images/service.qcow2',
            },
            upload: {
              type: 'string',
              doc:
                'Only for a bench host over SSH, with `disk`: a disk image on this machine (relative to the profile) that wirelab ' +
                'puts at `disk` on the bench host: found there when the SHA-256 matches, otherwise uploaded over SFTP with a progress ' +
                'line and checked on both ends. A different file already at `disk` is never replaced.',
              example: 'images/service.qcow2',
            },
          },
        },
        memoryMiB: { type: 'number', integer: true, min: 64, max: 16384, default: 256, doc: 'Guest memory in MiB.' },
        cpus: { type: 'number', integer: true, min: 1, max: 16, default: 1, doc: 'Guest vCPUs.' },
        accel: {
          type: 'string',
          enum: ['auto', 'kvm', 'tcg'],
          default: 'auto',
          doc: '`auto` uses KVM where it boots guests and TCG (software emulation) elsewhere.',
        },
        nics: {
          type: 'object',
          doc: "The guest's two data NICs (virtio). The first is on br0 (left), the second on br1 (right).",
          fields: {
            left: {
              type: 'object',
              doc: 'NIC on br0.',
              fields: {
                mac: mac('MAC of the left NIC. Left out: a fresh locally administered MAC per run (what an orchestrator does).'),
                mtu: nicMtu('left'),
              },
            },
            right: {
              type: 'object',
              doc: 'NIC on br1.',
              fields: { mac: mac('MAC of the right NIC. Left out: generated per run.'), mtu: nicMtu('right') },
            },
          },
        },
        ready: {
          type: 'object',
          doc: 'How wirelab knows the guest has booted.',
          fields: {
            consolePattern: {
              type: 'string',
              default: 'wirelab-guest: ready',
              doc: 'Regular expression matched against each serial console line.',
              checks: [consolePattern],
              fix: PATTERN_FIX,
            },
            timeoutSeconds: {
              type: 'number',
              min: 1,
              max: 3600,
              default: 60,
              doc: 'How long to wait for the pattern. Disk images with systemd need ≥ 60 s under TCG.',
            },
            maxForwardingGapSeconds: {
              type: 'number',
              min: 0,
              max: 600,
              default: 1,
              doc: 'How long after claiming readiness the guest may take before frames really cross (readiness honesty).',
            },
          },
        },
        monitorReportPattern: {
          type: 'string',
          default: 'wirelab-monitor: rx left=(?<left>\\d+) right=(?<right>\\d+)',
          doc:
            'For a `monitor`: regular expression of the console line by which the guest reports what it received, with its counts ' +
            'as named groups: `(?<frames>\\d+)` for all data NICs together, or `(?<left>\\d+)` and `(?<right>\\d+)` per NIC. ' +
            'The counts are compared with what was mirrored to it (`expect.monitorCounting`).',
          checks: [consolePattern],
          fix: PATTERN_FIX,
        },
        haltTimeoutSeconds: {
          type: 'number',
          min: 1,
          max: 600,
          default: 30,
          doc: 'How long a graceful halt (ACPI power button / `virsh shutdown`) may take before the run says the image will not halt.',
        },
      },
    },
    trafficHosts: {
      type: 'object',
      required: true,
      doc: 'The traffic hosts on each side of the guest. In a nested lab they are containers; on a bench host, SSH hosts.',
      fields: {
        left: trafficHost('left', '198.18.0.1/24'),
        right: trafficHost('right', '198.18.0.2/24'),
      },
    },
    expect: {
      type: 'object',
      doc: "The service's promised performance; the suites hold the image to it.",
      fields: {
        mtu: {
          type: 'number',
          integer: true,
          min: 576,
          max: 9000,
          default: 1500,
          doc: 'Largest IP packet the data path carries (full-size frames are MTU + 14 bytes, + 4 per VLAN tag).',
        },
        loadPps: {
          type: 'number',
          min: 1,
          max: 10_000_000,
          default: 250,
          doc:
            'Offered load (frames/s per direction) for the loss/duplicate/order/latency checks. The default suits a guest under ' +
            'software emulation (TCG); raise it to what the image promises on real hardware.',
        },
        frames: {
          type: 'number',
          integer: true,
          min: 10,
          max: 10_000_000,
          default: 1000,
          doc: 'Frames per direction for the loss/duplicate/order checks.',
        },
        latencyP99Ms: {
          type: 'number',
          min: 0.001,
          max: 60_000,
          default: 100,
          doc:
            'Bound on the 99th-percentile forwarding latency through the guest, in ms. The default suits a guest under software ' +
            'emulation (TCG) on a busy 2-core machine; tighten it to what the image promises on real hardware.',
        },
        latencyP50Ms: {
          type: 'number',
          min: 0.001,
          max: 60_000,
          default: 2,
          doc:
            "Bound on the median forwarding latency through the guest, in ms above the lab's own floor (the same path without " +
            'the guest, measured per run). The default holds for a good guest under TCG and catches a few ms of added delay.',
        },
        latencyAsymmetryMs: {
          type: 'number',
          min: 0.001,
          max: 60_000,
          default: 1.5,
          doc:
            "Bound on the difference between the two directions' median latencies, in ms: a delay in one direction only (a queue, " +
            'a shaper) shows here even within the median bound.',
        },
        reservedGroups: {
          type: 'string',
          enum: RESERVED_GROUP_POLICIES,
          default: 'standard',
          doc:
            'For an `l2-bridge`: what it does with frames to the reserved group addresses 01:80:c2:00:00:00–0f (STP, 802.1X, ' +
            'LLDP…). `standard`: relays none of 01–0f, BPDUs (00) either way — a bridge that runs no spanning tree may relay them, ' +
            'as Linux does; `filter`: relays none, BPDUs included (IEEE 802.1Q); `pass`: relays them all (a bump in the wire ' +
            'invisible to the switches around it).',
        },
        monitorCounting: {
          type: 'object',
          doc: 'For a `monitor`: how its reported counts must follow what was mirrored to it.',
          fields: {
            counts: {
              type: 'string',
              enum: ['cumulative', 'per-report'],
              default: 'cumulative',
              doc: '`cumulative`: each report gives the total since boot (a counter); `per-report`: what arrived since the last report.',
            },
            samplingRatio: {
              type: 'number',
              min: 0.000001,
              max: 1,
              default: 1,
              doc: 'The share of frames it counts (1: every frame; 0.01 for 1 in 100 sampling).',
            },
            tolerance: {
              type: 'number',
              min: 0,
              max: 1,
              default: 0.02,
              doc: 'How far its count may be from the expected one, as a share of the frames mirrored (plus 5 frames).',
            },
          },
        },
        guestMayEmit: {
          type: 'list',
          items: { type: 'string', enum: EMISSION_CLASSES, doc: 'An emission class.' },
          default: [],
          example: 'ipv6-link-local',
          doc:
            'Classes of frames the guest may send by itself beyond what its role allows, for an accepted image: ' +
            `${EMISSION_CLASSES.join(', ')}. Still reported, not failed. An \`l3-forwarder\` may always speak its links' control ` +
            'plane (arp, ipv6-link-local, igmp, icmp-error); an `l2-bridge` and a `monitor` may send nothing unless listed here.',
        },
      },
    },
    policy: policySchema,
    rfc2544: rfc2544Section(),
    rfc2889: {
      type: 'object',
      doc:
        'The RFC 2889 suite (`wirelab run rfc2889`, l2-bridge images): address caching capacity, address learning rate, ' +
        'broadcast forwarding rate. Trial length, confirmations and the search come from `rfc2544`. Each field has an ' +
        'environment override WIRELAB_RFC2889_<FIELD IN CAPITALS WITH UNDERSCORES>.',
      fields: {
        maxStations: {
          type: 'number',
          integer: true,
          min: 1,
          max: 1_000_000,
          default: 1024,
          doc: 'Most stations (MACs) the capacity search tries: a bridge holding them all is reported as "≥" this.',
        },
        capacityRatePps: {
          type: 'number',
          min: 10,
          max: 1_000_000,
          default: 500,
          doc: 'Learning frames per second while the capacity is searched: low, so the learning rate never limits it.',
        },
        learningStations: {
          type: 'number',
          integer: true,
          min: 1,
          max: 1_000_000,
          default: 256,
          doc: 'Stations per trial of the learning-rate search (at most the capacity found).',
        },
      },
    },
    restart: {
      type: 'object',
      doc:
        'The restart-outage suite (`wirelab run restart-outage`): constant traffic both ways while the service is restarted, the ' +
        'guest reset and a guest NIC flapped; the outage is measured per direction, frame by frame.',
      fields: {
        ratePps: { type: 'number', min: 10, max: 100_000, default: 200, doc: 'Frames/s per direction during the measurement.' },
        leadSeconds: {
          type: 'number',
          min: 1,
          max: 60,
          default: 3,
          doc: 'Traffic before the disruption (the frames that show the service worked until then).',
        },
        maxOutageSeconds: {
          type: 'number',
          min: 0.001,
          max: 600,
          default: 20,
          doc:
            'Bound on the outage per direction: from the first frame lost to the first delivered again. The traffic runs this ' +
            'long after the disruption (and 5 s more), so a direction that is still down then "stayed down". The default suits ' +
            'a small image rebooting under TCG on a busy machine.',
        },
        maxReorderedAfter: {
          type: 'number',
          integer: true,
          min: 0,
          max: 1_000_000,
          default: 0,
          doc: 'Bound on frames that arrive out of order after the recovery.',
        },
        serviceCommand: {
          type: 'string',
          doc:
            'A line typed on the guest console that restarts its service (e.g. `systemctl restart my-service`, for an image with ' +
            'a console shell). Reference l2-bridge images: `wirelab-restart-service` when left out; other images skip the service ' +
            'restart.',
          example: 'systemctl restart bridge',
        },
        flapSeconds: { type: 'number', min: 0.1, max: 60, default: 2, doc: "How long the guest's left NIC link stays down in the flap." },
      },
    },
    soak: soakSchema,
    host: {
      type: 'object',
      doc: 'Only for `kind: host`: the three-NIC bench host.',
      fields: {
        connection: {
          type: 'string',
          enum: ['local', 'ssh'],
          default: 'local',
          doc: '`local`: wirelab runs on the bench host itself. `ssh`: wirelab reaches it over SSH (see `ssh`).',
        },
        ssh: sshTarget('the bench host'),
        managementNic: nicName('The NIC that carries the management address (never touched).', 'eth0'),
        dataNics: {
          type: 'object',
          doc: 'The two NICs that become bridge ports for the guest.',
          fields: {
            left: { ...nicName('NIC enslaved to the left bridge.', 'eth1'), default: 'eth1' },
            right: { ...nicName('NIC enslaved to the right bridge.', 'eth2'), default: 'eth2' },
          },
        },
        bridges: {
          type: 'object',
          doc: 'Bridge names on the bench host.',
          fields: {
            left: { ...nicName('Left bridge.', 'br0'), default: 'br0' },
            right: { ...nicName('Right bridge.', 'br1'), default: 'br1' },
          },
        },
        libvirtUri: {
          type: 'string',
          default: 'qemu:///system',
          // The bench host's own libvirtd only: a remote transport or any query parameter would let a
          // profile run a program as root (qemu+ext:…?command=) or skip host-key checks (no_verify=1).
          pattern: /^qemu(\+unix)?:\/\/\/(system|session)$/,
          patternName: 'one of qemu:///system, qemu:///session, qemu+unix:///system, qemu+unix:///session',
          fix:
            "use qemu:///system (the bench host's own libvirtd); wirelab reaches a remote bench host over host.ssh, " +
            'never through libvirt.',
          doc: 'libvirt connection URI on the bench host: its own libvirtd (no remote transports, no query parameters).',
        },
        netns: {
          type: 'string',
          pattern: /^[A-Za-z0-9_.-]{1,64}$/,
          patternName: 'a network namespace name',
          doc:
            "Only with `connection: local`: run the bench host's commands (NIC checks, bridges, libvirtd) inside this network " +
            'namespace of this machine — for a bench host whose lab NICs live in a namespace, or a simulated one.',
          example: 'bench0',
        },
      },
    },
  },
};

function trafficHost(side: 'left' | 'right', example: string): ObjectSpec {
  return {
    type: 'object',
    required: true,
    doc: `The ${side} traffic host (on br${side === 'left' ? 0 : 1}).`,
    fields: {
      ipv4: {
        type: 'string',
        required: true,
        doc: 'Address and prefix of its data NIC, inside 198.18.0.0/15.',
        example,
        checks: [cidrInBenchmarkRange],
        fix: `use an address inside 198.18.0.0/15 with a prefix of 15 or longer (the subnet must stay inside it), e.g. ${example}.`,
      },
      mac: mac('MAC of its data NIC. Left out: generated per run.'),
      gateway: {
        type: 'string',
        doc: "Next hop for the other side's subnet (the L3 forwarder's address on this side).",
        checks: [addressInBenchmarkRange],
        example: side === 'left' ? '198.18.1.1' : '198.18.2.1',
      },
      ipv6: {
        type: 'string',
        doc:
          'IPv6 address and prefix of its data NIC, inside 2001:db8::/32. An `l3-forwarder` is checked in IPv6 too when both ' +
          'hosts have one (with `gateway6`).',
        example: side === 'left' ? '2001:db8:1::2/64' : '2001:db8:2::2/64',
        checks: [cidr6InDocumentationRange],
        fix:
          'use an address inside 2001:db8::/32 with a prefix of 32 or longer, e.g. ' +
          `${side === 'left' ? '2001:db8:1::2/64' : '2001:db8:2::2/64'}.`,
      },
      gateway6: {
        type: 'string',
        doc: "The L3 forwarder's IPv6 address on this side (the next hop for the other side's IPv6 subnet).",
        example: side === 'left' ? '2001:db8:1::1' : '2001:db8:2::1',
        checks: [address6InDocumentationRange],
      },
      dataNic: {
        ...nicName("On a bench host: the traffic host's NIC cabled to the lab. In a nested lab it is always eth1.", 'eth1'),
        default: 'eth1',
      },
      ssh: sshTarget(`the ${side} traffic host (bench host only)`),
    },
  };
}

/** The RFC 2544 suite's settings, from the one knob table (each also a `wirelab run` flag and an environment override). */
function rfc2544Section(): ObjectSpec {
  const fields: Record<string, FieldSpec> = {
    sizes: {
      type: 'list',
      items: { type: 'number', integer: true, min: RFC2544_SIZES_KNOB.min, max: RFC2544_SIZES_KNOB.max, doc: 'A frame size on the wire.' },
      maxItems: 32,
      example: '64, 1518',
      doc: `${RFC2544_SIZES_KNOB.doc} Flag --${RFC2544_SIZES_KNOB.flag}, override ${RFC2544_ENV_PREFIX}${RFC2544_SIZES_KNOB.env}.`,
    },
  };
  for (const k of RFC2544_KNOBS) {
    fields[k.field] = {
      type: 'number',
      min: k.min,
      max: k.max,
      integer: k.integer,
      default: k.default,
      doc: `${k.doc} Flag --${k.flag}, override ${RFC2544_ENV_PREFIX}${k.env}.`,
    };
  }
  return {
    type: 'object',
    doc:
      'Settings of the RFC 2544 suite (`wirelab run rfc2544`): frame sizes, trial length, the ceiling, the NDR/PDR search and its ' +
      'confirm trials, the loss sweep, back-to-back bursts. Rates are frames/s per direction.',
    fields,
  };
}
