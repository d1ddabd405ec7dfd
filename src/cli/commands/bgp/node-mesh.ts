import { BgpStore } from '../../../datastore/bgp';
import { isDataFormat, OUTPUT_OPTION, type OutputFormat, renderData } from '../../output';
import { command } from '../../spec';

export default command<{ state?: 'on' | 'off'; output: OutputFormat }>({
  path: ['bgp', 'node-mesh'],
  summary: 'Show (on or off), or turn on or off, the full mesh of BGP sessions between all nodes',
  usage: 'bgp node-mesh [on|off]',
  args: [{ syntax: '[state]', key: 'state', description: 'on or off; without it, print the setting', choices: ['on', 'off'] }],
  options: [OUTPUT_OPTION],
  writes: true,
  complete: ['on', 'off'],
  help: `
Examples:
  calicoctl bgp node-mesh
  calicoctl bgp node-mesh off   # e.g. once route reflectors are global peers`,
  async run({ state, output }, ctx) {
    const store = new BgpStore(ctx.kv());
    if (state !== undefined) {
      await store.setNodeMesh(state === 'on');
      return;
    }
    const enabled = await store.nodeMesh();
    ctx.io.out.write(isDataFormat(output) ? renderData(output, { node_mesh: enabled }) : `${enabled ? 'on' : 'off'}\n`);
  },
});
