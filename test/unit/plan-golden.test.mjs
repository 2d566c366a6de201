// Golden plans: config -> the helper's ops, as readable text (each op: stage, kind, fields, and its
// description) and the sha256 of the op bytes the helper receives. Milliseconds, no root needed
// for the container plans. A change in what the planners emit shows here as a diff; rewrite the
// files on purpose with `UPDATE_GOLDEN=1 node --test test/unit/plan-golden.test.mjs`.
// Host facts the planners still read themselves: /proc/kcore (the /dev/core link), the bind
// sources (made here in a temp dir with fixed names; the dir is written <TMP>), and, for the
// toolkit plans, the euid (as root) and, for nsenter, this process's namespaces (written <PID>, <NS>).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { encodeFields, OpKind, Tag } from '../../dist/src/helper/protocol.js';
import { createPlan, execPlan, setHome } from '../../dist/src/plan/plan.js';
import { hostFacts } from '../../dist/src/runtime/host.js';
import { defaultSpec } from '../../dist/src/config/default.js';
import { unsharePlan } from '../../dist/src/toolkit/unshare.js';
import { nsenterPlan } from '../../dist/src/toolkit/nsenter.js';

const GOLDEN = new URL('./golden/', import.meta.url);
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const TMP = realpathSync(mkdtempSync(join(tmpdir(), 'hako-golden-')));
after(() => rmSync(TMP, { recursive: true, force: true }));

const TAG_NAME = Object.fromEntries(Object.entries(Tag).map(([k, v]) => [v, k]));
const KIND_NAME = Object.fromEntries(Object.entries(OpKind).map(([k, v]) => [v, k]));

/** Bit sets in hex, modes in octal, other integers in decimal (a bigint with an n: both are 8 bytes). */
const HEX = new Set([Tag.FLAGS, Tag.NSTYPE, Tag.SET, Tag.CLEAR, Tag.ACTION, Tag.CAP_BOUNDING, Tag.CAP_EFFECTIVE, Tag.CAP_PERMITTED, Tag.CAP_INHERITABLE, Tag.CAP_AMBIENT]);

function value(v, tag) {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'bigint') {
    const n = typeof v === 'bigint' ? 'n' : '';
    if (HEX.has(tag) && v >= 0) return `0x${v.toString(16)}${n}`;
    if (tag === Tag.MODE && v >= 0) return `0o${v.toString(8)}${n}`;
    return `${v}${n}`;
  }
  if (Buffer.isBuffer(v)) return `<${v.toString('hex')}>`;
  return `{ ${v.map(field).join(' ')} }`;
}

function field(f) {
  return `${TAG_NAME[f.tag] ?? `tag${f.tag}`}=${value(f.value, f.tag)}`;
}

/** The plan as text: one line per op and its description, then the size and sha256 of the op
 * bytes the helper receives (host-specific strings normalized first, as in the text). */
export function renderPlan(b, norm = (x) => x) {
  const lines = [];
  const stages = [['H0', b.hostOps, b.hostText], ['H1', b.nsOps, b.nsText], ['H2', b.initOps, b.initText]];
  for (const [stage, ops, texts] of stages) {
    ops.forEach((op, i) => {
      const [kind, ...rest] = op;
      assert.equal(kind.tag, Tag.KIND, 'each op starts with its KIND');
      lines.push(`${stage} ${KIND_NAME[kind.value] ?? `kind${kind.value}`}${rest.length ? ' ' : ''}${rest.map(field).join(' ')}`);
      lines.push(`   # ${texts[i]}`);
    });
  }
  const fix = (fields) => fields.map((f) => ({ tag: f.tag, value: typeof f.value === 'string' ? norm(f.value) : Array.isArray(f.value) ? fix(f.value) : f.value }));
  const bytes = encodeFields(fix([
    ...b.hostOps.map((op) => ({ tag: Tag.HOST_OP, value: op })),
    ...b.nsOps.map((op) => ({ tag: Tag.NS_OP, value: op })),
    ...b.initOps.map((op) => ({ tag: Tag.INIT_OP, value: op })),
  ]));
  lines.push(`bytes ${bytes.length} sha256 ${createHash('sha256').update(bytes).digest('hex')}`);
  return norm(lines.join('\n') + '\n');
}

