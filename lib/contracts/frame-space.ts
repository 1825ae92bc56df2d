// A frame space: the ways a frame on a wire can differ, as dimensions with equivalence classes and
// boundary values (destination class, EtherType, VLAN tag, IP header fields, transport, size, …).
// A case is one value per dimension. Dimensions and values say when they apply, declaratively, so
// the same declaration drives the pairwise generator, the frame builder and the documentation:
//  - a dimension applies only where its `when` holds (else the case carries NOT_APPLICABLE there:
//    a TTL means nothing for an ARP frame);
//  - a value may `require` values of other dimensions (a bad IPv4 header checksum needs IPv4).
//
// Pure: declarations in, values out.

/** The value a case carries for a dimension that does not apply to it. */
export const NOT_APPLICABLE = '-';

/** "dimension D has one of these values" — the building block of every condition. */
export interface Condition {
  dimension: string;
  oneOf: readonly string[];
}

export interface DimensionValue {
  id: string;
  /** As a reader names it in a sentence: "DSCP 46 (EF)", "EtherType 0x8847 (MPLS)". */
  label: string;
  /** Conditions on other dimensions this value needs (all must hold). */
  requires?: readonly Condition[];
}

export interface Dimension {
  id: string;
  /** Plural noun phrase for sentences: "EtherTypes", "VLAN tags", "frame sizes". */
  label: string;
  values: readonly DimensionValue[];
  /** Where the dimension applies (all must hold); absent: everywhere. */
  when?: readonly Condition[];
  /** The standard or reason the values come from, for the documentation. */
  basis: string;
}

export interface FrameSpace {
  /** Which role's frames, for messages. */
  name: string;
  /** In dependency order: a dimension's `when` and its values' `requires` name earlier dimensions only. */
  dimensions: readonly Dimension[];
}

/** One point of the space: dimension id → value id (NOT_APPLICABLE where the dimension does not apply). */
export type FrameCase = Readonly<Record<string, string>>;

/** Whether a condition holds for a (partial) case; unknown while its dimension is unassigned. */
export function holds(c: Condition, assigned: Readonly<Record<string, string>>): boolean | undefined {
  const v = assigned[c.dimension];
  return v === undefined ? undefined : c.oneOf.includes(v);
}

/** Whether a dimension applies given the dimensions assigned before it. */
export function applies(dimension: Dimension, assigned: Readonly<Record<string, string>>): boolean {
  return (dimension.when ?? []).every((c) => holds(c, assigned) === true);
}

/** Whether a value may be chosen given the dimensions assigned before it. */
export function allowed(value: DimensionValue, assigned: Readonly<Record<string, string>>): boolean {
  return (value.requires ?? []).every((c) => holds(c, assigned) === true);
}

/** Checks a space's declaration: unique ids, conditions that name earlier dimensions and real values. */
export function checkSpace(space: FrameSpace): string[] {
  const problems: string[] = [];
  const seen = new Map<string, Set<string>>();
  const check = (owner: string, c: Condition) => {
    const values = seen.get(c.dimension);
    if (!values) problems.push(`${owner}: condition on '${c.dimension}', which is not an earlier dimension`);
    else for (const v of c.oneOf) if (!values.has(v)) problems.push(`${owner}: '${c.dimension}' has no value '${v}'`);
  };
  for (const d of space.dimensions) {
    if (seen.has(d.id)) problems.push(`dimension '${d.id}' is declared twice`);
    for (const c of d.when ?? []) check(`dimension '${d.id}'`, c);
    const ids = new Set<string>();
    for (const v of d.values) {
      if (ids.has(v.id) || v.id === NOT_APPLICABLE) problems.push(`dimension '${d.id}': value id '${v.id}' is repeated or reserved`);
      ids.add(v.id);
      for (const c of v.requires ?? []) check(`value '${d.id}=${v.id}'`, c);
    }
    if (d.values.length === 0) problems.push(`dimension '${d.id}' has no values`);
    seen.set(d.id, ids);
  }
  return problems;
}

/**
 * The space without what no case can carry: values that require a value the lab leaves out (IPv6
 * extension headers when the traffic hosts have no IPv6), and dimensions whose `when` can never hold.
 * Left in, they would be "never tried" gaps no plan could close.
 */
export function feasibleSpace(space: FrameSpace): FrameSpace {
  const kept = new Map<string, Set<string>>();
  const satisfiable = (c: Condition) => c.oneOf.some((v) => kept.get(c.dimension)?.has(v) ?? false);
  const dimensions: Dimension[] = [];
  // Conditions keep only values still there (the checks of checkSpace hold for the result too).
  const trimmed = (cs: readonly Condition[]) => cs.map((c) => ({ ...c, oneOf: c.oneOf.filter((v) => kept.get(c.dimension)!.has(v)) }));
  for (const d of space.dimensions) {
    if (!(d.when ?? []).every(satisfiable)) continue;
    const values = d.values
      .filter((v) => (v.requires ?? []).every(satisfiable))
      .map((v) => (v.requires ? { ...v, requires: trimmed(v.requires) } : v));
    if (values.length === 0) continue;
    dimensions.push({ ...d, values, ...(d.when ? { when: trimmed(d.when) } : {}) });
    kept.set(d.id, new Set(values.map((v) => v.id)));
  }
  return { ...space, dimensions };
}

/** The label of a value, or of NOT_APPLICABLE. */
export function valueLabel(space: FrameSpace, dimension: string, value: string): string {
  if (value === NOT_APPLICABLE) return 'not applicable';
  return space.dimensions.find((d) => d.id === dimension)?.values.find((v) => v.id === value)?.label ?? value;
}

export function dimensionOf(space: FrameSpace, id: string): Dimension {
  const d = space.dimensions.find((x) => x.id === id);
  if (!d) throw new Error(`frame space ${space.name} has no dimension '${id}'`);
  return d;
}

/** A case in one line: "destination=broadcast ethertype=ipv4 …" (not-applicable dimensions left out). */
export function caseKey(space: FrameSpace, c: FrameCase): string {
  return space.dimensions
    .filter((d) => c[d.id] !== NOT_APPLICABLE)
    .map((d) => `${d.id}=${c[d.id]}`)
    .join(' ');
}
