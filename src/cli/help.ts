// --help, the man page and the shell completion scripts, all made from src/cli/commands.ts.
import type { OptionSpec } from './args.js';
import { type Command, COMMANDS, GLOBAL_SPECS } from './commands.js';

declare const HAKO_VERSION: string;

/** `-b, --bundle DIR` / `    --mount-proc[=DIR]`. */
function flagText(o: OptionSpec): string {
  const kind = o.arg ?? 'none';
  const value = kind === 'required' ? ` ${o.value ?? 'VALUE'}` : kind === 'optional' ? `[=${o.value ?? 'VALUE'}]` : '';
  return `${o.short ? `-${o.short}, ` : '    '}--${o.long}${value}`;
}

/** Words joined into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) { lines.push(line); line = word; } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/** One flag a line (or more, wrapped at 80 columns), its help beside it. */
function optionLines(specs: OptionSpec[]): string {
  const width = Math.min(28, Math.max(...specs.map((o) => flagText(o).length)) + 2);
  const indent = ' '.repeat(2 + width);
  return specs.map((o) => {
    const flag = flagText(o);
    const help = wrap(o.help ?? '', 80 - indent.length);
    const first = flag.length + 2 > width ? [`  ${flag}`, `${indent}${help[0]}`] : [`  ${flag.padEnd(width)}${help[0]}`];
    return [...first, ...help.slice(1).map((l) => `${indent}${l}`)].join('\n');
  }).join('\n');
}

export function usageLine(c: Command): string {
  return `hako ${c.name}${c.specs.length > 1 ? ' [options]' : ''}${c.operands ? ` ${c.operands}` : ''}`;
}

export function commandHelp(c: Command): string {
  const parts = [`Usage: ${usageLine(c)}`, c.description ?? `${c.summary[0]?.toUpperCase()}${c.summary.slice(1)}.`];
  parts.push(`\nOptions:\n${optionLines(c.specs)}`);
  if (c.notes) parts.push(`\n${c.notes}`);
  parts.push(`\nExample${c.examples.length > 1 ? 's' : ''}:\n${c.examples.map((e) => `  ${e}`).join('\n')}`);
  return parts.join('\n');
}

const GROUPS: Array<[Command['group'], string]> = [
  ['sandbox', 'Sandbox (untrusted commands with limits)'],
  ['toolkit', 'Namespace toolkit'], ['image', 'Images'], ['runtime', "OCI runtime (runc's command line)"], ['other', 'Help'],
];

export function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 3;
  const groups = GROUPS.map(([g, title]) => `${title}:\n${COMMANDS.filter((c) => c.group === g)
    .map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}`);
  return `Usage: hako [global options] <command> [options]
A Linux container runtime and namespace toolkit.

${groups.join('\n\n')}

Global options (before the command):
${optionLines(GLOBAL_SPECS)}

Examples:
  hako unshare --all --mount-proc --map-root-user -- ps -ef
  hako spec --bundle B && hako run --bundle B c1

'hako <command> --help' for a command's options; 'hako help --man' for the manual page.`;
}

// --- the man page (roff, man macros) ---

/** Text for roff: backslashes and dashes escaped, no line starting with a control character. */
function roff(text: string): string {
  return text.replace(/\\/g, '\\e').replace(/-/g, '\\-').split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l)).join('\n');
}

function manOptions(specs: OptionSpec[]): string {
  return specs.map((o) => {
    const kind = o.arg ?? 'none';
    const value = kind === 'required' ? ` \\fI${roff(o.value ?? 'VALUE')}\\fR` : kind === 'optional' ? `[=\\fI${roff(o.value ?? 'VALUE')}\\fR]` : '';
    const flag = `${o.short ? `\\fB\\-${o.short}\\fR, ` : ''}\\fB\\-\\-${roff(o.long)}\\fR${value}`;
    return `.TP\n${flag}\n${roff(o.help ?? '')}`;
  }).join('\n');
}

function manExamples(lines: string[]): string {
  return `.PP\nExample${lines.length > 1 ? 's' : ''}:\n.RS\n.nf\n${lines.map(roff).join('\n')}\n.fi\n.RE`;
}

export function manPage(): string {
  const sections = COMMANDS.map((c) => [
    `.SS ${roff(usageLine(c))}`,
    roff(c.description ?? `${c.summary}.`).replace(/\n/g, '\n.br\n'),
    manOptions(c.specs),
    c.notes ? `.PP\n${roff(c.notes).replace(/\n/g, '\n.br\n')}` : '',
    manExamples(c.examples),
  ].filter(Boolean).join('\n'));
  return `.TH HAKO 1 "" "hako ${roff(HAKO_VERSION)}" "User Commands"
.SH NAME
hako \\- a Linux container runtime and namespace toolkit
.SH SYNOPSIS
.B hako
[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]
.SH DESCRIPTION
hako runs commands in new Linux namespaces (\\fBunshare\\fR, \\fBnsenter\\fR, \\fBns\\fR) and is an OCI
runtime with runc's command line, which podman and containerd drive with \\fB\\-\\-runtime\\fR.
Errors are one line starting with \\fBhako:\\fR.
.SH GLOBAL OPTIONS
${manOptions(GLOBAL_SPECS)}
.SH COMMANDS
${sections.join('\n')}
.SH SEE ALSO
\\fBrunc\\fR(8), \\fBunshare\\fR(1), \\fBnsenter\\fR(1), \\fBlsns\\fR(8)
`;
}