function normalize(text, extra = []) {
  let out = text.split(TMP).join('<TMP>');
  for (const [from, to] of extra) out = out.replace(from, to);
  return out;
}

function golden(t, name, b, extra) {
  const text = renderPlan(b, (s) => normalize(s, extra));
  const file = new URL(`${name}.txt`, GOLDEN);
  if (UPDATE || !existsSync(file)) {
    if (!UPDATE) assert.fail(`no golden file ${name}.txt: run with UPDATE_GOLDEN=1`);
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, text);
    return;
  }
  assert.equal(text, readFileSync(file, 'utf8'), `${name}: the plan differs from test/unit/golden/${name}.txt`);
}

// the bundle: a rootfs path (never read), and bind sources with fixed names
const bundle = join(TMP, 'bundle');
const rootfs = join(bundle, 'rootfs');
mkdirSync(join(bundle, 'data'), { recursive: true });
mkdirSync(join(bundle, 'cache'), { recursive: true });
writeFileSync(join(bundle, 'hosts'), '127.0.0.1 localhost\n');

const STATE = '{"ociVersion":"1.2.0","id":"golden","status":"created","pid":0,"bundle":"/b"}';

/** The host facts the planner gets: the bind sources as this test made them (fixed names), and
 * fixed answers for the rest, so that the goldens are the same on every machine. */
function facts(spec) {
  return { ...hostFacts(spec, bundle), kcore: false, apparmor: false, selinux: false };
}

function base(spec, extra = {}) {
  return {
    spec, host: facts(spec), bundle, rootfs, process: spec.process, preserveFds: 0, detach: false, noPivot: false,
    hookState: STATE, cgroup: { tasks: [], v2: '/sys/fs/cgroup/hako/golden' }, cgroupV2: true, ...extra,
  };
}

function spec(rootless = false) {
  return defaultSpec({ rootless });
}

test('golden: runc spec default (run, cgroup v2)', (t) => {
  golden(t, 'create-default', createPlan(base(spec())));
});

test('golden: runc spec default as `create` (exec.fifo, detach, keyring, console socket, cgroup v1, device filter)', (t) => {
  const s = spec();
  golden(t, 'create-default-create', createPlan(base(s, {
    fifo: '/run/hako/golden/exec.fifo', detach: true, keyring: '_ses.golden',
    console: { socket: '/run/console.sock' }, preserveFds: 2, home: '/root',
    cgroup: { tasks: ['/sys/fs/cgroup/cpu/hako/golden/tasks', '/sys/fs/cgroup/memory/hako/golden/tasks'] },
    cgroupV2: false, cgroupV1Dirs: [{ name: 'cpu', host: '/sys/fs/cgroup/cpu/hako/golden' }, { name: 'memory', host: '/sys/fs/cgroup/memory/hako/golden' }],
  })));
  golden(t, 'create-device-filter', createPlan(base(spec(), {
    deviceProgram: Buffer.from('b7000000000000009500000000000000', 'hex'), detach: true,
  })));
});

test('golden: rootless (a user namespace and id maps: devices bound, not made)', (t) => {
  const s = spec(true);
  s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
  s.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
  golden(t, 'create-rootless', createPlan(base(s)));
});

test('golden: hooks of every kind', (t) => {
  const s = spec();
  s.hooks = {
    prestart: [{ path: '/bin/prestart' }],
    createRuntime: [{ path: '/bin/create-runtime', args: ['create-runtime', '-x'] }],
    createContainer: [{ path: '/bin/create-container', args: ['cc', 'a b'], env: ['K=V'], timeout: 5 }, { path: '/bin/cc2' }],
    startContainer: [{ path: '/bin/start-container', env: ['A=1', 'B=2'], timeout: 3 }],
    poststart: [{ path: '/bin/poststart' }],
    poststop: [{ path: '/bin/poststop' }],
  };
  golden(t, 'create-hooks', createPlan(base(s, { fifo: '/run/hako/golden/exec.fifo', detach: true })));
});

