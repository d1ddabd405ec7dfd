import { IpamStore } from '../../../datastore/ipam';
import { command } from '../../spec';
import { IP_ARG, parseAddress } from './address';
import { printableText } from '../../printable';

export default command<{ ip: string }>({
  path: ['ipam', 'info'],
  summary: 'Show who an address is assigned to',
  args: [IP_ARG],
  writes: false,
  async run(options, ctx) {
    const ip = parseAddress(options.ip);
    const assignment = await new IpamStore(ctx.kv(), ctx.report).info(ip);
    const attributes = Object.entries(assignment.attributes).map(([key, value]) => `  ${key}: ${value}\n`);
    const holder = assignment.blockHost === undefined ? 'held by no host' : `held by host ${assignment.blockHost}`;
    ctx.io.out.write(printableText(`IP ${ip} is assigned to host ${assignment.host} from pool ${assignment.pool}\nBlock ${assignment.block}, ${holder}\n${attributes.join('')}`));
  },
});
