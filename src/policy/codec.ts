import { CalicoError, escapeControls } from './errors';
import {
  type Action,
  type AddressMatch,
  type Cidr,
  type IcmpMatch,
  isValidName,
  type PortMatch,
  type PortSpec,
  type Rule,
  type RuleSet,
} from './ast';
import { parseCidr } from './cidr';
import { MAX_PORT } from './ports';

/**
 * The Calico v1 data model of rules, as stored in etcd under `/calico/v1/policy/profile/<id>/rules`
 * and printed by `rule json`: `{"inbound_rules": [...], "outbound_rules": [...]}`.
 */
export interface V1Rule {
  action: Action;
  protocol?: 'tcp' | 'udp' | 'icmp' | 'icmpv6';
  src_tag?: string;
  src_net?: string;
  src_ports?: (number | string)[];
  dst_tag?: string;
  dst_net?: string;
  dst_ports?: (number | string)[];
  icmp_type?: number;
  icmp_code?: number;
}

export interface V1Rules {
  inbound_rules: V1Rule[];
  outbound_rules: V1Rule[];
}

/** A stored or supplied rule document that is not a valid rule set; `path` names the field. */
export class RuleDecodeError extends CalicoError {
  readonly code = 'rule-document';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(escapeControls(`${path}: ${problem}`));
    this.name = 'RuleDecodeError';
  }
}

export function ruleToV1(rule: Rule): V1Rule {
  const out: V1Rule = { action: rule.action };
  if (rule.protocol !== 'any') out.protocol = rule.protocol;
  writeSide(out, 'src', rule.from);
  writeSide(out, 'dst', rule.to);
  if ((rule.protocol === 'icmp' || rule.protocol === 'icmpv6') && rule.icmp) {
    out.icmp_type = rule.icmp.type;
    if (rule.icmp.code !== undefined) out.icmp_code = rule.icmp.code;
  }
  return out;
}

function writeSide(out: V1Rule, prefix: 'src' | 'dst', side: PortMatch): void {
  if (side.tag !== undefined) out[`${prefix}_tag`] = side.tag;
  if (side.cidr) out[`${prefix}_net`] = side.cidr.text;
  // A range is stored as the string "low:high", a single port as a number (Felix's data model).
  if (side.ports) out[`${prefix}_ports`] = side.ports.map((p) => (p.kind === 'port' ? p.port : `${p.low}:${p.high}`));
}

export function ruleSetToV1(rules: RuleSet): V1Rules {
  return { inbound_rules: rules.inbound.map(ruleToV1), outbound_rules: rules.outbound.map(ruleToV1) };
}

const RULE_FIELDS = new Set([
  'action', 'protocol', 'src_tag', 'src_net', 'src_ports', 'dst_tag', 'dst_net', 'dst_ports', 'icmp_type', 'icmp_code',
]);

/** Decodes and validates a rules document; every failure names the rule and field. */
export function ruleSetFromV1(document: unknown, where = ''): RuleSet {
  if (!isObject(document)) throw new RuleDecodeError(where || 'rules', 'expected a JSON object with inbound_rules and outbound_rules');
  const list = (key: 'inbound_rules' | 'outbound_rules'): Rule[] => {
    const value = document[key];
    const path = where ? `${where}.${key}` : key;
    if (value === undefined) throw new RuleDecodeError(path, 'missing (a list of rules is required)');
    if (!Array.isArray(value)) throw new RuleDecodeError(path, 'expected a list of rules');
    return value.map((rule, index) => ruleFromV1(rule, `${path}[${index}]`));
  };
  return { inbound: list('inbound_rules'), outbound: list('outbound_rules') };
}

export function ruleFromV1(value: unknown, path: string): Rule {
  if (!isObject(value)) throw new RuleDecodeError(path, 'expected a rule object');
  for (const key of Object.keys(value)) {
    if (!RULE_FIELDS.has(key)) {
      const why = key.startsWith('!') || key.endsWith('_selector') ? 'is not supported by calicoctl rules' : 'is not a rule field';
      throw new RuleDecodeError(`${path}${fieldPath(key)}`, `${why} (fields: ${[...RULE_FIELDS].join(', ')})`);
    }
  }
  const action = value.action;
  if (action !== 'allow' && action !== 'deny') {
    throw new RuleDecodeError(`${path}.action`, action === undefined ? "missing (must be 'allow' or 'deny')" : `${JSON.stringify(action)} is not 'allow' or 'deny'`);
  }
  const protocol = value.protocol ?? 'any';
  const from = decodeSide(value, 'src', path);
  const to = decodeSide(value, 'dst', path);
  const hasIcmp = value.icmp_type !== undefined || value.icmp_code !== undefined;

  let rule: Rule;
  if (protocol === 'tcp' || protocol === 'udp') {
    if (hasIcmp) throw new RuleDecodeError(`${path}.${icmpKey(value)}`, `ICMP type and code are only valid with protocol icmp or icmpv6, not ${protocol}`);
    rule = { protocol, action, from, to };
  } else if (protocol === 'icmp' || protocol === 'icmpv6' || (protocol === 'any' && value.protocol == null)) {
    for (const [side, key] of [[from, 'src_ports'], [to, 'dst_ports']] as const) {
      if (side.ports) throw new RuleDecodeError(`${path}.${key}`, 'ports are only valid with protocol tcp or udp');
    }
    const addressOnly = (side: PortMatch): AddressMatch => ({ ...(side.tag !== undefined && { tag: side.tag }), ...(side.cidr && { cidr: side.cidr }) });
    if (protocol === 'any') {
      if (hasIcmp) throw new RuleDecodeError(`${path}.${icmpKey(value)}`, 'ICMP type and code are only valid with protocol icmp or icmpv6');
      rule = { protocol, action, from: addressOnly(from), to: addressOnly(to) };
    } else {
      const icmp = decodeIcmp(value, path);
      rule = icmp
        ? { protocol, action, icmp, from: addressOnly(from), to: addressOnly(to) }
        : { protocol, action, from: addressOnly(from), to: addressOnly(to) };
    }
  } else {
    throw new RuleDecodeError(`${path}.protocol`, `${JSON.stringify(protocol)} is not one of tcp, udp, icmp, icmpv6`);
  }
  checkVersions(rule, path);
  return rule;
}