test('golden: mounts of each type and options', (t) => {
  const s = spec();
  s.mounts.push(
    { destination: '/data', type: 'bind', source: join(bundle, 'data'), options: ['rbind', 'ro', 'nosuid', 'nodev'] },
    { destination: '/etc/hosts', source: 'hosts', options: ['bind', 'ro'] },
    { destination: '/cache', type: 'none', source: join(bundle, 'cache'), options: ['rbind', 'rro', 'rnosuid', 'rnoexec', 'rnoatime', 'rprivate'] },
    { destination: '/cache2', source: join(bundle, 'cache'), options: ['bind', 'rw', 'exec', 'suid', 'noatime', 'rslave', 'rrelatime'] },
    { destination: '/shared', source: join(bundle, 'data'), options: ['rbind', 'shared', 'unbindable', 'nosymfollow'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=1777', 'size=65536k', 'noexec', 'nodiratime', 'lazytime', 'sync', 'dirsync'] },
    { destination: '/run', type: 'tmpfs', options: ['ro', 'noatime', 'relatime', 'silent', 'remount', 'mand', 'rw'] },
    { destination: 'relative/dest', type: 'tmpfs', source: 'tmpfs', options: ['defaults', 'rprivate', 'private'] },
    { destination: '/proc/cpuinfo', source: join(bundle, 'hosts'), options: ['bind'] },
  );
  golden(t, 'create-mounts', createPlan(base(s)));
  // id-mapped: its own maps (one tree, read-only), and the container's (idmap, ridmap: the whole tree)
  const idm = spec();
  idm.linux.namespaces.push({ type: 'user' });
  idm.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  idm.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  idm.mounts.push(
    { destination: '/data', type: 'bind', source: join(bundle, 'data'), options: ['bind', 'ro'],
      uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100001, size: 10 }], gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] },
    { destination: '/cache', source: join(bundle, 'cache'), options: ['bind', 'ridmap'] },
  );
  golden(t, 'create-idmap-mounts', createPlan(base(idm)));
  // cgroup: v1 read-only (a tmpfs with the hierarchies bound read-only), v1 writable, v2 read-only
  const v1 = spec();
  v1.mounts.find((m) => m.type === 'cgroup').options = ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'];
  v1.mounts.push({ destination: '/sys/fs/cgroup2', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'rw'] });
  golden(t, 'create-cgroup-v1', createPlan(base(v1, {
    cgroupV2: false, cgroupV1Dirs: [{ name: 'cpu', host: '/sys/fs/cgroup/cpu/hako/golden' }, { name: 'pids', host: '/sys/fs/cgroup/pids/hako/golden' }],
    cgroup: { tasks: ['/sys/fs/cgroup/cpu/hako/golden/tasks', '/sys/fs/cgroup/pids/hako/golden/tasks'] },
  })));
  const v2 = spec();
  v2.mounts.find((m) => m.type === 'cgroup').type = 'cgroup2';
  golden(t, 'create-cgroup-v2', createPlan(base(v2)));
});

