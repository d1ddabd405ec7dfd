import { type AnySpec, group, usageBlock } from '../../spec';
import show from './show';
import add from './add';
import remove from './remove';
import ruleAdd from './rule-add';
import ruleRemove from './rule-remove';
import ruleShow from './rule-show';
import ruleJson from './rule-json';
import ruleUpdate from './rule-update';
import tagShow from './tag-show';
import tagAdd from './tag-add';
import tagRemove from './tag-remove';
import { RULE_HELP } from './grammar';

const verbs: AnySpec[] = [
  show,
  add,
  remove,
  group({
    path: ['profile', 'rule'],
    usage: 'profile <PROFILE> rule (add|remove|show|json|update) …',
    summary: "Show or change a profile's inbound and outbound rules",
    help: RULE_HELP,
    target: { completeNames: true },
  }),
  ruleAdd,
  ruleRemove,
  ruleShow,
  ruleJson,
  ruleUpdate,
  group({ path: ['profile', 'tag'], usage: 'profile <PROFILE> tag (show|add <TAG>|remove <TAG>)', summary: "Show or change a profile's tags", target: { completeNames: true } }),
  tagShow,
  tagAdd,
  tagRemove,
];

/** Every verb's usage line, as `profile --help` lists them. */
export const PROFILE_USAGE = usageBlock(verbs, ['profile']);

/** `calicoctl profile …`: the tags and rules of profiles. */
export const PROFILE: readonly AnySpec[] = [
  group({
    path: ['profile'],
    usage: 'profile (show|add|remove) … | profile <PROFILE> (rule|tag) …',
    summary: "Manage profiles: the tags and rules that a Docker network's policy is made of",
    help: `\n${PROFILE_USAGE}${RULE_HELP}`,
  }),
  ...verbs,
];
