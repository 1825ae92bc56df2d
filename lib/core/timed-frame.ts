// A frame with a time: when it is to be sent (a flow's schedule, relative to its start) or when it
// was captured (a pcap record, since the epoch). Nanoseconds as a bigint in both cases, so the
// schedule, the pcap writer and the pcap reader share one shape.

export interface TimedFrame {
  tsNs: bigint;
  data: Buffer;
}
