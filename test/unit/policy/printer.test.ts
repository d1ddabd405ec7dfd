import type { Rule } from '../../../src/policy/ast';
import { parseRuleText } from '../../../src/policy/parser';
import { printRule, printRuleSet, ruleIdentity, sameRule } from '../../../src/policy/printer';

describe('printRule: canonical text', () => {
  it.each<[string, string]>([
    ['allow', 'allow'],
    ['deny', 'deny'],
    ['allow from', 'allow'],
    ['allow from to', 'allow'],
    ['allow tcp from', 'allow tcp'],
    ['allow tcp from to', 'allow tcp'],
    ['allow udp to', 'allow udp'],
    ['allow icmp', 'allow icmp'],
    ['allow icmpv6 from to', 'allow icmpv6'],
    ['allow from tag databases', 'allow from tag databases'],
    ['allow from tag net1', 'allow from tag net1'],
    ['allow from cidr 192.168.0.0/16', 'allow from cidr 192.168.0.0/16'],
    ['allow tcp from tag applications to ports 3306', 'allow tcp from tag applications to ports 3306'],
    ['allow tcp to ports 80,443', 'allow tcp to ports 80,443'],
    ['allow tcp to ports 443,80', 'allow tcp to ports 443,80'],
    ['allow tcp to ports 80,80', 'allow tcp to ports 80,80'],
    ['allow tcp to ports 080', 'allow tcp to ports 80'],
    ['allow udp to ports 8000:8080,53', 'allow udp to ports 8000:8080,53'],
    ['allow tcp from ports 0 to ports 65535', 'allow tcp from ports 0 to ports 65535'],
    ['allow tcp from ports 22 to', 'allow tcp from ports 22'],
    ['allow tcp from to ports 22', 'allow tcp to ports 22'],
    [
      'deny udp from ports 53 tag dns cidr 10.0.0.0/8 to ports 1024:65535 tag clients cidr 10.1.2.3/8',
      'deny udp from ports 53 tag dns cidr 10.0.0.0/8 to ports 1024:65535 tag clients cidr 10.1.2.3/8',
    ],
    ['deny icmp type 8 code 0 from cidr 10.0.0.0/8', 'deny icmp type 8 code 0 from cidr 10.0.0.0/8'],
    ['allow icmp type 0 code 0', 'allow icmp type 0 code 0'],
    ['allow icmp type 08 code 00', 'allow icmp type 8 code 0'],
    ['allow icmp type 3 from tag a to cidr 1.2.3.4', 'allow icmp type 3 from tag a to cidr 1.2.3.4/32'],
    ['allow icmpv6 type 128 to cidr DEAD:0::BEEF/64', 'allow icmpv6 type 128 to cidr dead::beef/64'],
    ['allow from cidr 10/8', 'allow from cidr 10.0.0.0/8'],
    ['allow to cidr ::1', 'allow to cidr ::1/128'],
    ['allow from cidr 10.1.2.3/8', 'allow from cidr 10.1.2.3/8'],
    ['allow tcp from tag a cidr 10.0.0.0/8 to tag b', 'allow tcp from tag a cidr 10.0.0.0/8 to tag b'],
  ])('%s -> %s', (input, printed) => {
    expect(printRule(parseRuleText(input))).toBe(printed);
  });

  it('omits a side whose port list is empty', () => {
    const rule: Rule = { protocol: 'tcp', action: 'allow', from: { ports: [] }, to: {} };
    expect(printRule(rule)).toBe('allow tcp');
  });
});

