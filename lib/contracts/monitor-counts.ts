// A monitor's contract is what it counts: its report lines carry counts (named groups in the
// profile's monitorReportPattern), and they must follow what was mirrored to it — within the declared
// tolerance and sampling ratio — and stay put while nothing is. When they do not, the likeliest
// explanation is found among simple ones: it counted nothing, one NIC only, only frames to group
// addresses (its NICs are not promiscuous), or everything but one kind of frame.
//
// Pure: console lines and frame counts in, a check out.
import type { MatchResult } from '../analysis/matchers.ts';
import type { Side } from '../core/sides.ts';
import { valueLabel, type FrameCase, type FrameSpace } from './frame-space.ts';

export interface MonitorCounts {
  frames?: number;
  left?: number;
  right?: number;
}

/** The counts of each report line, in order. */
export function reportedCounts(lines: readonly string[], pattern: RegExp): MonitorCounts[] {
  const out: MonitorCounts[] = [];
  for (const line of lines) {
    const g = pattern.exec(line)?.groups;
    if (!g) continue;
    const num = (k: string) => (g[k] !== undefined && /^\d+$/.test(g[k]!) ? Number(g[k]) : undefined);
    out.push({ frames: num('frames'), left: num('left'), right: num('right') });
  }
  return out;
}

export interface CountingSettings {
  counts: 'cumulative' | 'per-report';
  samplingRatio: number;
  tolerance: number;
}

/** What the lab mirrored to each of the guest's ports: per case (its values), and frames no case sent. */
export interface Mirrored {
  cases: ReadonlyArray<{ case: FrameCase; group: boolean; frames: Record<Side, number> }>;
  other: Record<Side, number>;
}

/** Slack on top of the relative tolerance: a few frames of the lab's own (ARP) around the window. */
const SLACK_FRAMES = 5;

/** How much a monitor reported between a report before (or undefined: nothing before) and those after. */
export function reportedDelta(
  before: MonitorCounts | undefined,
  after: readonly MonitorCounts[],
  settings: CountingSettings,
): MonitorCounts {
  const keys = ['frames', 'left', 'right'] as const;
  const delta: MonitorCounts = {};
  for (const k of keys) {
    if (settings.counts === 'per-report') {
      const values = after.map((c) => c[k]).filter((v): v is number => v !== undefined);
      if (values.length > 0) delta[k] = values.reduce((a, b) => a + b, 0);
    } else {
      const last = [...after].reverse().find((c) => c[k] !== undefined)?.[k];
      if (last !== undefined) delta[k] = last - (before?.[k] ?? 0);
    }
  }
  return delta;
}

function total(m: Mirrored, side: Side, keep: (c: Mirrored['cases'][number]) => boolean = () => true): number {
  return m.cases.filter(keep).reduce((n, c) => n + c.frames[side], 0) + m.other[side];
}

/** The check: the counts follow the mirror; on failure, the likeliest explanation first. */
export function countsFollowMirror(
  reported: MonitorCounts,
  mirrored: Mirrored,
  settings: CountingSettings,
  space: FrameSpace,
): MatchResult {
  const perNic = reported.left !== undefined && reported.right !== undefined;
  const expect = (side?: Side, keep?: Parameters<typeof total>[2]) =>
    settings.samplingRatio * (side ? total(mirrored, side, keep) : total(mirrored, 'left', keep) + total(mirrored, 'right', keep));
  const within = (got: number, want: number) => Math.abs(got - want) <= settings.tolerance * want + SLACK_FRAMES;
  const observed = perNic ? `left ${reported.left}, right ${reported.right}` : `${reported.frames ?? 'no count'}`;
  const wantText = perNic ? `left ${Math.round(expect('left'))}, right ${Math.round(expect('right'))}` : `${Math.round(expect())}`;
  const ok = perNic
    ? within(reported.left!, expect('left')) && within(reported.right!, expect('right'))
    : reported.frames !== undefined && within(reported.frames, expect());
  const sampling = settings.samplingRatio < 1 ? `, sampling ${settings.samplingRatio}` : '';
  const basis = `(${Math.round(settings.tolerance * 100)} % + ${SLACK_FRAMES} frames tolerance${sampling})`;
  if (ok) {
    const headline = `The monitor counted ${observed} frames where ${wantText} were mirrored to it ${basis}.`;
    return { pass: true, headline, message: headline };
  }
  const got = perNic ? reported.left! + reported.right! : (reported.frames ?? 0);
  const why = explain(got, mirrored, settings, space, within);
  const headline =
    `The monitor's counts do not follow the mirrored traffic: it counted ${observed} where ${wantText} were mirrored ` + `— ${why}.`;
  return {
    pass: false,
    headline,
    message: [
      headline,
      `What it counted comes from its report lines (guest.monitorReportPattern, counts ${settings.counts}); what was mirrored, ` +
        `from the captures of the guest's two ports during the same window ${basis}.`,
    ].join('\n'),
  };
}

