// The two sides of a lab and the four points where its traffic is captured. A frame of a flow leaves
// its sender's host, enters the guest on the sender's side, leaves it on the receiver's side and
// reaches the receiver's host: every report and message names these points the same way.

/** The left side is br0 (the guest's first NIC), the right side br1 (its second). */
export type Side = 'left' | 'right';
export const SIDES: readonly Side[] = ['left', 'right'];

export function otherSide(side: Side): Side {
  return side === 'left' ? 'right' : 'left';
}

export type CapturePoint = 'left-host' | 'guest-left' | 'guest-right' | 'right-host';
export const CAPTURE_POINTS: readonly CapturePoint[] = ['left-host', 'guest-left', 'guest-right', 'right-host'];

/** The traffic host's capture point on a side. */
export function hostPoint(side: Side): CapturePoint {
  return `${side}-host`;
}

/** The guest's host-side port on a side (its tap, or the libvirt vnet port). */
export function guestPoint(side: Side): CapturePoint {
  return `guest-${side}`;
}

/** The side a capture point is on. */
export function sideOf(point: CapturePoint): Side {
  return point === 'left-host' || point === 'guest-left' ? 'left' : 'right';
}

/** Where a flow's frames pass, in order. */
export interface FlowPath {
  sender: CapturePoint;
  ingress: CapturePoint;
  egress: CapturePoint;
  receiver: CapturePoint;
}

export function flowPath(f: { from: Side; to: Side }): FlowPath {
  return { sender: hostPoint(f.from), ingress: guestPoint(f.from), egress: guestPoint(f.to), receiver: hostPoint(f.to) };
}

/** A capture point as a sentence names it. */
export function pointName(point: CapturePoint): string {
  return point.endsWith('-host') ? `the ${sideOf(point)} host` : `the guest's ${sideOf(point)} port`;
}
