import { UsageError } from '../errors';
import { command } from '../spec';

/** The scripts `calicoctl completion <SHELL>` prints; each asks `calicoctl __complete` (../completion.ts) for candidates. */
const SCRIPTS: Record<string, string> = {
  // Words are split from the line by spaces alone: bash's COMP_WORDS also splits at = and :
  // (\`--at=2\`, \`ports 80:90\`), which the rule grammar does not.
  bash: `# calicoctl bash completion: source <(calicoctl completion bash)
_calicoctl() {
  local -a words
  if [[ -n \${COMP_LINE+set} ]]; then
    read -ra words <<< "\${COMP_LINE:0:COMP_POINT}"
    [[ \${COMP_LINE:0:COMP_POINT} == *[[:space:]] ]] && words+=("")
  else
    words=("\${COMP_WORDS[@]:0:COMP_CWORD+1}")
  fi
  local cur=\${words[\${#words[@]}-1]}
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$(calicoctl __complete -- "\${words[@]:1}" 2>/dev/null)" -- "$cur"))
  # bash replaces only the part of the word after its last = or :
  if [[ $cur == *[=:]* ]]; then
    local head=\${cur%\"\${cur##*[=:]}\"}
    COMPREPLY=("\${COMPREPLY[@]#\"$head\"}")
  fi
}
complete -o default -F _calicoctl calicoctl
`,
  zsh: `#compdef calicoctl
# calicoctl zsh completion: source <(calicoctl completion zsh)
_calicoctl() {
  local -a candidates
  candidates=("\${(@f)$(calicoctl __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  # -V: an unsorted group, so candidates keep calicoctl's order (the grammar's), as in bash.
  compadd -V calicoctl -- "\${candidates[@]}"
}
compdef _calicoctl calicoctl
`,
  fish: `# calicoctl fish completion: calicoctl completion fish | source
# -k keeps calicoctl's order (the grammar's) instead of sorting, as in bash.
complete -c calicoctl -f -k -a '(calicoctl __complete -- (commandline -opc)[2..-1] (commandline -ct))'
`,
};

export default command<{ shell: string }>({
  path: ['completion'],
  summary: 'Print a shell completion script: source <(calicoctl completion bash)',
  args: [{ syntax: '<SHELL>', key: 'shell', description: 'bash, zsh or fish' }],
  writes: false,
  complete: Object.keys(SCRIPTS),
  run({ shell }, ctx) {
    const script = SCRIPTS[shell];
    if (!script) throw new UsageError(`Unknown shell '${shell}': choose bash, zsh or fish.`);
    ctx.io.out.write(script);
  },
});
