import { Command } from 'commander';
import { IpamStore } from '../datastore/ipam';
import { parseIp } from '../policy/cidr';
import { CommandError } from './errors';
import type { Session } from './session';

/** `calicoctl ipam info|release <IP>`: look at or free one assigned address. */
export function makeIpamCommand(session: Session): Command {
  const ipam = new Command('ipam')
    .description('Look at or release addresses assigned by Calico IPAM')
    .addHelpText('after', '\nWarning: releasing an address that a container still uses can give it to a second container.');

  const address = (text: string): string => {
    const parsed = parseIp(text);
    if (!parsed) throw new CommandError('Invalid IP address specified.');
    return parsed.text;
  };

  ipam
    .command('info')
    .description('Show who an address is assigned to')
    .argument('<IP>')
    .action(async (text: string) => {
      const ip = address(text);
      const ctx = session.context();
      const assignment = await new IpamStore(ctx.kv()).info(ip);
      if (!assignment) throw new CommandError(`IP ${ip} is not currently assigned`);
      const attributes = Object.entries(assignment.attributes).map(([key, value]) => `  ${key}: ${value}\n`);
      ctx.io.out.write(`IP ${ip} is assigned to host ${assignment.host} from pool ${assignment.pool}\n${attributes.join('')}`);
    });

  ipam
    .command('release')
    .description('Free an assigned address')
    .argument('<IP>')
    .action(async (text: string) => {
      const ip = address(text);
      const ctx = session.context();
      if (!(await new IpamStore(ctx.kv()).release(ip))) throw new CommandError(`IP ${ip} is not currently assigned`);
      ctx.io.out.write('Address successfully released\n');
    });

  return ipam;
}
