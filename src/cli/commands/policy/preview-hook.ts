import type { CommandContext } from '../../context';

/**
 * After a dry run of a policy edit (rules, tags, an endpoint's profiles): which connections it
 * would newly allow or drop. The evaluator is loaded only then, so the edits cost nothing more.
 */
export async function previewIfDryRun(ctx: CommandContext): Promise<void> {
  if (!ctx.options.dryRun) return;
  const { previewImpact } = require('./preview') as typeof import('./preview');
  await previewImpact(ctx);
}