test('golden: masked and read-only paths, sysctl, root, namespaces, process settings', (t) => {
  const s = spec();
  s.linux.maskedPaths.push('/proc/golden');
  s.linux.readonlyPaths.push('/etc/golden');
  s.linux.sysctl = { 'fs.mqueue.msg_max': '20', 'kernel.shmmax': '65536' };
  s.linux.namespaces.push({ type: 'uts' }, { type: 'time' });
  s.linux.namespaces = s.linux.namespaces.filter((n) => n.type !== 'network').concat([{ type: 'network', path: '/run/netns/golden' }, { type: 'cgroup' }]);
  s.linux.timeOffsets = { monotonic: { secs: 10, nanosecs: 5 }, boottime: { secs: -3 } };
  s.linux.rootfsPropagation = 'rshared';
  s.linux.personality = { domain: 'LINUX32', flags: ['ADDR_NO_RANDOMIZE', 'UNAME26'] };
  s.root.readonly = true;
  s.hostname = 'golden';
  s.domainname = 'golden.example';
  Object.assign(s.process, {
    terminal: false, cwd: '/work/dir', noNewPrivileges: false, oomScoreAdj: -500,
    user: { uid: 1000, gid: 1000, umask: 0o027, additionalGids: [10, 20] },
    rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }, { type: 'RLIMIT_CORE', soft: 2 ** 64, hard: 2 ** 64 }],
    env: ['PATH=/usr/bin:/bin', 'TERM=xterm', 'EMPTY=', 'NOEQ'],
    scheduler: { policy: 'SCHED_FIFO', priority: 10, flags: ['SCHED_FLAG_RESET_ON_FORK'] },
    ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 6 },
    execCPUAffinity: { initial: '0', final: '1' }, // an exec's only: not in this plan
  });
  s.process.capabilities.ambient = ['CAP_NET_BIND_SERVICE', 'CAP_SYS_ADMIN'];
  s.process.capabilities.inheritable = ['CAP_NET_BIND_SERVICE'];
  golden(t, 'create-paths-process', createPlan(base(s, { noPivot: true, home: '/home/golden' })));
  const slave = spec();
  slave.linux.rootfsPropagation = 'private';
  golden(t, 'create-propagation-private', createPlan(base(slave)));
});

const SECCOMP = {
  defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38,
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64'],
  flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
  syscalls: [
    { names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 1, value: 8, valueTwo: 4294967295, op: 'SCMP_CMP_MASKED_EQ' }] },
    { names: ['ptrace'], action: 'SCMP_ACT_KILL_PROCESS' },
    { names: ['kill'], action: 'SCMP_ACT_TRACE', errnoRet: 3 },
    { names: ['mkdir'], action: 'SCMP_ACT_LOG' },
    { names: ['uname'], action: 'SCMP_ACT_TRAP' },
  ],
};

test('golden: seccomp, loaded early (no no_new_privs) and last (no_new_privs)', (t) => {
  const s = spec();
  s.linux.seccomp = SECCOMP;
  s.process.noNewPrivileges = false;
  golden(t, 'create-seccomp', createPlan(base(s)));
  const n = spec();
  n.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO' }] };
  golden(t, 'create-seccomp-nnp', createPlan(base(n)));
  // SCMP_ACT_NOTIFY: H0 connects to the agent, H2 asks for the state, the filter sends the fd
  const notify = spec();
  notify.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock', listenerMetadata: 'm', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
  golden(t, 'create-seccomp-notify', createPlan(base(notify)));
});

test('golden: a terminal relayed by hako, with a console size', (t) => {
  const s = spec();
  s.process.consoleSize = { height: 24, width: 80 };
  golden(t, 'create-terminal', createPlan(base(s, { console: { relay: true } })));
});

test('setHome: a plan made without HOME, given it, is byte for byte the plan made with it', () => {
  const bytes = (b) => [b.hostOps, b.nsOps, b.initOps].map((ops) => encodeFields(ops.map((op) => ({ tag: Tag.INIT_OP, value: op }))).toString('hex'));
  const cases = [
    ['no HOME', ['PATH=/bin', 'TERM=xterm']],
    ['HOME without =', ['PATH=/bin', 'HOME', 'TERM=xterm']],
    ['no env', undefined],
    ['a HOME-like name', ['HOMEDIR=/x', 'PATH=/bin']],
    ['its own HOME', ['PATH=/bin', 'HOME=/home/me']],
  ];
  for (const [what, env] of cases) {
    for (const late of [false, true]) {
      const s = spec();
      s.process.env = env;
      const extra = late ? { lateExec: true } : {};
      const patched = createPlan(base(s, extra));
      setHome(patched, s.process, '/home/golden');
      const made = createPlan(base(s, { ...extra, home: '/home/golden' }));
      assert.deepEqual(bytes(patched), bytes(made), `${what}${late ? ', late command' : ''}`);
      assert.deepEqual(patched.initText, made.initText);
    }
  }
  // the home is there (and only once), where HOME=/ was
  const s = spec();
  s.process.env = ['PATH=/bin'];
  const b = createPlan(base(s));
  setHome(b, s.process, '/root');
  const exec = b.initOps.find((op) => op[0].value === OpKind.EXEC);
  assert.deepEqual(exec.filter((f) => f.tag === Tag.ENV).map((f) => f.value), ['PATH=/bin', 'HOME=/root']);
});