type Within = (got: number, want: number) => boolean;

function explain(got: number, m: Mirrored, settings: CountingSettings, space: FrameSpace, within: Within): string {
  const r = settings.samplingRatio;
  const all = r * (total(m, 'left') + total(m, 'right'));
  if (got <= SLACK_FRAMES) return 'it counted nothing: it does not receive the mirror, or does not report what it receives';
  const hypotheses: Array<[string, number]> = [
    ['it counts one NIC only (the left)', r * total(m, 'left')],
    ['it counts one NIC only (the right)', r * total(m, 'right')],
  ];
  // A NIC that is not promiscuous takes broadcast (and the groups it joined) and filters unicast to others;
  // many also filter VLANs they were not told about: which tags got through is part of the explanation.
  const promiscuity = filteringNic(got, m, r, space, within);
  if (promiscuity) hypotheses.push(promiscuity);
  for (const d of space.dimensions) {
    for (const v of d.values) {
      const without = (c: Mirrored['cases'][number]) => c.case[d.id] !== v.id;
      const count = r * (total(m, 'left', without) + total(m, 'right', without));
      if (count < all) hypotheses.push([`it misses the frames with ${valueLabel(space, d.id, v.id)}`, count]);
    }
  }
  const match = hypotheses.find(([, want]) => within(got, want));
  if (match) return match[0];
  return got > all
    ? `${Math.round(got - all)} more than was mirrored: its counts are not what it received (made up, or counting something else)`
    : `${Math.round(all - got)} fewer, matching no single kind of frame: it loses frames, or samples them (expect.monitorCounting)`;
}

/**
 * The simplest "not promiscuous" explanation that fits the count: only broadcast (or broadcast and group)
 * frames, of only some VLAN tags (the fewest left out).
 */
function filteringNic(got: number, m: Mirrored, r: number, space: FrameSpace, within: Within): [string, number] | undefined {
  const vlan = space.dimensions.find((d) => d.id === 'vlan');
  const vlans = vlan?.values.map((v) => v.id) ?? [];
  let best: { text: string; want: number; dropped: number } | undefined;
  for (const [dest, keepDest, phrase] of [
    ['broadcast', (c: Mirrored['cases'][number]) => c.case.destination === 'broadcast', 'broadcast frames'],
    ['group', (c: Mirrored['cases'][number]) => c.group, 'frames to broadcast and group addresses'],
  ] as const) {
    for (let mask = 0; mask < 1 << vlans.length; mask++) {
      const kept = vlans.filter((_, i) => mask & (1 << i));
      if (kept.length === 0) continue;
      const keep = (c: Mirrored['cases'][number]) => keepDest(c) && (c.case.vlan === undefined || kept.includes(c.case.vlan));
      const want = r * (total(m, 'left', keep) + total(m, 'right', keep));
      const dropped = vlans.length - kept.length;
      if (!within(got, want) || (best && dropped >= best.dropped)) continue;
      const tags =
        dropped === 0
          ? ''
          : `, and of the VLAN tags only ${kept.map((v) => valueLabel(space, 'vlan', v)).join(', ')} (it filters the others)`;
      best = {
        text:
          `it counted only ${phrase}${tags}: ${dest === 'broadcast' ? 'unicast and multicast' : 'unicast'} frames to other ` +
          'stations were not seen — its NICs are not promiscuous',
        want,
        dropped,
      };
    }
  }
  return best && [best.text, best.want];
}

/** The check that nothing is reported while nothing is mirrored (its counts stay put). */
export function quietWhileNothingMirrored(
  reported: MonitorCounts,
  mirroredFrames: number,
  seconds: number,
  settings: CountingSettings,
): MatchResult {
  const grew = (reported.frames ?? 0) + (reported.left ?? 0) + (reported.right ?? 0);
  const allowed = settings.samplingRatio * mirroredFrames + SLACK_FRAMES;
  if (grew <= allowed) {
    const headline = `Over ${seconds} s with ${mirroredFrames} frames mirrored, the monitor's counts grew by ${grew}.`;
    return { pass: true, headline, message: headline };
  }
  const headline =
    `The monitor reported ${grew} frames over ${seconds} s while ${mirroredFrames} were mirrored to it: its reports do not follow the ` +
    'traffic (counts made up, or counting something other than what it receives).';
  return { pass: false, headline, message: headline };
}
