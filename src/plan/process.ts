// The ops that turn H2 into the configured process: console, rlimits, oom score, umask, cwd,
// seccomp, capabilities, user and groups, no_new_privs, fds, and the exec with its environment.
import { HakoError } from '../errors.js';
import { ops, PATH_KIND, PROCFS, type Op } from '../helper/ops.js';
import { MessageType, Tag } from '../helper/protocol.js';
import { MS } from '../linux/mount.js';
import type { Process } from '../config/types.js';
import { CAPABILITIES } from '../config/known.js';
import type { PlanBuilder } from '../helper/plan-builder.js';
import { capMask } from './caps.js';
import { SLOT } from './fields.js';
import type { ProcessPlanInput } from './input.js';
import { ioprioValue, schedAttr } from './sched.js';

const RLIMIT: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** An rlimit value for the helper: 2^64-1 and above (JSON loses the exact value) is RLIM_INFINITY. */
function rlim(v: number): bigint {
  return v >= 2 ** 64 - 1 ? -1n : BigInt(v);
}

/** The environment, with HOME (looked up in the container by the runtime) when it has none. */
function processEnv(p: Process, home: string | undefined): string[] {
  const env = [...(p.env ?? [])];
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${home ?? '/'}`);
  return env;
}

/**
 * The HOME looked up in the container, put into a plan made without it (createPlan with no home:
 * its exec has the HOME=/ that processEnv added): the exec op's one HOME entry is replaced, which
 * makes the plan createPlan makes with that home, without building it again. A process whose env
 * sets HOME keeps it, and a plan whose exec has no HOME entry (a late command) is left as it is.
 */
export function setHome(b: PlanBuilder, p: Process, home: string): void {
  if ((p.env ?? []).some((e) => e.startsWith('HOME='))) return;
  b.setExecEnv('HOME', home);
}

/** The ops that turn H2 into the configured process: console, rlimits, user, caps, seccomp.
 * beforeExec adds the ops that run with the process's credentials just before the exec (READY,
 * DETACH, the wait on exec.fifo, the startContainer hooks). */
export function addProcessOps(b: PlanBuilder, input: ProcessPlanInput, where: string, seccomp: Op | undefined, beforeExec: () => void, devConsole = false): void {
  const p = input.process;
  if (input.console?.socket || input.console?.relay) {
    const size = p.consoleSize;
    // the terminal belongs to the process's user, as runc gives it (fixStdioPermissions)
    const uid = p.user?.uid ?? 0;
    b.init(ops.console({ slot: SLOT.CONSOLE, rows: size?.height ?? 0, cols: size?.width ?? 0, ...(uid !== 0 ? { uid } : {}) }),
      input.console.socket ? `make a pty and send its master to ${input.console.socket}` : 'make a pty and hand its master to hako, which relays it');
    // the container's terminal is also /dev/console (config-linux.md, "Default Devices"; runc binds
    // it so): the pty is fd 0 now, bound through the container's /proc
    if (devConsole) {
      b.init(ops.mkpath({ root: SLOT.ROOT, path: '/dev/console', kind: PATH_KIND.FILE }), 'create /dev/console');
      b.init(ops.mountInRoot({ root: SLOT.ROOT, source: '/proc/self/fd/0', target: '/dev/console', flags: MS.BIND }), 'bind the terminal onto /dev/console');
    }
  }
  for (const r of p.rlimits ?? []) {
    const resource = RLIMIT[r.type];
    if (resource === undefined) throw new HakoError(`hako: config.json: ${where}.rlimits: unknown rlimit '${r.type}'`, { code: 'bad-config' });
    b.init(ops.rlimit({ resource, soft: rlim(r.soft), hard: rlim(r.hard), name: r.type }),
      `setrlimit(${r.type}, ${r.soft}, ${r.hard})`);
  }
  if (p.oomScoreAdj !== undefined) {
    b.init(ops.write({ path: '/proc/self/oom_score_adj', data: String(p.oomScoreAdj), procfs: PROCFS.MUST_BE }), `oom_score_adj = ${p.oomScoreAdj}`);
  }
  // before the credentials change: a real-time policy, a negative nice or the RT I/O class need
  // CAP_SYS_NICE / CAP_SYS_ADMIN, which the process may not keep (runc sets them in its init too)
  if (p.scheduler) {
    const s = p.scheduler;
    b.init(ops.sched({ attr: schedAttr(s) }), `sched_setattr(${s.policy}, nice ${s.nice ?? 0}, priority ${s.priority ?? 0}${s.flags?.length ? `, ${s.flags.join('|')}` : ''}${s.policy === 'SCHED_DEADLINE' ? `, runtime/deadline/period ${s.runtime ?? 0}/${s.deadline ?? 0}/${s.period ?? 0} ns` : ''}${s.policy === 'SCHED_FIFO' || s.policy === 'SCHED_RR' ? '; real time needs real-time CPU time in the container\'s cgroup, linux.resources.cpu.realtimeRuntime, where the kernel has cpu.rt_runtime_us' : ''})`);
  }
  if (p.ioPriority) b.init(ops.ioprio({ ioprio: ioprioValue(p.ioPriority) }), `ioprio_set(${p.ioPriority.class}, ${p.ioPriority.priority})`);
  b.init(ops.umask({ mode: p.user?.umask ?? 0o022 }), `umask ${(p.user?.umask ?? 0o022).toString(8)}`);
  // a container made ahead of time (lateExec) learns its command, and its working directory, last
  if (!input.lateExec) {
    b.init(ops.chdir({ path: p.cwd || '/' }), `chdir(${JSON.stringify(p.cwd || '/')})`);
    // a missing program fails here, before READY, as runc's create does (not at start)
    const path = (p.env ?? []).filter((e) => e.startsWith('PATH='));
    b.init(ops.checkExec({ program: p.args[0] ?? '', env: path }), `find ${JSON.stringify(p.args[0])} in the container`);
  }
  // before any seccomp filter: a profile need not allow close_range or getcwd (older Docker
  // profiles do not list close_range). What runs after a filter is loaded is only what runc's
  // init also does after its own: the credentials (prctl, setgroups, setresgid, setresuid,
  // capset), READY on the control socket (write, read), the wait on exec.fifo (openat, fstat,
  // write, close), the startContainer hooks, and the exec (close, prctl, execve).
  if (!input.lateExec) b.init(ops.checkCwd(), 'check that the working directory is inside the container');
  b.init(ops.cloexecFrom({ from: 3 + input.preserveFds }), `close every fd from ${3 + input.preserveFds} on at exec`);
  // SCMP_ACT_NOTIFY: the state the listener gets, asked of hako while it is there (before READY),
  // whenever the filter is loaded (before the credentials, or last with no_new_privs)
  if (seccomp?.fields.some((f) => f.tag === Tag.SLOT)) {
    b.init(ops.sync({ type: MessageType.SECCOMP_STATE }), 'ask hako for the state the seccomp agent gets with the listener fd');
  }
  const nnp = p.noNewPrivileges === true;
  if (seccomp && !nnp) b.init(seccomp, 'load the seccomp filter (while CAP_SYS_ADMIN is still held)');
  // no capabilities field: no capabilities (runc drops them all too; the process is not the
  // runtime's root with every capability)
  const caps = p.capabilities ?? {};
  b.init(ops.bounding({ bounding: capMask(caps.bounding) }), 'drop capabilities outside the bounding set');
  const uid = p.user?.uid ?? 0;
  const gid = p.user?.gid ?? 0;
  b.init(ops.keepcaps({ value: 1 }), 'keep capabilities across setuid');
  // each group once, as runc gives them
  const groups = [...new Set(p.user?.additionalGids ?? [])];
  if (!input.setgroupsDenied) b.init(ops.setgroups({ ids: groups }), `setgroups([${groups.join(', ')}])`);
  else if (groups.length) {
    throw new HakoError(`hako: config.json: ${where}.user.additionalGids: cannot be set: setgroups is denied in the user namespace hako runs in (rootless, /proc/self/setgroups is "deny"), as runc says too`, { code: 'bad-config' });
  }
  b.init(ops.setgid({ id: gid }), `setresgid(${gid})`);
  b.init(ops.setuid({ id: uid }), `setresuid(${uid})`);
  b.init(ops.caps({
    effective: capMask(caps.effective),
    permitted: capMask(caps.permitted),
    inheritable: capMask(caps.inheritable),
    // the kernel takes an ambient capability only if it is permitted and inheritable; runc and
    // crun skip the others (runc's own default config lists ambient without inheritable)
    ambient: capMask(caps.ambient) & capMask(caps.inheritable) & capMask(caps.permitted),
  }), capsDescription(caps, input.hostBounding));
  if (nnp) b.init(ops.nnp(), 'no_new_privs');
  // as runc: all that can fail comes first; READY, the wait for `start` and the startContainer
  // hooks come after the credentials are the process's, so the hooks run as the process would
  beforeExec();
  // the command of a container made ahead of time: asked for once everything else is done (its
  // process already has its credentials), before a no_new_privs filter, which need not allow it
  if (input.lateExec) b.init(ops.execWait(), 'wait for hako to send the command, then chdir to its working directory and check it is inside the container');
  if (seccomp && nnp) b.init(seccomp, 'load the seccomp filter');
  if (input.lateExec) {
    b.init(ops.exec({ args: ['(late)'], flags: 1 }), 'execve the command hako sent');
    return;
  }
  b.exec(p.args, Object.fromEntries(processEnv(p, input.home).map((e) => {
    const i = e.indexOf('=');
    return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
  })));
}

/** What setting the capabilities is called in an error: it names the capabilities asked for that
 * the host's bounding set lacks (capset refuses them: EPERM), which is why it failed. */
function capsDescription(caps: NonNullable<Process['capabilities']>, hostBounding: bigint | undefined): string {
  const what = 'set the effective, permitted, inheritable and ambient capabilities';
  if (hostBounding === undefined) return what;
  const asked = capMask(caps.effective) | capMask(caps.permitted) | capMask(caps.inheritable);
  const missing = CAPABILITIES.filter((_, bit) => (asked >> BigInt(bit)) & 1n && !((hostBounding >> BigInt(bit)) & 1n));
  if (!missing.length) return what;
  return `${what}: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not in this host's bounding set (no process here can have ${missing.length > 1 ? 'them' : 'it'})`;
}