test('golden: exec plans', (t) => {
  const process = { terminal: false, cwd: '/', args: ['sh', '-c', 'echo hi'], env: ['PATH=/bin'], user: { uid: 0, gid: 0 } };
  golden(t, 'exec-plain', execPlan({ process, preserveFds: 0, pid: 4242, namespaces: ['mnt', 'pid', 'ipc', 'uts', 'net'], detach: false }));
  const full = spec().process;
  Object.assign(full, {
    consoleSize: { height: 50, width: 132 }, noNewPrivileges: true, rlimits: [{ type: 'RLIMIT_NPROC', soft: 10, hard: 20 }],
    scheduler: { policy: 'SCHED_DEADLINE', runtime: 42000, deadline: 1000000, period: 1000000 }, ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 7 },
    execCPUAffinity: { initial: '0-1', final: '1,3' },
  });
  golden(t, 'exec-full', execPlan({
    process: full, preserveFds: 1, pid: 4242, namespaces: ['user', 'mnt', 'pid', 'cgroup', 'time'], detach: true, home: '/root',
    console: { socket: '/run/console.sock' }, seccomp: SECCOMP,
    cgroup: { tasks: ['/sys/fs/cgroup/cpu/hako/golden/tasks'], v2: '/sys/fs/cgroup/unified/hako/golden' },
  }));
  golden(t, 'exec-relay', execPlan({ process: { ...process, terminal: true, execCPUAffinity: { initial: '1' } }, preserveFds: 0, pid: 7, namespaces: ['mnt'], detach: false, console: { relay: true } }));
});

const ENV = { PATH: '/usr/bin:/bin', HOME: '/root', EMPTY: '' };
const root = process.geteuid?.() === 0;

test('golden: unshare plans', { skip: !root && 'the unshare plans check CAP_SYS_ADMIN and map the euid: run as root' }, (t) => {
  golden(t, 'unshare-all', unsharePlan({ all: true, mountProc: true, mapRootUser: true, hostname: 'h', domainname: 'd', monotonic: 5, boottime: -2, command: ['id'], env: ENV }).builder);
  golden(t, 'unshare-some', unsharePlan({ namespaces: ['mnt', 'uts', 'net'], propagation: 'shared', mountProc: '/mnt/proc', root: '/', wd: '/tmp', env: ENV }).builder);
  golden(t, 'unshare-unchanged', unsharePlan({ namespaces: ['mnt'], propagation: 'unchanged', mapUsers: [{ inside: 0, outside: 100000, count: 65536 }], command: ['true'], env: ENV }).builder);
});

test('golden: nsenter plans (this process as the target)', { skip: !root && 'nsenter reads the target\'s namespaces: run as root' }, (t) => {
  const pid = process.pid;
  const extra = [[new RegExp(`/proc/${pid}/`, 'g'), '/proc/<PID>/'], [/\b[a-z_]+:\[\d+\]/g, '<NS>']];
  golden(t, 'nsenter-some', nsenterPlan({ target: pid, namespaces: ['mnt', 'uts', 'net', 'pid'], root: true, wd: '/tmp', command: ['sh'], env: ENV }), extra);
  golden(t, 'nsenter-root-only', nsenterPlan({ target: pid, root: '/', env: ENV }), extra);
});
