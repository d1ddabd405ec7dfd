import { OUTPUT_OPTION, type OutputFormat } from '../../output';
import { command } from '../../spec';
import { TRACE_PACKET_SYNTAX } from './packet-words';

export interface TraceOptions {
  from: string;
  to: string;
  words: string[];
  any?: boolean;
  output: OutputFormat;
}

export default command<TraceOptions>({
  path: ['policy', 'trace'],
  usage: `policy trace <FROM> <TO> ${TRACE_PACKET_SYNTAX} [--any]`,
  summary: 'Show which profiles and rules allow or drop a packet, and the verdict (exit 0 allowed, 1 dropped)',
  args: [
    { syntax: '<FROM>', key: 'from', description: 'a container name or ID, an endpoint ID, an IP address, or with --any a network' },
    { syntax: '<TO>', key: 'to', description: 'likewise; an address of no endpoint is the outside world' },
    { syntax: '[PACKET...]', key: 'words', description: TRACE_PACKET_SYNTAX },
  ],
  options: [{ flags: '--any', description: 'FROM or TO may name a network (or profile): trace from or to any one of its endpoints' }, OUTPUT_OPTION],
  writes: false,
  complete: ['tcp', 'udp', 'icmp'],
  help: `
The policy is read from etcd, so FROM and TO may be on different hosts. The steps are the
sender's outbound profiles, then the receiver's inbound profiles, each in order: the first
matching rule decides, a profile with no match hands on to the next, and no allow at all drops.
The outside world (an address of no endpoint) has no profiles. A host's registered address is
not policed to its own workloads, and its workloads' DHCP and DNS to it pass before any policy.
An endpoint that is not active drops everything. Without a protocol, the packet is
of a protocol no rule names: only rules without a protocol match it. icmp without a type is a
ping. Established connections are not traced: this is a connection's first packet.

Examples:
  calicoctl policy trace app1 db1 tcp 3306
  calicoctl policy trace --any applications db1 tcp 3306 -o json
  calicoctl policy trace db1 192.0.2.1 icmp type 8 code 0
`,
  async run(options, ctx) {
    const { trace } = require('./tracing') as typeof import('./tracing');
    await trace(options, ctx);
  },
});
