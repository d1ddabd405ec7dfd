import fc from 'fast-check';
import type { AddressMatch, Cidr, IcmpMatch, IpVersion, PortMatch, PortSpec, Rule } from '../../src/policy/ast';
import { parseCidr } from '../../src/policy/cidr';
import { formatPort } from '../../src/policy/ports';

/** Arbitraries for rule ASTs and rule words: the policy's property tests and the CLI's hostile-input tests share them. */
export const KEYWORDS = ['allow', 'deny', 'tcp', 'udp', 'icmp', 'icmpv6', 'from', 'to', 'ports', 'tag', 'cidr', 'type', 'code'];
export const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-'.split('');

export function mustParseCidr(text: string): Cidr {
  const cidr = parseCidr(text);
  if (!cidr) throw new Error(`arbitrary produced an unparseable CIDR ${text}`);
  return cidr;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries for valid rule ASTs
// ---------------------------------------------------------------------------------------------

export const actionArb = fc.constantFrom('allow' as const, 'deny' as const);

export const tagArb = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 1, maxLength: 16 }) },
  { weight: 1, arbitrary: fc.constantFrom(...KEYWORDS) },
);

export const portSpecArb: fc.Arbitrary<PortSpec> = fc.oneof(
  fc.integer({ min: 0, max: 65535 }).map((port): PortSpec => ({ kind: 'port', port })),
  fc
    .integer({ min: 0, max: 65534 })
    .chain((low) => fc.integer({ min: low + 1, max: 65535 }).map((high): PortSpec => ({ kind: 'range', low, high }))),
);

export const portsArb = fc.array(portSpecArb, { minLength: 1, maxLength: 5 });

export const ipv4TextArb = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((octets) => octets.join('.'));
export const ipv6TextArb = fc.tuple(fc.ipV6(), fc.boolean()).map(([address, upper]) => (upper ? address.toUpperCase() : address));

/** CIDR text as a user might type it (host bits, bare addresses, upper case), for either version. */
export function cidrTextArb(version: IpVersion): fc.Arbitrary<string> {
  const [address, maxPrefix] = version === 4 ? [ipv4TextArb, 32] : [ipv6TextArb, 128];
  return fc.oneof(
    fc.tuple(address, fc.integer({ min: 0, max: maxPrefix })).map(([a, prefix]) => `${a}/${prefix}`),
    address,
  );
}

export function cidrArb(version: IpVersion): fc.Arbitrary<Cidr> {
  return cidrTextArb(version).map(mustParseCidr);
}

export function addressSideArb(version: IpVersion): fc.Arbitrary<AddressMatch> {
  return fc.record({ tag: tagArb, cidr: cidrArb(version) }, { requiredKeys: [], noNullPrototype: true });
}

export function portSideArb(version: IpVersion): fc.Arbitrary<PortMatch> {
  return fc.record({ ports: portsArb, tag: tagArb, cidr: cidrArb(version) }, { requiredKeys: [], noNullPrototype: true });
}

export const icmpMatchArb: fc.Arbitrary<IcmpMatch> = fc.record(
  { type: fc.integer({ min: 0, max: 255 }), code: fc.integer({ min: 0, max: 255 }) },
  { requiredKeys: ['type'], noNullPrototype: true },
);

export const versionArb = fc.constantFrom<IpVersion>(4, 6);

export const transportRuleArb: fc.Arbitrary<Rule> = fc
  .tuple(fc.constantFrom('tcp' as const, 'udp' as const), actionArb, versionArb)
  .chain(([protocol, action, version]) =>
    fc.record({ from: portSideArb(version), to: portSideArb(version) }).map(({ from, to }): Rule => ({ protocol, action, from, to })),
  );

export const icmpRuleArb: fc.Arbitrary<Rule> = fc.constantFrom('icmp' as const, 'icmpv6' as const).chain((protocol) => {
  const version: IpVersion = protocol === 'icmp' ? 4 : 6;
  return fc
    .record(
      { action: actionArb, icmp: icmpMatchArb, from: addressSideArb(version), to: addressSideArb(version) },
      { requiredKeys: ['action', 'from', 'to'], noNullPrototype: true },
    )
    .map((fields): Rule => ({ protocol, ...fields }));
});

export const anyRuleArb: fc.Arbitrary<Rule> = fc
  .tuple(actionArb, versionArb)
  .chain(([action, version]) =>
    fc
      .record({ from: addressSideArb(version), to: addressSideArb(version) })
      .map(({ from, to }): Rule => ({ protocol: 'any', action, from, to })),
  );

export const ruleArb: fc.Arbitrary<Rule> = fc.oneof(transportRuleArb, icmpRuleArb, anyRuleArb);

// ---------------------------------------------------------------------------------------------
// Arbitraries for word sequences
// ---------------------------------------------------------------------------------------------

export const junkWordArb = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.constantFrom('', ' ', 'TCP', 'Allow', '!', '-1', '65536', '80-90', '1:2:3', '80,', '::', '%', '/', '__proto__', 'constructor', 'toString'),
);

export const portsTextArb = fc.oneof(
  { weight: 4, arbitrary: portsArb.map((specs) => specs.map(formatPort).join(',')) },
  { weight: 1, arbitrary: fc.constantFrom('080', '0', '65535', '65536', '80:80', '90:80', '80-90', '', '80,', '1:2:3') },
);

export const cidrWordArb = fc.oneof(
  { weight: 4, arbitrary: versionArb.chain(cidrTextArb) },
  { weight: 1, arbitrary: fc.constantFrom('10/8', '10.1/16', '300.1.1.1/8', '10.0.0.0/33', '::1/129', 'bogus', 'fe80::1%eth0') },
);

