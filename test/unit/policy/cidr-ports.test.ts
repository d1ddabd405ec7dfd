import { cidrNetworkText, parseCidr, parseIp, sameCidr } from '../../../src/policy/cidr';
import { canonicalPorts, formatPort, formatPorts, MAX_PORT, parsePorts } from '../../../src/policy/ports';
import type { Cidr, PortSpec } from '../../../src/policy/ast';

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`test setup: ${text} should parse`);
  return parsed;
}

describe('parseCidr', () => {
  it.each<[string, Cidr]>([
    ['1.2.3.4', { version: 4, text: '1.2.3.4/32', network: '1.2.3.4', prefixLength: 32 }],
    ['::1', { version: 6, text: '::1/128', network: '::1', prefixLength: 128 }],
    ['10/8', { version: 4, text: '10.0.0.0/8', network: '10.0.0.0', prefixLength: 8 }],
    ['10.1/16', { version: 4, text: '10.1.0.0/16', network: '10.1.0.0', prefixLength: 16 }],
    ['172.16.5/24', { version: 4, text: '172.16.5.0/24', network: '172.16.5.0', prefixLength: 24 }],
    ['DEAD:0::BEEF/64', { version: 6, text: 'dead::beef/64', network: 'dead::', prefixLength: 64 }],
    ['10.1.2.3/8', { version: 4, text: '10.1.2.3/8', network: '10.0.0.0', prefixLength: 8 }],
    ['10.0.0.0/8', { version: 4, text: '10.0.0.0/8', network: '10.0.0.0', prefixLength: 8 }],
    ['192.168.0.0/16', { version: 4, text: '192.168.0.0/16', network: '192.168.0.0', prefixLength: 16 }],
    ['0.0.0.0/0', { version: 4, text: '0.0.0.0/0', network: '0.0.0.0', prefixLength: 0 }],
    ['255.255.255.255/32', { version: 4, text: '255.255.255.255/32', network: '255.255.255.255', prefixLength: 32 }],
    ['10.255.255.255/9', { version: 4, text: '10.255.255.255/9', network: '10.128.0.0', prefixLength: 9 }],
    ['::/0', { version: 6, text: '::/0', network: '::', prefixLength: 0 }],
    ['fd00::/8', { version: 6, text: 'fd00::/8', network: 'fd00::', prefixLength: 8 }],
    ['FFFF::/1', { version: 6, text: 'ffff::/1', network: '8000::', prefixLength: 1 }],
    ['2001:0db8:0000:0000:0000:0000:0000:0001/128', { version: 6, text: '2001:db8::1/128', network: '2001:db8::1', prefixLength: 128 }],
    ['2001:db8::1/127', { version: 6, text: '2001:db8::1/127', network: '2001:db8::', prefixLength: 127 }],
  ])('%s', (input, expected) => {
    expect(parseCidr(input)).toEqual(expected);
  });

  it.each([
    '300.1.1.1/8',
    '10.0.0.0/33',
    '::1/129',
    '1.2.3.4/',
    '/8',
    '1.2.3.4/8/8',
    '1.2.3.4/-1',
    '1.2.3.4/a',
    '1.2.3.4.5',
    '1.2.3.4.5/8',
    '10./8',
    '1.2.3',
    '10',
    '1::2::3',
    'fe80::1%eth0/64',
    'bogus',
    '',
    ' 1.2.3.4',
    '1.2.3.4 ',
    'gggg::/16',
    '1.2.3.-4',
  ])('rejects %j', (input) => {
    expect(parseCidr(input)).toBeUndefined();
  });

  it('compares by network, prefix and version, not by typed text', () => {
    expect(sameCidr(cidr('10.1.2.3/8'), cidr('10.0.0.0/8'))).toBe(true);
    expect(sameCidr(cidr('10/8'), cidr('10.0.0.0/8'))).toBe(true);
    expect(sameCidr(cidr('DEAD::BEEF/64'), cidr('dead::/64'))).toBe(true);
    expect(sameCidr(cidr('10.0.0.0/8'), cidr('10.0.0.0/16'))).toBe(false);
    expect(sameCidr(cidr('10.0.0.0/8'), cidr('11.0.0.0/8'))).toBe(false);
    expect(sameCidr(cidr('0.0.0.0/0'), cidr('::/0'))).toBe(false);
  });

  it('gives the masked form with cidrNetworkText', () => {
    expect(cidrNetworkText(cidr('10.1.2.3/8'))).toBe('10.0.0.0/8');
    expect(cidrNetworkText(cidr('dead::beef/64'))).toBe('dead::/64');
    expect(cidrNetworkText(cidr('1.2.3.4'))).toBe('1.2.3.4/32');
  });

  it('is a fixed point on its own text', () => {
    for (const text of ['10.1.2.3/8', 'DEAD:0::BEEF/64', '10/8', '::1', '1.2.3.4']) {
      const once = cidr(text);
      expect(parseCidr(once.text)).toEqual(once);
    }
  });
});

describe('parseIp', () => {
  it.each<[string, ReturnType<typeof parseIp>]>([
    ['1.2.3.4', { version: 4, text: '1.2.3.4' }],
    ['::1', { version: 6, text: '::1' }],
    ['DEAD:0::BEEF', { version: 6, text: 'dead::beef' }],
    ['1.2.3.4/32', undefined],
    ['10.1', undefined],
    ['10', undefined],
    ['300.1.1.1', undefined],
    ['bogus', undefined],
  ])('%s', (input, expected) => {
    expect(parseIp(input)).toEqual(expected);
  });
});