function decodeSide(value: Record<string, unknown>, prefix: 'src' | 'dst', path: string): PortMatch {
  const side: { tag?: string; cidr?: Cidr; ports?: PortSpec[] } = {};
  const tag = value[`${prefix}_tag`];
  if (tag !== undefined) {
    if (typeof tag !== 'string' || !isValidName(tag)) {
      throw new RuleDecodeError(`${path}.${prefix}_tag`, `${JSON.stringify(tag)} is not a tag (numbers, letters, dots, dashes and underscores)`);
    }
    side.tag = tag;
  }
  const net = value[`${prefix}_net`];
  if (net !== undefined) {
    const cidr = typeof net === 'string' ? parseCidr(net) : undefined;
    if (!cidr) throw new RuleDecodeError(`${path}.${prefix}_net`, `${JSON.stringify(net)} is not a CIDR`);
    side.cidr = cidr;
  }
  const ports = value[`${prefix}_ports`];
  if (ports !== undefined) side.ports = decodePorts(ports, `${path}.${prefix}_ports`);
  return side;
}

function decodePorts(value: unknown, path: string): PortSpec[] {
  if (!Array.isArray(value) || value.length === 0) throw new RuleDecodeError(path, 'expected a non-empty list of ports');
  return value.map((item, index) => {
    if (typeof item === 'number' && Number.isInteger(item) && item >= 0 && item <= MAX_PORT) return { kind: 'port', port: item };
    const range = typeof item === 'string' ? /^(\d{1,5}):(\d{1,5})$/.exec(item) : null;
    if (range) {
      const low = Number(range[1]);
      const high = Number(range[2]);
      if (high <= MAX_PORT && low < high) return { kind: 'range', low, high };
    }
    throw new RuleDecodeError(`${path}[${index}]`, `${JSON.stringify(item)} is not a port (0-${MAX_PORT}) or a range "low:high" with low < high`);
  });
}

function decodeIcmp(value: Record<string, unknown>, path: string): IcmpMatch | undefined {
  const number = (key: 'icmp_type' | 'icmp_code'): number | undefined => {
    const field = value[key];
    if (field === undefined) return undefined;
    if (typeof field !== 'number' || !Number.isInteger(field) || field < 0 || field > 255) {
      throw new RuleDecodeError(`${path}.${key}`, `${JSON.stringify(field)} is not a number from 0 to 255`);
    }
    return field;
  };
  const type = number('icmp_type');
  const code = number('icmp_code');
  if (type === undefined) {
    if (code !== undefined) throw new RuleDecodeError(`${path}.icmp_code`, 'an ICMP code needs an icmp_type');
    return undefined;
  }
  return code === undefined ? { type } : { type, code };
}

function checkVersions(rule: Rule, path: string): void {
  const required = rule.protocol === 'icmp' ? 4 : rule.protocol === 'icmpv6' ? 6 : (rule.from.cidr ?? rule.to.cidr)?.version;
  for (const [cidr, key] of [[rule.from.cidr, 'src_net'], [rule.to.cidr, 'dst_net']] as const) {
    if (cidr && cidr.version !== required) {
      throw new RuleDecodeError(`${path}.${key}`, `${cidr.text} is IPv${cidr.version}, but the rule needs IPv${required}`);
    }
  }
}

/** The ICMP field a misplaced-ICMP error should name: icmp_type unless only icmp_code was given. */
function icmpKey(value: Record<string, unknown>): 'icmp_type' | 'icmp_code' {
  return value.icmp_type === undefined ? 'icmp_code' : 'icmp_type';
}

/**
 * `.name` for a plain field name, else `["…"]` as JSON writes it: a key in a document may hold a
 * newline or an escape sequence, and the message naming it must stay one harmless line.
 */
function fieldPath(key: string): string {
  return /^[A-Za-z0-9_!]+$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
