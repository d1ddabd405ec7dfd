import { evaluate, type PolicyModel, type TraceStep } from '../../../policy/evaluate';
import type { CommandContext } from '../../context';
import { isDataFormat, renderData } from '../../output';
import { printable } from '../../printable';
import { addressesOf, type Place, PolicyView, resolvePlace, shownRule } from './model';
import { describeShape, parsePacketWords, shapeForFamily } from './packet-words';
import type { TraceOptions } from './trace';

/** `policy trace`: the run behind the spec in trace.ts, loaded only when the command runs. */
export async function trace({ from, to, words, any = false, output }: TraceOptions, ctx: CommandContext): Promise<void> {
  const typed = parsePacketWords(words, true);
  const view = await PolicyView.read(ctx, ctx.kv(), { profiles: 'on demand' });
  const source = await resolvePlace(view, from, any);
  const destination = await resolvePlace(view, to, any, source.endpoint);
  const family = typed.protocol === 'icmpv6' ? 6 : undefined;
  const { src, dst, family: version } = addressesOf(source, destination, family);
  const shape = shapeForFamily(typed, version);
  const model = await view.modelFor([src, dst]);
  const result = evaluate(model, { ...shape, src, dst });
  const name = await view.profileNamer(result.steps.flatMap((s) => (s.profile === null ? [] : [s.profile, ...tagsOf(model, s)])));
  const ruleWords = (step: TraceStep) => {
    const rule = step.profile === null || step.rule === null ? undefined : model.profiles.get(step.profile)?.[step.direction][step.rule - 1];
    return rule ? shownRule(rule, name) : null;
  };
  const labelOf = (step: TraceStep) => (step.endpoint === source.endpoint?.id ? source.label : destination.label);

  if (isDataFormat(output)) {
    const end = (place: Place, address: string) => ({
      input: place.word,
      address,
      endpoint: place.endpoint?.id ?? null,
      host: place.endpoint?.host ?? null,
    });
    const document = {
      from: end(source, src),
      to: end(destination, dst),
      packet: { ...shape },
      verdict: result.verdict,
      steps: result.steps.map((step) => ({ ...step, profileName: step.profile === null ? null : name(step.profile), ruleText: ruleWords(step) })),
    };
    ctx.io.out.write(renderData(output, document));
  } else {
    const lines = [`From ${describePlace(source, src)} to ${describePlace(destination, dst)}, ${describeShape(shape)}:`];
    if (result.steps.length === 0) lines.push('  neither end is a Calico endpoint: no policy applies');
    for (const step of result.steps) lines.push(`  ${stepText(step, name, ruleWords(step), labelOf(step))}`);
    lines.push(result.verdict === 'allow' ? 'Verdict: allowed' : 'Verdict: dropped');
    ctx.io.out.write(lines.map((line) => `${printable(line)}\n`).join(''));
  }
  ctx.conclude(result.verdict === 'allow' ? 'yes' : 'no');
}

function tagsOf(model: PolicyModel, step: TraceStep): string[] {
  const profile = step.profile === null ? undefined : model.profiles.get(step.profile);
  return profile ? [...profile.inbound, ...profile.outbound].flatMap((r) => [r.from.tag, r.to.tag].filter((t): t is string => t !== undefined)) : [];
}

function describePlace(place: Place, address: string): string {
  if (!place.endpoint) return `${place.label} (outside every endpoint)`;
  const where = `endpoint ${place.endpoint.id.slice(0, 12)} on ${place.endpoint.host}`;
  return place.label === address ? `${address} (${where})` : `${place.label} (${address}, ${where})`;
}

/** One step in `rule show` words: `databases inbound rule 2: allow tcp from tag applications to ports 3306`. */
export function stepText(step: TraceStep, name: (id: string) => string, rule: string | null, endpoint: string): string {
  const profile = step.profile === null ? null : name(step.profile);
  switch (step.verdict) {
    case 'allow':
    case 'deny':
      return `${profile} ${step.direction} rule ${step.rule}: ${rule}`;
    case 'next':
      return `${profile} ${step.direction}: no rule matched, on to the next profile`;
    case 'drop':
      return profile === null ? `${endpoint} ${step.direction}: no profile allowed it, dropped` : `${profile} ${step.direction}: the profile does not exist, dropped`;
    case 'inactive':
      return `${endpoint} ${step.direction}: the endpoint is not active (calico-node programs nothing for it), dropped`;
    case 'host':
      return `${endpoint}: from its own host, which is not policed`;
    case 'service':
      return `${endpoint} ${step.direction}: to its own host's DHCP, DNS or neighbour discovery, accepted before any policy`;
    case 'skip':
      return `${endpoint}: to its own address, the packet stays in the container (not policed)`;
  }
}
