import { evaluate, type ModelEndpoint } from '../../../policy/evaluate';
import { packetFor } from '../../../policy/impact';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import { isDataFormat, renderData } from '../../output';
import { renderTable } from '../../table';
import { quoted } from '../../../errors';
import { PolicyView } from './model';
import { describeShape, parsePacketWords } from './packet-words';
import type { MatrixOptions } from './matrix';

interface Group {
  readonly name: string;
  readonly members: readonly ModelEndpoint[];
}

/** `policy matrix`: the run behind the spec in matrix.ts, loaded only when the command runs. */
export async function matrix({ words, network = [], containers = false, output }: MatrixOptions, ctx: CommandContext): Promise<void> {
  const shape = parsePacketWords(words, false);
  const view = await PolicyView.read(ctx);
  const networks = await selectNetworks(view, network);
  let groups: Group[];
  if (containers) {
    const name = await view.endpointNamer();
    const wanted = new Set(networks.flatMap((n) => n.members));
    groups = view.model.endpoints.filter((e) => network.length === 0 || wanted.has(e)).map((e) => ({ name: name(e), members: [e] }));
  } else {
    groups = networks;
  }
  groups.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const probe = { label: describeShape(shape), ...shape };
  const cells = groups.map((from) =>
    groups.map((to) => {
      let allowed = 0;
      let pairs = 0;
      for (const a of from.members) {
        for (const b of to.members) {
          const packet = a === b ? undefined : packetFor(a, b, probe);
          if (!packet) continue;
          pairs++;
          if (evaluate(view.model, packet).verdict === 'allow') allowed++;
        }
      }
      return { from: from.name, to: to.name, allowed, pairs, verdict: pairs === 0 ? null : allowed === pairs ? 'allow' : allowed === 0 ? 'drop' : 'some' };
    }),
  );

  if (isDataFormat(output)) {
    ctx.io.out.write(renderData(output, { packet: shape, rows: containers ? 'containers' : 'networks', cells: cells.flat() }));
    return;
  }
  const text = (cell: (typeof cells)[number][number]) => (cell.verdict === null ? '-' : cell.verdict === 'some' ? `${cell.allowed}/${cell.pairs}` : cell.verdict);
  const rows = cells.map((row, i) => [groups[i]!.name, ...row.map(text)]);
  ctx.io.out.write(`${describeShape(shape)}, rows from, columns to:\n${renderTable(['from \\ to', ...groups.map((g) => g.name)], rows)}`);
}

/** The networks asked for, or every calico network Docker knows that has a profile; each with its endpoints. */
async function selectNetworks(view: PolicyView, names: readonly string[]): Promise<Group[]> {
  if (names.length > 0) {
    return Promise.all(
      names.map(async (name) => {
        const id = await view.profileIdFor(name);
        if (id === undefined) throw new CommandError(`No network or profile ${quoted(name)}.`);
        return { name, members: view.membersOf(id) };
      }),
    );
  }
  const directory = await view.networks();
  if (!directory) throw new CommandError('Docker could not be asked for its networks: name them with --network.');
  return directory
    .all()
    .filter((n) => view.model.profiles.has(n.id))
    .map((n) => ({ name: n.name, members: view.membersOf(n.id) }));
}
