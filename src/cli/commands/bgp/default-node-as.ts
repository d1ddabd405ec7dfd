import { BgpStore } from '../../../datastore/bgp';
import { isDataFormat, OUTPUT_OPTION, type OutputFormat, renderData } from '../../output';
import { command } from '../../spec';
import { asNumber } from './peers';

export default command<{ asNum?: string; output: OutputFormat }>({
  path: ['bgp', 'default-node-as'],
  summary: "Show, or set, the AS number of every node that has none of its own (default 64511)",
  usage: 'bgp default-node-as [<AS_NUM>]',
  args: [{ syntax: '[AS_NUM]', key: 'asNum', description: 'asplain (64512) or dotted (1.10); without it, print the setting' }],
  options: [OUTPUT_OPTION],
  writes: true,
  help: `
Examples:
  calicoctl bgp default-node-as
  calicoctl bgp default-node-as 64512`,
  async run({ asNum, output }, ctx) {
    const store = new BgpStore(ctx.kv());
    if (asNum !== undefined) {
      await store.setDefaultAs(asNumber(asNum));
      return;
    }
    const value = await store.defaultAs();
    ctx.io.out.write(isDataFormat(output) ? renderData(output, { as_num: value }) : `${value}\n`);
  },
});
