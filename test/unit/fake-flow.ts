// A clean FlowResult for unit tests of what reads the frame join (matchers, visuals, policy checks):
// `sent` frames seen at every capture point, none lost, changed, duplicated or reordered; a test
// overrides what it breaks.
import type { FlowResult, RewriteCounts } from '../../lib/analysis/flow-report.ts';

export function cleanRewrites(unchanged: number): RewriteCounts {
  return {
    unchanged,
    srcMac: 0,
    dstMac: 0,
    hopLimitDelta: {},
    vlanTags: 0,
    payload: 0,
    length: 0,
    badChecksum: 0,
    arrivedSrcMacs: {},
    arrivedDstMacs: {},
    dscp: 0,
    arrivedDscp: {},
    arrivedHopLimit: {},
    arrivedVlans: {},
    changeSets: {},
  };
}

export function cleanFlow(sent: number, o: Partial<FlowResult> = {}): FlowResult {
  return {
    flowId: 1,
    name: 'f',
    from: 'left',
    to: 'right',
    sent,
    received: { 'left-host': sent, 'guest-left': sent, 'guest-right': sent, 'right-host': sent },
    lost: 0,
    lostSeqs: [],
    duplicated: 0,
    reflected: { atIngressPort: 0, atSender: 0, seqs: [] },
    reordered: { count: 0, maxDisplacement: 0 },
    latencyUs: null,
    latencySamplesUs: [],
    instrumentUs: null,
    egressTimesUs: [],
    ingressTimesUs: [],
    ingressBytes: 0,
    egressBytes: 0,
    rewrites: cleanRewrites(sent),
    differences: [],
    lossRuns: [],
    icmpErrors: [],
    fragmented: { datagrams: 0, incomplete: 0, fragments: 0, largestFragment: 0 },
    corrupted: 0,
    ...o,
  };
}
