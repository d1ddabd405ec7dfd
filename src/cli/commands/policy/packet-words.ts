import type { Packet } from '../../../policy/evaluate';
import { UsageError } from '../../errors';

/** A packet's shape as typed after `policy trace <FROM> <TO>` or `policy matrix`: no addresses yet. */
export type PacketShape = Omit<Packet, 'src' | 'dst'>;

export const TRACE_PACKET_SYNTAX = '[tcp|udp <PORT> | icmp [type <N> [code <N>]]]';
export const MATRIX_PACKET_SYNTAX = '[tcp|udp <PORT>]';

/**
 * `tcp <PORT>`, `udp <PORT>`, `icmp [type <N> [code <N>]]` (icmpv6 too), or nothing: a packet of a
 * protocol no rule names, which only rules without a protocol match. ICMP without a type is a
 * ping (echo request), the packet people test with.
 */
export function parsePacketWords(words: readonly string[], allowIcmp: boolean): PacketShape {
  const [protocol, ...rest] = words;
  if (protocol === undefined) return {};
  if (protocol === 'tcp' || protocol === 'udp') {
    if (rest.length !== 1) throw new UsageError(`Give one port after ${protocol}, e.g. '${protocol} 3306'.`);
    return { protocol, dstPort: number(rest[0] as string, 'port', 65535) };
  }
  if (allowIcmp && (protocol === 'icmp' || protocol === 'icmpv6')) {
    if (rest.length === 0) return { protocol };
    if (rest[0] !== 'type' || (rest.length !== 2 && (rest.length !== 4 || rest[2] !== 'code'))) {
      throw new UsageError(`After ${protocol} give 'type <N>' and optionally 'code <N>'.`);
    }
    const icmpType = number(rest[1] as string, 'ICMP type', 255);
    return rest.length === 4 ? { protocol, icmpType, icmpCode: number(rest[3] as string, 'ICMP code', 255) } : { protocol, icmpType };
  }
  throw new UsageError(`Unknown protocol '${protocol}': give ${allowIcmp ? 'tcp, udp or icmp' : 'tcp or udp'}.`);
}

/** The shape in the IP family of the addresses: icmp on IPv6 is ICMPv6, and a ping is type 8 or 128, code 0. */
export function shapeForFamily(shape: PacketShape, family: 4 | 6): PacketShape {
  if (shape.protocol !== 'icmp' && shape.protocol !== 'icmpv6') return shape;
  const protocol = family === 6 ? 'icmpv6' : 'icmp';
  const icmpType = shape.icmpType ?? (family === 6 ? 128 : 8);
  return { protocol, icmpType, icmpCode: shape.icmpCode ?? 0 };
}

/** The words again: `tcp port 3306`, `icmp type 8 code 0`, `any protocol`. */
export function describeShape(shape: PacketShape): string {
  if (shape.protocol === undefined) return 'any protocol';
  if (shape.protocol === 'tcp' || shape.protocol === 'udp') return `${shape.protocol} port ${shape.dstPort}`;
  return shape.icmpType === undefined ? shape.protocol : `${shape.protocol} type ${shape.icmpType}${shape.icmpCode === undefined ? '' : ` code ${shape.icmpCode}`}`;
}

function number(text: string, what: string, max: number): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > max) throw new UsageError(`Invalid ${what} '${text}': give a number from 0 to ${max}.`);
  return Number(text);
}
