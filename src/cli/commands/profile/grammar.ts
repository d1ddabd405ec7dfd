/** Help text of the profile commands: the rule grammar and the examples, written once. */

export const RULE_GRAMMAR = `RULE-MATCH is one of:
  (tcp|udp) [from [ports <SRCPORTS>] [tag <SRCTAG>] [cidr <SRCCIDR>]]
            [to   [ports <DSTPORTS>] [tag <DSTTAG>] [cidr <DSTCIDR>]]
  icmp   [type <ICMPTYPE> [code <ICMPCODE>]] [from [tag <SRCTAG>] [cidr <SRCCIDR>]]
                                             [to   [tag <DSTTAG>] [cidr <DSTCIDR>]]
  icmpv6 [type <ICMPTYPE> [code <ICMPCODE>]] [from [tag <SRCTAG>] [cidr <SRCCIDR>]]
                                             [to   [tag <DSTTAG>] [cidr <DSTCIDR>]]
  [from [tag <SRCTAG>] [cidr <SRCCIDR>]] [to [tag <DSTTAG>] [cidr <DSTCIDR>]]

  PORTS     a comma list of ports (0-65535) and ranges low:high, e.g. 80,443,8000:8080
  TAG       letters, digits, dots, dashes and underscores; for a profile made by the
            Docker network driver, the name of a Docker network
  CIDR      an IPv4 or IPv6 address or network, e.g. 10.0.0.0/8, fd00::/64
  ICMPTYPE, ICMPCODE  numbers from 0 to 255; icmp takes IPv4 CIDRs, icmpv6 IPv6 ones
`;

export const PROFILE_EXAMPLES = `Examples:
  calicoctl profile add web
  calicoctl profile web rule add inbound allow tcp to ports 80,443
  calicoctl profile web rule add inbound --at=1 deny from cidr 10.9.0.0/16
  calicoctl profile web rule add outbound allow icmp type 8
  calicoctl profile databases rule add inbound allow tcp from tag applications to ports 3306
  calicoctl profile databases rule show
  calicoctl profile databases rule remove inbound --at=2
  calicoctl profile web rule json > rules.json && calicoctl profile web rule update < rules.json

A profile created by 'docker network create --driver calico' is named by the network's ID;
type the network's name instead, here and in tags, and calicoctl maps it to the ID.
`;

/** What `profile <PROFILE> rule`, `rule add` and `rule remove` print after their usage. */
export const RULE_HELP = `\n${RULE_GRAMMAR}\n${PROFILE_EXAMPLES}`;
