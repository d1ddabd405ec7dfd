import { parseIp } from '../../../policy/cidr';
import { CommandError } from '../../errors';
import type { ArgumentSpec } from '../../spec';

export const IP_ARG: ArgumentSpec = { syntax: '<IP>', key: 'ip' };

/** The address as IPAM stores it (canonical text). */
export function parseAddress(text: string): string {
  const parsed = parseIp(text);
  if (!parsed) throw new CommandError('Invalid IP address specified.');
  return parsed.text;
}
