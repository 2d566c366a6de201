// linux.seccomp → the fields of the helper's SECCOMP op (libseccomp builds the filter).
import { HakoError } from '../errors.js';
import { ops, seccompArg, seccompRule, type Op } from '../helper/ops.js';
import type { Field } from '../helper/protocol.js';
import type { Seccomp } from '../config/types.js';

const EPERM = 1;

function action(name: string, errnoRet: number | undefined, where: string): number {
  switch (name) {
    case 'SCMP_ACT_KILL': case 'SCMP_ACT_KILL_THREAD': return 0;
    case 'SCMP_ACT_KILL_PROCESS': return 0x80000000;
    case 'SCMP_ACT_TRAP': return 0x00030000;
    case 'SCMP_ACT_ERRNO': return 0x00050000 | ((errnoRet ?? EPERM) & 0xffff);
    case 'SCMP_ACT_TRACE': return 0x7ff00000 | ((errnoRet ?? EPERM) & 0xffff);
    case 'SCMP_ACT_LOG': return 0x7ffc0000;
    case 'SCMP_ACT_ALLOW': return 0x7fff0000;
    case 'SCMP_ACT_NOTIFY':
      throw new HakoError(`hako: config.json: ${where}: SCMP_ACT_NOTIFY (seccomp user notification) is not supported yet`, { code: 'unsupported' });
    default:
      throw new HakoError(`hako: config.json: ${where}: unknown seccomp action '${name}'`, { code: 'bad-config' });
  }
}

const OPERATORS: Record<string, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};

const FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1, SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
};

/** The SECCOMP op's fields for a config's linux.seccomp. */
export function seccompOp(s: Seccomp): Op {
  if (s.listenerPath) throw new HakoError('hako: config.json: linux.seccomp.listenerPath: seccomp user notification is not supported yet', { code: 'unsupported' });
  const defaultAction = action(s.defaultAction, s.defaultErrnoRet, 'linux.seccomp.defaultAction');
  let flags = 0;
  for (const [i, f] of (s.flags ?? []).entries()) {
    const bit = FLAGS[f];
    if (bit === undefined) throw new HakoError(`hako: config.json: linux.seccomp.flags[${i}]: '${f}' is not supported`, { code: 'unsupported' });
    flags |= bit;
  }
  const archs = (s.architectures ?? []).map((arch) => arch.replace(/^SCMP_ARCH_/, '').toLowerCase());
  const rules: Field[][] = (s.syscalls ?? []).flatMap((rule, i) => {
    // a rule for no syscall is left out (config validation warned about it)
    if (rule.names.length === 0) return [];
    const where = `linux.seccomp.syscalls[${i}]`;
    const ruleAction = action(rule.action, rule.errnoRet, `${where}.action`);
    const args = (rule.args ?? []).map((arg, j) => {
      const op = OPERATORS[arg.op];
      if (op === undefined) throw new HakoError(`hako: config.json: ${where}.args[${j}].op: unknown operator '${arg.op}'`, { code: 'bad-config' });
      return seccompArg({ index: arg.index, value: BigInt(arg.value), valueTwo: BigInt(arg.valueTwo ?? 0), op });
    });
    return [seccompRule({ action: ruleAction, names: rule.names, args })];
  });
  return ops.seccomp({ action: defaultAction, flags, archs, rules });
}
