import * as ipaddr from 'ipaddr.js';
import type { Cidr } from './ast';

/**
 * Parses a CIDR the way the original calicoctl (netaddr, non-strict) accepted it: a bare address
 * gains /32 or /128, a partial IPv4 network such as `10/8` is padded with zeros, host bits are
 * kept, and IPv6 is lower-cased and compressed. Returns undefined when the text is not a CIDR.
 */
export function parseCidr(input: string): Cidr | undefined {
  const slash = input.indexOf('/');
  const addressText = slash < 0 ? input : input.slice(0, slash);
  const prefixText = slash < 0 ? undefined : input.slice(slash + 1);
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;

  if (addressText.includes(':')) {
    const bytes = parseIpv6(addressText);
    if (!bytes) return undefined;
    const prefixLength = prefixText === undefined ? 128 : Number(prefixText);
    if (prefixLength > 128) return undefined;
    const address = (ipaddr.fromByteArray(bytes) as ipaddr.IPv6).toRFC5952String();
    const network = (ipaddr.fromByteArray(mask(bytes, prefixLength)) as ipaddr.IPv6).toRFC5952String();
    return { version: 6, text: `${address}/${prefixLength}`, network, prefixLength };
  }

  const octets = parseIpv4(addressText, prefixText !== undefined);
  if (!octets) return undefined;
  const prefixLength = prefixText === undefined ? 32 : Number(prefixText);
  if (prefixLength > 32) return undefined;
  return {
    version: 4,
    text: `${octets.join('.')}/${prefixLength}`,
    network: mask(octets, prefixLength).join('.'),
    prefixLength,
  };
}

/** A canonical IPv4 host network (`10.1.2.3/32`): the spelling every writer of endpoints uses. */
const CANONICAL_IPV4_HOST = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\/32$/;

/**
 * The address of a host network of one family (`10.1.2.3/32`, `fd00::1/128`), in canonical text,
 * or undefined when the text is no such network. Endpoints hold thousands of these and every
 * reader of them asks this, so the common spelling is recognised without parsing.
 */
export function hostNetAddress(text: string, version: 4 | 6): string | undefined {
  if (version === 4 && CANONICAL_IPV4_HOST.test(text)) return text.slice(0, -3);
  const cidr = parseCidr(text);
  return cidr && cidr.version === version && cidr.prefixLength === (version === 4 ? 32 : 128) ? cidr.network : undefined;
}

/**
 * A pattern that finds, in JSON text without escapes, every JSON string that hostNetAddress reads
 * as this IPv4 address: `"10.1.2.3"`, `"10.1.2.3/32"` and the spellings parseCidr also accepts
 * (octets with leading zeros, `/032`, and with a prefix a shorter form padded with zero octets).
 * Text it does not match holds no such string, so a reader looking for the endpoints at one
 * address may skip decoding it. Undefined for anything but a canonical IPv4 address.
 */
export function ipv4HostSpellings(address: string): RegExp | undefined {
  const octets = address.split('.');
  if (octets.length !== 4 || parseIp(address)?.text !== address) return undefined;
  const part = (octet: string) => `0{0,${3 - octet.length}}${octet}`;
  const forms = [`${octets.map(part).join('\\.')}(?:/0?32)?`];
  // With a prefix, `10.1/32` is 10.1.0.0/32: shorter forms stand for trailing zero octets.
  for (let length = 3; length >= 1 && octets[length] === '0'; length--) forms.push(`${octets.slice(0, length).map(part).join('\\.')}/0?32`);
  return new RegExp(`"(?:${forms.join('|')})"`);
}

/** Two CIDRs are the same when they cover the same addresses, whatever host bits were typed. */
export function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.version === b.version && a.prefixLength === b.prefixLength && a.network === b.network;
}

/** The masked form, e.g. `10.0.0.0/8` for `10.1.2.3/8`: what the kernel is given. */
export function cidrNetworkText(cidr: Cidr): string {
  return `${cidr.network}/${cidr.prefixLength}`;
}

/** Parses a plain IPv4 or IPv6 address (no prefix). */
export function parseIp(input: string): { version: 4 | 6; text: string } | undefined {
  if (input.includes('/')) return undefined;
  const cidr = parseCidr(input);
  if (!cidr) return undefined;
  if (cidr.version === 4 && input.split('.').length !== 4) return undefined;
  return { version: cidr.version, text: cidr.text.slice(0, cidr.text.indexOf('/')) };
}

function parseIpv4(text: string, allowPartial: boolean): number[] | undefined {
  const parts = text.split('.');
  if (parts.length > 4 || (parts.length < 4 && !allowPartial)) return undefined;
  const octets: number[] = [];
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    octets.push(value);
  }
  while (octets.length < 4) octets.push(0);
  return octets;
}

function parseIpv6(text: string): number[] | undefined {
  // Zone indexes (fe80::1%eth0) name an interface of one host: meaningless in a policy rule.
  if (text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
  return ipaddr.IPv6.parse(text).toByteArray();
}

function mask(bytes: readonly number[], prefixLength: number): number[] {
  return bytes.map((byte, index) => {
    const bitsInThisByte = Math.max(0, Math.min(8, prefixLength - index * 8));
    return byte & ((0xff << (8 - bitsInThisByte)) & 0xff);
  });
}

/** An address as a number, for walking through a pool. */
export function addressToBigInt(address: string): bigint {
  const parsed = ipaddr.parse(address);
  return parsed.toByteArray().reduce((value, byte) => (value << 8n) | BigInt(byte), 0n);
}

export function bigIntToAddress(value: bigint, version: 4 | 6): string {
  const length = version === 4 ? 4 : 16;
  const bytes: number[] = [];
  for (let i = 0; i < length; i++) {
    bytes.unshift(Number(value & 0xffn));
    value >>= 8n;
  }
  const address = ipaddr.fromByteArray(bytes);
  return address.kind() === 'ipv6' ? (address as ipaddr.IPv6).toRFC5952String() : address.toString();
}

/** The first and last address of a CIDR, as numbers. */
export function cidrBounds(cidr: Cidr): { first: bigint; last: bigint } {
  const first = addressToBigInt(cidr.network);
  const bits = BigInt((cidr.version === 4 ? 32 : 128) - cidr.prefixLength);
  return { first, last: first + (1n << bits) - 1n };
}

export function cidrContains(cidr: Cidr, address: string): boolean {
  const parsed = parseIp(address);
  if (!parsed || parsed.version !== cidr.version) return false;
  const value = addressToBigInt(parsed.text);
  const { first, last } = cidrBounds(cidr);
  return value >= first && value <= last;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.version !== b.version) return false;
  const x = cidrBounds(a);
  const y = cidrBounds(b);
  return x.first <= y.last && y.first <= x.last;
}

/** Splits the inclusive range first..last into the fewest CIDRs that cover exactly it. */
export function rangeToCidrs(first: bigint, last: bigint, version: 4 | 6): Cidr[] {
  const width = version === 4 ? 32 : 128;
  const cidrs: Cidr[] = [];
  let start = first;
  while (start <= last) {
    let size = 0;
    while (size < width) {
      const next = size + 1;
      const blockSize = 1n << BigInt(next);
      if (start % blockSize !== 0n || start + blockSize - 1n > last) break;
      size = next;
    }
    const cidr = parseCidr(`${bigIntToAddress(start, version)}/${width - size}`);
    if (cidr) cidrs.push(cidr);
    start += 1n << BigInt(size);
  }
  return cidrs;
}