describe('printRuleSet', () => {
  it('prints the rule show layout', () => {
    const text = printRuleSet({
      inbound: [parseRuleText('allow from tag net1'), parseRuleText('allow tcp to ports 80,443')],
      outbound: [parseRuleText('allow')],
    });
    expect(text).toBe(
      ['Inbound rules:', '   1 allow from tag net1', '   2 allow tcp to ports 80,443', 'Outbound rules:', '   1 allow', ''].join('\n'),
    );
  });

  it('prints only headers for empty lists', () => {
    expect(printRuleSet({ inbound: [], outbound: [] })).toBe('Inbound rules:\nOutbound rules:\n');
  });

  it('right-aligns indexes in three columns', () => {
    const rules = Array.from({ length: 1000 }, () => parseRuleText('deny'));
    const lines = printRuleSet({ inbound: rules, outbound: [] }).split('\n');
    expect(lines[1]).toBe('   1 deny');
    expect(lines[10]).toBe('  10 deny');
    expect(lines[100]).toBe(' 100 deny');
    expect(lines[1000]).toBe(' 1000 deny');
    expect(lines[1001]).toBe('Outbound rules:');
  });
});

describe('sameRule / ruleIdentity', () => {
  it.each<[string, string]>([
    ['allow tcp to ports 443,80', 'allow tcp to ports 80,443'],
    ['allow tcp to ports 80,80,443', 'allow tcp to ports 443,80'],
    ['allow tcp to ports 080', 'allow tcp to ports 80'],
    ['allow udp from ports 8000:8080,53', 'allow udp from ports 53,8000:8080'],
    ['allow from cidr 10.1.2.3/8', 'allow from cidr 10.0.0.0/8'],
    ['allow from cidr 10/8', 'allow from cidr 10.0.0.0/8'],
    ['allow to cidr 1.2.3.4', 'allow to cidr 1.2.3.4/32'],
    ['allow to cidr ::1', 'allow to cidr 0::1/128'],
    ['allow icmpv6 from cidr DEAD:0::BEEF/64', 'allow icmpv6 from cidr dead::/64'],
    ['allow tcp from', 'allow tcp'],
    ['allow from to', 'allow'],
    ['allow icmp type 08', 'allow icmp type 8'],
  ])('%s equals %s', (a, b) => {
    expect(sameRule(parseRuleText(a), parseRuleText(b))).toBe(true);
    expect(ruleIdentity(parseRuleText(a))).toBe(ruleIdentity(parseRuleText(b)));
  });

  it.each<[string, string]>([
    ['allow tcp', 'allow tcp to ports 80'],
    ['allow', 'deny'],
    ['allow tcp', 'deny tcp'],
    ['allow tcp', 'allow udp'],
    ['allow icmp', 'allow icmpv6'],
    ['allow', 'allow tcp'],
    ['allow icmp', 'allow icmp type 0'],
    ['allow icmp type 8', 'allow icmp type 8 code 0'],
    ['allow icmp type 8 code 0', 'allow icmp type 8 code 1'],
    ['allow icmp type 0', 'allow icmp type 8'],
    ['allow tcp from ports 80', 'allow tcp to ports 80'],
    ['allow from tag a', 'allow to tag a'],
    ['allow from tag a', 'allow from tag b'],
    ['allow from cidr 10.0.0.0/8', 'allow to cidr 10.0.0.0/8'],
    ['allow from cidr 10.0.0.0/8', 'allow from cidr 10.0.0.0/16'],
    ['allow from cidr 10.0.0.0/8', 'allow from cidr 11.0.0.0/8'],
    ['allow from cidr 0.0.0.0/0', 'allow from cidr ::/0'],
    ['allow tcp to ports 80', 'allow tcp to ports 80,443'],
    ['allow tcp to ports 80:90', 'allow tcp to ports 80,90'],
    // Items compare as written (a range is not expanded), as the original compared port lists.
    ['allow tcp to ports 80:81', 'allow tcp to ports 80,81'],
    ['allow from tag a', 'allow from tag a cidr 10.0.0.0/8'],
  ])('%s differs from %s', (a, b) => {
    expect(sameRule(parseRuleText(a), parseRuleText(b))).toBe(false);
    expect(ruleIdentity(parseRuleText(a))).not.toBe(ruleIdentity(parseRuleText(b)));
  });

  it('does not depend on the typed CIDR text', () => {
    const a = parseRuleText('allow from cidr 10.1.2.3/8');
    const b = parseRuleText('allow from cidr 10.0.0.0/8');
    expect(printRule(a)).not.toBe(printRule(b));
    expect(sameRule(a, b)).toBe(true);
  });
});
