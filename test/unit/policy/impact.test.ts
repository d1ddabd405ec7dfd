import type { ModelEndpoint, ModelProfile, PolicyModel } from '../../../src/policy/evaluate';
import { compareModels, probesForRule } from '../../../src/policy/impact';
import { parseRuleText } from '../../../src/policy/parser';

const profile = (id: string, tags: string[], inbound: string[], outbound = ['allow']): ModelProfile => ({ id, tags, inbound: inbound.map(parseRuleText), outbound: outbound.map(parseRuleText) });
const endpoint = (id: string, profileIds: string[], v4: string): ModelEndpoint => ({ id, host: 'h', profileIds, ipv4Nets: [`${v4}/32`], ipv6Nets: [] });
const model = (profiles: ModelProfile[], endpoints: ModelEndpoint[]): PolicyModel => ({ profiles: new Map(profiles.map((p) => [p.id, p])), endpoints });
const pairs = (changes: readonly { from: ModelEndpoint; to: ModelEndpoint; probe: { label: string } }[]) => changes.map((c) => `${c.from.id}->${c.to.id} ${c.probe.label}`);

describe('impact previews', () => {
  const endpoints = [endpoint('db1', ['db'], '10.0.0.1'), endpoint('db2', ['db'], '10.0.0.2'), endpoint('app1', ['app'], '10.0.1.1')];
  const before = model([profile('db', ['db'], ['allow from tag db']), profile('app', ['app'], ['allow from tag app'])], endpoints);

  it('probes: each destination port a rule names, ICMP type and code, or any protocol', () => {
    expect(probesForRule(parseRuleText('allow tcp to ports 80,8000:8080')).map((p) => p.label)).toEqual(['tcp 80', 'tcp 8000']);
    expect(probesForRule(parseRuleText('allow udp from ports 53')).map((p) => p.label)).toEqual(['udp from port 53']);
    expect(probesForRule(parseRuleText('deny icmp type 8')).map((p) => p.label)).toEqual(['icmp type 8 code 0']);
    expect(probesForRule(parseRuleText('allow from tag x')).map((p) => p.label)).toEqual(['any protocol']);
  });

  it('a rule added: the pairs it newly allows, for its port', () => {
    const after = model([profile('db', ['db'], ['allow from tag db', 'allow tcp from tag app to ports 3306']), before.profiles.get('app')!], endpoints);
    const impact = compareModels(before, after);
    expect(pairs(impact.allowed)).toEqual(['app1->db1 tcp 3306', 'app1->db2 tcp 3306']);
    expect(impact.dropped).toEqual([]);
  });

  it('a tag removed: the members that rules naming it no longer admit', () => {
    const after = model([profile('db', [], ['allow from tag db']), before.profiles.get('app')!], endpoints);
    expect(pairs(compareModels(before, after).dropped)).toEqual(['db1->db2 any protocol', 'db2->db1 any protocol']);
  });

  it('an endpoint moved to another profile', () => {
    const after = model([...before.profiles.values()], [endpoints[0]!, endpoints[1]!, endpoint('app1', ['db'], '10.0.1.1')]);
    const impact = compareModels(before, after);
    expect(pairs(impact.allowed).sort()).toEqual(['app1->db1 any protocol', 'app1->db2 any protocol', 'db1->app1 any protocol', 'db2->app1 any protocol']);
  });

  it('nothing changed: nothing to list', () => {
    expect(compareModels(before, before)).toEqual({ probes: [{ label: 'any protocol' }], allowed: [], dropped: [] });
  });
});
