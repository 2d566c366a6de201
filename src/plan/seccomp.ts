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
    case 'SCMP_ACT_NOTIFY': return 0x7fc00000;
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

/** Syscalls the init makes between loading a filter and sending its listener fd, or to tell
 * hako it is ready: notified, they would wait for an agent that has no fd yet. runc refuses
 * write for the same reason. */
const NOT_NOTIFIABLE = ['write', 'sendmsg'];

/** Whether a config's filter notifies a listener (SCMP_ACT_NOTIFY in a rule). */
export function seccompNotifies(s: Seccomp): boolean {
  return (s.syscalls ?? []).some((r) => r.action === 'SCMP_ACT_NOTIFY');
}

/** What a runtime keeps of compiled filters: the program of this config's filter when it has it,
 * or that it wants it (the helper then sends it: SECCOMP_PROGRAM). Never for a filter that
 * notifies (its listener comes from libseccomp's load). */
export interface SeccompCompiled {
  program?: Buffer;
  wanted?: boolean;
}

/** FLAGS bit 3: send the compiled program back (docs/PROTOCOL.md). */
const EXPORT_PROGRAM = 8;

/** The SECCOMP op's fields for a config's linux.seccomp; with listener, the slot of the socket
 * to linux.seccomp.listenerPath that the listener fd goes to. With compiled, the program is
 * loaded as it is (kept only of a filter that was checked and compiled), or asked for. */
export function seccompOp(s: Seccomp, listener?: number, compiled?: SeccompCompiled): Op {
  if (s.defaultAction === 'SCMP_ACT_NOTIFY') {
    throw new HakoError('hako: config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action (as runc: the runtime itself would wait on its own listener)', { code: 'bad-config' });
  }
  (s.syscalls ?? []).forEach((r, i) => {
    if (r.action !== 'SCMP_ACT_NOTIFY') return;
    const bad = r.names.find((n) => NOT_NOTIFIABLE.includes(n));
    if (bad) throw new HakoError(`hako: config.json: linux.seccomp.syscalls[${i}]: SCMP_ACT_NOTIFY cannot be used for the ${bad} syscall (the runtime needs it to hand the listener over)`, { code: 'bad-config' });
  });
  if (seccompNotifies(s) && !s.listenerPath) {
    throw new HakoError('hako: config.json: linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listenerPath (the unix socket the listener fd is sent to)', { code: 'bad-config' });
  }
  const defaultAction = action(s.defaultAction, s.defaultErrnoRet, 'linux.seccomp.defaultAction');
  let flags = 0;
  for (const [i, f] of (s.flags ?? []).entries()) {
    const bit = FLAGS[f];
    if (bit === undefined) throw new HakoError(`hako: config.json: linux.seccomp.flags[${i}]: '${f}' is not supported`, { code: 'unsupported' });
    flags |= bit;
  }
  const notifies = seccompNotifies(s);
  if (compiled?.program && !notifies) return ops.seccomp({ action: defaultAction, flags, archs: [], rules: [], program: compiled.program });
  if (compiled?.wanted && !notifies) flags |= EXPORT_PROGRAM;
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
  return ops.seccomp({ action: defaultAction, flags, archs, rules, listener: notifies ? listener : undefined });
}
