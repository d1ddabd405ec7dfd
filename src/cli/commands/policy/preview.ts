import { DryRunKvStore } from '../../../datastore/dry-run';
import { compareModels, type ImpactChange } from '../../../policy/impact';
import type { CommandContext } from '../../context';
import { printable } from '../../printable';
import { PolicyView } from './model';

/** At most this many pairs of each kind are listed; the rest are counted. */
const LISTED = 50;

/** Compares etcd as it is with etcd after the dry run's described writes, and prints the pairs whose verdict changes. */
export async function previewImpact(ctx: CommandContext): Promise<void> {
  const kv = ctx.kv();
  if (!(kv instanceof DryRunKvStore) || !kv.wrote) return;
  const before = await PolicyView.read(ctx, kv.current);
  const after = await before.other(kv.afterWrites());
  const impact = compareModels(before.model, after.model);
  const name = await after.endpointNamer();
  const probed = impact.probes.map((p) => p.label).join(', ');
  const lines: string[] = [];
  const list = (what: string, changes: readonly ImpactChange[]) => {
    for (const change of changes.slice(0, LISTED)) lines.push(`  ${what}: ${name(change.from)} -> ${name(change.to)} (${change.probe.label})`);
    if (changes.length > LISTED) lines.push(`  … and ${changes.length - LISTED} more ${what}`);
  };
  list('newly allowed', impact.allowed);
  list('newly dropped', impact.dropped);
  const header = `Impact on connections between endpoints (probed: ${probed})`;
  const text = lines.length === 0 ? [`${header}: none.`] : [`${header}:`, ...lines];
  ctx.io.out.write(text.map((line) => `${printable(line)}\n`).join(''));
}