describe('parsePorts', () => {
  it.each<[string, PortSpec[]]>([
    ['0', [{ kind: 'port', port: 0 }]],
    ['80', [{ kind: 'port', port: 80 }]],
    ['65535', [{ kind: 'port', port: MAX_PORT }]],
    ['080', [{ kind: 'port', port: 80 }]],
    // Python's int() accepted any number of leading zeros.
    ['000080', [{ kind: 'port', port: 80 }]],
    ['80,443', [{ kind: 'port', port: 80 }, { kind: 'port', port: 443 }]],
    ['443,80', [{ kind: 'port', port: 443 }, { kind: 'port', port: 80 }]],
    ['1,1', [{ kind: 'port', port: 1 }, { kind: 'port', port: 1 }]],
    ['8000:8080', [{ kind: 'range', low: 8000, high: 8080 }]],
    ['0:65535', [{ kind: 'range', low: 0, high: 65535 }]],
    ['80:81', [{ kind: 'range', low: 80, high: 81 }]],
    [
      '80,443,8000:8080',
      [
        { kind: 'port', port: 80 },
        { kind: 'port', port: 443 },
        { kind: 'range', low: 8000, high: 8080 },
      ],
    ],
  ])('%j', (input, expected) => {
    expect(parsePorts(input)).toEqual(expected);
  });

  it.each([
    '65536',
    '99999',
    '100000',
    '80:80',
    '90:80',
    '80:65536',
    '-10',
    '80-90',
    '1:2:3',
    '80,',
    ',80',
    '80,,443',
    '',
    ',',
    ':80',
    '80:',
    '+80',
    ' 80',
    '80 ',
    '80, 443',
    'http',
    '8o',
    '1.5',
    '0x50',
  ])('rejects %j', (input) => {
    expect(parsePorts(input)).toBeUndefined();
  });
});

describe('formatPorts and canonicalPorts', () => {
  const specs = (text: string): PortSpec[] => {
    const parsed = parsePorts(text);
    if (!parsed) throw new Error(`test setup: ${text} should parse`);
    return parsed;
  };

  it('formats single ports and ranges as typed, in order', () => {
    expect(formatPort({ kind: 'port', port: 0 })).toBe('0');
    expect(formatPort({ kind: 'range', low: 8000, high: 8080 })).toBe('8000:8080');
    expect(formatPorts(specs('443,80,8000:8080,80'))).toBe('443,80,8000:8080,80');
    expect(formatPorts(specs('080'))).toBe('80');
  });

  it.each([
    ['443,80', '80,443'],
    ['80,443,80', '80,443'],
    ['8000:8080,80,22', '22,80,8000:8080'],
    ['80:90,80', '80,80:90'],
    ['9,10,100', '9,10,100'],
  ])('canonical form of %s is %s', (input, expected) => {
    expect(canonicalPorts(specs(input))).toBe(expected);
  });

  it('gives equal keys for lists that differ only in order or repetition', () => {
    expect(canonicalPorts(specs('443,80'))).toBe(canonicalPorts(specs('80,443')));
    expect(canonicalPorts(specs('80,80,443'))).toBe(canonicalPorts(specs('443,80')));
    expect(canonicalPorts(specs('80'))).not.toBe(canonicalPorts(specs('80,443')));
    expect(canonicalPorts(specs('80:90'))).not.toBe(canonicalPorts(specs('80,90')));
  });
});

describe('ipv4HostSpellings: finds every spelling hostNetAddress reads as the address', () => {
  const { hostNetAddress, ipv4HostSpellings } = require('../../../src/policy/cidr') as typeof import('../../../src/policy/cidr');
  const fc = require('fast-check') as typeof import('fast-check');
  const { fuzzParams } = require('../../fakes/fuzz') as typeof import('../../fakes/fuzz');
  const octet = fc.integer({ min: 0, max: 255 });
  // Octets with up to two leading zeros, 1-4 parts, an optional prefix with a leading zero.
  const spelling = fc.record({
    octets: fc.array(fc.record({ value: octet, zeros: fc.nat(2) }), { minLength: 1, maxLength: 4 }),
    prefix: fc.constantFrom(undefined, '32', '032', '31', '24'),
  }).map(({ octets, prefix }) => `${octets.map((o) => `${'0'.repeat(o.zeros)}${o.value}`.slice(-Math.max(3, String(o.value).length))).join('.')}${prefix === undefined ? '' : `/${prefix}`}`);

  it('matches the quoted spelling whenever hostNetAddress reads it as the address', () => {
    fc.assert(
      fc.property(spelling, fc.constantFrom('a', 'b'), (text, _) => {
        const address = hostNetAddress(text, 4);
        if (address === undefined) return;
        expect(ipv4HostSpellings(address)?.test(`{"ipv4_nets":[${JSON.stringify(text)}]}`)).toBe(true);
      }),
      fuzzParams(2000),
    );
  });

  it('does not match other addresses, and is undefined for what is no canonical IPv4 address', () => {
    const pattern = ipv4HostSpellings('10.201.0.2') as RegExp;
    expect(pattern.test('["10.201.0.2/32"]')).toBe(true);
    expect(pattern.test('["010.201.000.002/032"]')).toBe(true);
    expect(pattern.test('["10.201.0.20/32"]')).toBe(false);
    expect(pattern.test('["110.201.0.2/32"]')).toBe(false);
    expect(pattern.test('["10.201.0.2/31"]')).toBe(false);
    expect((ipv4HostSpellings('10.201.0.0') as RegExp).test('["10.201/32"]')).toBe(true);
    expect(ipv4HostSpellings('fd00::1')).toBeUndefined();
    expect(ipv4HostSpellings('010.1.1.1')).toBeUndefined();
  });
});
