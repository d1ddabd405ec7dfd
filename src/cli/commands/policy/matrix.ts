import { OUTPUT_OPTION, type OutputFormat } from '../../output';
import { command } from '../../spec';
import { MATRIX_PACKET_SYNTAX } from './packet-words';

export interface MatrixOptions {
  words: string[];
  network?: string[];
  containers?: boolean;
  output: OutputFormat;
}

export default command<MatrixOptions>({
  path: ['policy', 'matrix'],
  usage: `policy matrix [--network <NETWORK>]... [--containers] ${MATRIX_PACKET_SYNTAX}`,
  summary: 'Tabulate who can reach whom: networks, or containers with --containers (rows from, columns to)',
  args: [{ syntax: '[PACKET...]', key: 'words', description: MATRIX_PACKET_SYNTAX }],
  options: [
    { flags: '--network <NETWORK>', description: 'only this network (or profile); give it again for more', repeatable: true },
    { flags: '--containers', description: 'one row and column per container (endpoint) instead of per network' },
    OUTPUT_OPTION,
  ],
  writes: false,
  complete: ['tcp', 'udp'],
  help: `
A network's cell is the verdict for every pair of its endpoints and the other's (a container never
counts as reaching itself): allow, drop, "n/m" when n of m pairs are allowed, or - without pairs.
Without a protocol the packet is of a protocol no rule names (only rules without one match).

Examples:
  calicoctl policy matrix
  calicoctl policy matrix --containers tcp 3306
  calicoctl policy matrix --network databases --network applications -o json
`,
  async run(options, ctx) {
    const { matrix } = require('./matrix-run') as typeof import('./matrix-run');
    await matrix(options, ctx);
  },
});