// --- shell completion ---

function words(specs: OptionSpec[]): string {
  return specs.flatMap((o) => [`--${o.long}`, ...(o.short ? [`-${o.short}`] : [])]).join(' ');
}

function withValue(specs: OptionSpec[]): string {
  return specs.filter((o) => o.arg === 'required').flatMap((o) => [`--${o.long}`, ...(o.short ? [`-${o.short}`] : [])]).join(' ');
}

/** The values a flag takes when its help names them all (text|json, allow|deny). */
function choices(o: OptionSpec): string[] | undefined {
  return o.arg !== 'none' && o.arg !== undefined && o.value && /^[a-z]+(\|[a-z]+)+$/.test(o.value) ? o.value.split('|') : undefined;
}

/** bash: a case on the previous word, for flags whose values are known. */
function bashChoices(specs: OptionSpec[]): string {
  return specs.filter((o) => o.arg === 'required' && choices(o))
    .map((o) => `${[`--${o.long}`, ...(o.short ? [`-${o.short}`] : [])].join('|')}) COMPREPLY=($(compgen -W '${choices(o)!.join(' ')}' -- "$cur")); return 0 ;; `).join('');
}

export function bashCompletion(): string {
  const cases = COMMANDS.map((c) => `    ${c.name}) opts='${words(c.specs)}'; case $prev in ${bashChoices(c.specs)}esac ;;`).join('\n');
  return `# bash completion for hako (hako completion bash): source <(hako completion bash)
_hako() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} verb= i w
  local globals_valued=' ${withValue(GLOBAL_SPECS)} '
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    case $globals_valued in *" $w "*) ((i++)); continue ;; esac
    case $w in -*) continue ;; esac
    verb=$w; break
  done
  COMPREPLY=()
  if [[ -z $verb ]]; then
    case $prev in ${bashChoices(GLOBAL_SPECS)}esac
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W '${words(GLOBAL_SPECS)}' -- "$cur"))
    elif [[ $globals_valued != *" $prev "* ]]; then
      COMPREPLY=($(compgen -W '${COMMANDS.map((c) => c.name).join(' ')}' -- "$cur"))
    fi
    return 0
  fi
  local opts
  case $verb in
${cases}
    *) return 0 ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ $verb == completion && $prev == completion ]]; then
    COMPREPLY=($(compgen -W 'bash zsh' -- "$cur"))
  elif [[ $verb == help && $prev == help ]]; then
    COMPREPLY=($(compgen -W '${COMMANDS.map((c) => c.name).join(' ')}' -- "$cur"))
  fi
  return 0
}
complete -o default -F _hako hako
`;
}

/** A zsh _arguments item for one option. */
function zshSpec(o: OptionSpec): string {
  const help = (o.help ?? '').replace(/[[\]]/g, (b) => (b === '[' ? '(' : ')')).replace(/'/g, "'\\''").replace(/:/g, ' -');
  const values = choices(o);
  const action = o.arg !== 'required' ? '' : values ? `:${o.value}:(${values.join(' ')})` : `:${(o.value ?? 'value').replace(/:/g, ' ')}:_files`;
  const long = `--${o.long}`;
  if (!o.short) return `'${long}[${help}]${action}'`;
  return `'(-${o.short} --${o.long})'{-${o.short},${long}}'[${help}]${action}'`;
}

export function zshCompletion(): string {
  const verbs = COMMANDS.map((c) => `'${c.name}:${c.summary.replace(/'/g, "'\\''").replace(/:/g, ' -')}'`).join(' ');
  const cases = COMMANDS.map((c) => `    ${c.name}) _arguments -s ${c.specs.map(zshSpec).join(' ')} '*:argument:_files' ;;`).join('\n');
  return `#compdef hako
# zsh completion for hako (hako completion zsh): source <(hako completion zsh), after compinit
_hako() {
  local curcontext=$curcontext state line
  typeset -A opt_args
  _arguments -C ${GLOBAL_SPECS.map(zshSpec).join(' ')} '1:command:->command' '*::argument:->argument'
  case $state in
  command)
    local -a verbs; verbs=(${verbs})
    _describe -t commands 'hako command' verbs ;;
  argument)
    case $line[1] in
${cases}
    esac ;;
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _hako "$@"; else compdef _hako hako; fi
`;
}

declare const HAKO_COMMIT: string;

/** As runc's: the version, the commit it was built from (when known), the runtime-spec version. */
export function versionText(specVersion: string): string {
  const commit = typeof HAKO_COMMIT === 'string' && HAKO_COMMIT ? `commit: ${HAKO_COMMIT}\n` : '';
  return `hako version ${HAKO_VERSION}\n${commit}spec: ${specVersion}\n`;
}
