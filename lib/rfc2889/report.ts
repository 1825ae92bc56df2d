// RFC 2889 results as a person reads them in the report: address caching capacity, address learning
// rate and broadcast forwarding rate, each a table in the style of the RFC 2544 ones (same Table
// shape, rendered by lib/rfc2544/report.ts). A bridge whose test frames all went through — none
// filtered, not even for the fewest stations — learns no MACs: it is reported as flooding.
//
// Pure: results in, tables out.
import type { BackToBackResult, NdrPdrResult } from '../rfc2544/search.ts';
import { spreadText, type Table } from '../rfc2544/report.ts';

export interface Rfc2889Results {
  /** The learning rate at which the capacity was searched, frames/s. */
  capacityRatePps: number;
  /** Search on the number of stations (the "burst" is the number of addresses). */
  capacity?: BackToBackResult;
  /** Stations per trial of the learning-rate search. */
  learningAddresses?: number;
  learningRate?: NdrPdrResult;
  broadcast?: NdrPdrResult;
}

/** Every trial let every test frame through: nothing was ever filtered, so nothing was learned. */
export function floods(r: BackToBackResult | undefined): boolean {
  return !!r && r.trials.length > 0 && r.trials.every((t) => t.sent > 0 && t.lost === t.sent);
}

export function capacityTable(r: Rfc2889Results): Table {
  const c = r.capacity;
  const flooding = floods(c);
  const rows = c
    ? [
        [
          { text: fmt(r.capacityRatePps) },
          { text: flooding ? '0 (floods)' : `${c.limitedBy === 'ceiling' ? '≥ ' : ''}${fmt(c.frames)}`, alert: c.frames === 0 },
          { text: c.perRepeat.map(fmt).join(', ') },
          { text: flooding ? 'floods: learns no MACs' : c.limitedBy === 'ceiling' ? 'ceiling (most stations tried)' : 'device' },
          { text: String(c.trials.length) },
        ],
      ]
    : [];
  return {
    title: 'RFC 2889 address caching capacity',
    columns: [
      { title: 'learning rate pps', numeric: true },
      { title: 'stations held', numeric: true },
      { title: 'per repeat', numeric: false },
      { title: 'limited by', numeric: false },
      { title: 'trials', numeric: true },
    ],
    rows,
    notes: [
      'Stations on the left send one learning frame each, then a test frame goes to each of them from the left: a station the ' +
        'bridge holds is filtered (its port is the one the frame came in by), one it lost or never learned is flooded to the right ' +
        'host. Binary search on the number of stations for the most with no test frame flooded; fresh stations every trial.',
      '"floods": every test frame of every trial went through — the bridge learns no MACs and floods every frame.',
    ],
  };
}

export function learningRateTable(r: Rfc2889Results): Table {
  const t = r.learningRate;
  const flooding = floods(r.capacity);
  const rows = t
    ? [
        [
          { text: fmt(r.learningAddresses ?? 0) },
          { text: flooding ? '0 (floods)' : fmt(t.ndr.ratePps), alert: t.ndr.ratePps === 0 },
          { text: t.ndr.failedAbovePps === undefined ? '–' : fmt(t.ndr.failedAbovePps) },
          { text: flooding ? 'floods: learns no MACs' : t.ndr.limitedBy, alert: t.ndr.limitedBy === 'generator' },
          { text: spreadText(t.ndr.spread) },
          { text: fmt(t.ceilingPps) },
          { text: String(t.trials.length) },
        ],
      ]
    : [];
  return {
    title: 'RFC 2889 address learning rate',
    columns: [
      { title: 'stations', numeric: true },
      { title: 'learning rate pps', numeric: true },
      { title: 'first failing rate', numeric: true },
      { title: 'limited by', numeric: false },
      { title: 'at its rate: trials, test frames flooded, rate', numeric: false },
      { title: 'ceiling pps', numeric: true },
      { title: 'trials', numeric: true },
    ],
    rows,
    notes: [
      'The highest rate of learning frames at which the bridge learns every station (no test frame flooded), found like the RFC ' +
        '2544 NDR (the ceiling first, then bisection), confirmed by a repeat trial at the final rate. "loss" in the spread is the ' +
        'share of test frames flooded.',
    ],
  };
}

export function broadcastTable(r: Rfc2889Results): Table {
  const t = r.broadcast;
  const rows = t
    ? [
        [
          { text: fmt(t.ndr.ratePps), alert: t.ndr.ratePps === 0 },
          { text: t.ndr.limitedBy, alert: t.ndr.limitedBy === 'generator' },
          { text: spreadText(t.ndr.spread) },
          { text: fmt(t.pdr.ratePps) },
          { text: fmt(t.ceilingPps) },
          { text: String(t.trials.length) },
        ],
      ]
    : [];
  return {
    title: 'RFC 2889 broadcast forwarding rate',
    columns: [
      { title: 'broadcast rate without loss pps', numeric: true },
      { title: 'limited by', numeric: false },
      { title: 'at its rate: trials, loss, forwarded pps', numeric: false },
      { title: `PDR (≤ ${t ? pct(t.pdrLossRatio) : '?'} loss) pps`, numeric: true },
      { title: 'ceiling pps', numeric: true },
      { title: 'trials', numeric: true },
    ],
    rows,
    notes: ['64-byte frames to ff:ff:ff:ff:ff:ff from both hosts at once, counted at the other host; rates per direction.'],
  };
}

function fmt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(2)}%`;
}