export const icmpNumberArb = fc.oneof(
  fc.integer({ min: 0, max: 300 }).map(String),
  fc.constantFrom('08', '000', '-1', 'x', '1.5'),
);

export const tagWordArb = fc.oneof({ weight: 5, arbitrary: tagArb }, { weight: 1, arbitrary: fc.constantFrom('', 'a b', 'a!', 'ä') });

/** Port lists with leading zeros and repeats, which parse but are not how printRule writes them. */
export const loosePortsTextArb = fc
  .tuple(portsArb, fc.boolean(), fc.boolean())
  .map(([specs, pad, repeat]) => {
    const items = specs.map((spec) => (pad && spec.kind === 'port' ? `0${spec.port}` : formatPort(spec)));
    return (repeat ? [...items, ...items] : items).join(',');
  });

/** CIDR text for one IP version, sometimes partial (`10/8`) and sometimes with the wrong version. */
export function looseCidrTextArb(version: IpVersion): fc.Arbitrary<string> {
  const partial = version === 4 ? [fc.tuple(fc.nat(255), fc.integer({ min: 0, max: 8 })).map(([a, p]) => `${a}/${p}`)] : [];
  return fc.oneof({ weight: 8, arbitrary: cidrTextArb(version) }, ...partial.map((arbitrary) => ({ weight: 2, arbitrary })), {
    weight: 1,
    arbitrary: cidrTextArb(version === 4 ? 6 : 4),
  });
}

export function sideWordsArb(
  keyword: 'from' | 'to',
  ports: fc.Arbitrary<string | null>,
  cidr: fc.Arbitrary<string>,
): fc.Arbitrary<string[]> {
  return fc
    .record({ ports: fc.option(ports), tag: fc.option(tagWordArb), cidr: fc.option(cidr) })
    .map(({ ports, tag, cidr }) => [
      keyword,
      ...(ports === null ? [] : ['ports', ports]),
      ...(tag === null ? [] : ['tag', tag]),
      ...(cidr === null ? [] : ['cidr', cidr]),
    ]);
}

/** Word sequences shaped by the grammar, with values (and, for ports/icmp, placement) that may be wrong. */
export const grammarWordsArb: fc.Arbitrary<string[]> = fc
  .record({
    action: actionArb,
    protocol: fc.option(fc.constantFrom('tcp', 'udp', 'icmp', 'icmpv6')),
    icmp: fc.option(fc.tuple(icmpNumberArb, fc.option(icmpNumberArb))),
    from: fc.option(sideWordsArb('from', portsTextArb, cidrWordArb)),
    to: fc.option(sideWordsArb('to', portsTextArb, cidrWordArb)),
  })
  .map(({ action, protocol, icmp, from, to }) => [
    action,
    ...(protocol === null ? [] : [protocol]),
    ...(icmp === null ? [] : ['type', icmp[0], ...(icmp[1] === null ? [] : ['code', icmp[1]])]),
    ...(from ?? []),
    ...(to ?? []),
  ]);

/** Mostly valid word sequences: keywords where the protocol allows them, one IP version, values written loosely. */
export const coherentWordsArb: fc.Arbitrary<string[]> = fc
  .constantFrom(null, 'tcp', 'udp', 'icmp', 'icmpv6')
  .chain((protocol) =>
    (protocol === 'icmp' ? fc.constant<IpVersion>(4) : protocol === 'icmpv6' ? fc.constant<IpVersion>(6) : versionArb).chain((version) => {
      const ports = protocol === 'tcp' || protocol === 'udp' ? loosePortsTextArb : fc.constant(null);
      const cidr = looseCidrTextArb(version);
      const icmpNumber = fc.integer({ min: 0, max: 255 }).chain((n) => fc.constantFrom(String(n), `0${n}`));
      return fc
        .record({
          action: actionArb,
          icmp: protocol === 'icmp' || protocol === 'icmpv6' ? fc.option(fc.tuple(icmpNumber, fc.option(icmpNumber))) : fc.constant(null),
          from: fc.option(sideWordsArb('from', ports, cidr)),
          to: fc.option(sideWordsArb('to', ports, cidr)),
        })
        .map(({ action, icmp, from, to }) => [
          action,
          ...(protocol === null ? [] : [protocol]),
          ...(icmp === null ? [] : ['type', icmp[0], ...(icmp[1] === null ? [] : ['code', icmp[1]])]),
          ...(from ?? []),
          ...(to ?? []),
        ]);
    }),
  );

/** A grammar-shaped sequence with a word dropped, swapped or duplicated, or a junk word or keyword inserted. */
export const mutatedWordsArb: fc.Arbitrary<string[]> = grammarWordsArb.chain((words) =>
  fc
    .tuple(
      fc.nat(words.length),
      fc.nat(words.length),
      fc.constantFrom('drop', 'swap', 'dup', 'junk', 'keyword'),
      junkWordArb,
      fc.constantFrom(...KEYWORDS),
    )
    .map(([i, j, how, junk, keyword]) => {
      const out = [...words];
      const a = Math.min(i, out.length - 1);
      const b = Math.min(j, out.length - 1);
      if (how === 'drop') out.splice(a, 1);
      else if (how === 'swap') [out[a], out[b]] = [out[b] as string, out[a] as string];
      else if (how === 'dup') out.splice(a, 0, out[a] as string);
      else out.splice(i, 0, how === 'junk' ? junk : keyword);
      return out;
    }),
);

export const anyWordsArb: fc.Arbitrary<string[]> = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom(...KEYWORDS), junkWordArb, portsTextArb, cidrWordArb, icmpNumberArb), { maxLength: 14 }),
  grammarWordsArb,
  coherentWordsArb,
  mutatedWordsArb,
);
