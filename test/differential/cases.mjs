// The differential corpus (issue 9): named cases, each a small patch of the default config
// (`hako spec`, rootless false, run with the probe and without a terminal: harness.mjs).
//
// A case is { name, patch(config, ctx), rootfs?(dir, ctx), setup?(ctx), teardown?(ctx), skip? }:
// - patch edits the config in place (or returns a replacement: an object, or a string for a file
//   that is not JSON); ctx has rt ('runc' | 'hako'), id, bundle, rootfs, hookout (a directory on
//   the host the hooks write to), dir (the case's temp dir) and helpers (what setup made);
// - rootfs(dir, ctx) changes the runtime's copy of the rootfs (symlinks, files to mount over);
// - mode: 'run' runs it with `run` in the foreground instead of create, start, wait and delete;
// - skip: false, or why the case cannot run on this machine (reported, not run);
// - setup(ctx) runs once before both runtimes (start namespace holders: nsHolder), teardown(ctx)
//   once after them, before the leak check.
// Add a case: append it to CASES (a unique kebab-case name), run
//   HAKO_DIFF_ONLY='^my-case$' node --test test/differential/
// and, if runc and hako differ on purpose, add "- `my-case`: why" to the "Differential corpus"
// section of docs/differences-from-runc.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { CAP_BITS, HAKO } from '../integration/oci-util.mjs';
import { nsHolder } from './harness.mjs';

/**
 * Cases that belong to work other helpers do at the same time (no mount namespace, seccomp
 * notify, ioPriority/scheduler/execCPUAffinity/personality/idmapped mounts, ...): the harness runs
 * them and reports them as "pending" instead of failing. Empty it when that work is merged.
 */
export const PENDING_ELSEWHERE = [];

// ---------------------------------------------------------------------------------------------
// Small edits

const ns = (c, type, { remove = false, path } = {}) => {
  c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== type);
  if (!remove) c.linux.namespaces.push(path ? { type, path } : { type });
};
const mount = (c, ...m) => { c.mounts.push(...m); };
const res = (c, r) => { c.linux.resources = { ...c.linux.resources, ...r }; };
const caps = (c, sets) => { c.process.capabilities = sets; };
const ALL_CAPS = Object.keys(CAP_BITS);
/** The capabilities in this host's bounding set (CAP_SYS_RESOURCE is not, on the CI machine). */
function hostCaps() {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))[1];
  const mask = BigInt(`0x${hex}`);
  return ALL_CAPS.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}
const allSets = (list) => ({ bounding: list, effective: list, permitted: list, inheritable: list, ambient: list });

/** A directory with a file in the case's temp dir (a bind source), made once. */
function srcDir(ctx, name = 'src') {
  const d = join(ctx.dir, name);
  if (!existsSync(d)) {
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'file'), 'from the host\n');
  }
  return d;
}
function srcFile(ctx) {
  const f = join(ctx.dir, 'src-file');
  if (!existsSync(f)) writeFileSync(f, 'a host file\n');
  return f;
}

const NO_PYTHON = spawnSync('python3', ['-c', 'import socket; socket.recv_fds'], { timeout: 10_000 }).status === 0
  ? false : 'python3 (3.9 or newer) is missing: the console-socket receiver needs it';

/** `hako spec --rootless`, made once. */
let rootless;
function rootlessSpec() {
  if (!rootless) {
    const dir = mkdtempSync('/tmp/hako-diff-rootless-');
    try {
      const r = spawnSync(HAKO, ['spec', '--rootless', '--bundle', dir], { encoding: 'utf8', timeout: 30_000 });
      if (r.status !== 0) throw new Error(`hako spec --rootless: ${r.stderr}`);
      rootless = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return structuredClone(rootless);
}

// ---------------------------------------------------------------------------------------------
// Seccomp profiles

const ARCHES = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
const PODMAN_PROFILE = '/usr/share/containers/seccomp.json';

/**
 * podman's default profile (containers-common's format) in OCI form, as podman gives it for the
 * default capabilities on x86_64: entries conditioned on capabilities or other arches are dropped,
 * the non-OCI fields removed.
 */
function podmanProfile() {
  const p = JSON.parse(readFileSync(PODMAN_PROFILE, 'utf8'));
  const arch = p.archMap.find((a) => a.architecture === 'SCMP_ARCH_X86_64');
  const keep = (s) => {
    const inc = s.includes ?? {};
    const exc = s.excludes ?? {};
    if (inc.caps?.length || inc.minKernel) return false;
    if (inc.arches?.length && !inc.arches.some((a) => ['amd64', 'x86_64'].includes(a))) return false;
    if (exc.arches?.some((a) => ['amd64', 'x86_64'].includes(a))) return false;
    return true;
  };
  return {
    defaultAction: p.defaultAction,
    ...(p.defaultErrnoRet !== undefined ? { defaultErrnoRet: p.defaultErrnoRet } : {}),
    architectures: [arch.architecture, ...(arch.subArchitectures ?? [])],
    syscalls: p.syscalls.filter(keep).map((s) => ({
      names: s.names, action: s.action, ...(s.args?.length ? { args: s.args } : {}), ...(s.errnoRet !== undefined ? { errnoRet: s.errnoRet } : {}),
    })),
  };
}

/** containerd's (moby's) shape: deny by default with EPERM, one big allow-list, no conditions. */
function containerdLikeProfile() {
  const p = JSON.parse(readFileSync(PODMAN_PROFILE, 'utf8'));
  const names = p.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args?.length && !Object.keys(s.includes ?? {}).length).flatMap((s) => s.names);
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, architectures: ARCHES, syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }] };
}

/**
 * What busybox's sh running the probe, and both runtimes' inits after the filter, need (x86_64);
 * without close_range (issue 9, item 1).
 */
const MINIMAL_ALLOW = [
  'execve', 'read', 'write', 'mmap', 'munmap', 'brk', 'arch_prctl', 'open', 'openat', 'close', 'getdents64', 'fstat', 'newfstatat',
  'stat', 'lstat', 'futex', 'rt_sigreturn', 'rt_sigaction', 'rt_sigprocmask', 'prctl', 'capget', 'capset', 'setgroups', 'setgid',
  'setuid', 'getppid', 'getpid', 'mprotect', 'exit', 'exit_group', 'getcwd', 'fstatfs', 'chdir', 'getegid', 'geteuid', 'getuid',
  'getgid', 'clone', 'fork', 'vfork', 'wait4', 'pipe', 'pipe2', 'dup', 'dup2', 'dup3', 'fcntl', 'readlink', 'readlinkat', 'uname',
  'ioctl', 'lseek', 'getgroups', 'sethostname', 'umask', 'set_tid_address', 'set_robust_list', 'rseq', 'prlimit64', 'getrlimit',
  'statx', 'access', 'faccessat', 'faccessat2', 'getrandom', 'clock_gettime', 'gettid', 'tgkill', 'kill', 'sysinfo', 'mkdir',
  'mkdirat', 'chmod', 'fchmodat', 'utimensat', 'sched_getaffinity', 'poll', 'writev', 'pread64',
];

function actionProfile(action, names, extra = {}) {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ARCHES,
    syscalls: [{ names, action, ...extra }],
  };
}

// ---------------------------------------------------------------------------------------------
// Hooks: each writes the state it reads on stdin and its namespaces to ctx.hookout (or, run in
// the container, to /hookout, which the case binds there)

const HOOK_SCRIPT = 'd=/hookout; [ -w "$d" ] || d=$2; { echo "dir ${d#$3}"; cat; echo; for n in mnt pid net uts ipc; do echo "$n $(readlink /proc/self/ns/$n)"; done; } > "$d/$1"; echo "$1" >> "$d/order"';
const hook = (ctx, kind, { fail = false } = {}) => ({
  path: '/bin/sh',
  args: ['sh', '-c', `${HOOK_SCRIPT}${fail ? '; exit 3' : ''}`, 'hook', kind, ctx.hookout, ctx.bundle],
  env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
});
const HOOK_KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];
function hooks(c, ctx, kinds = HOOK_KINDS, failing) {
  c.hooks = Object.fromEntries(kinds.map((k) => [k, [hook(ctx, k, { fail: k === failing })]]));
  mount(c, { destination: '/hookout', type: 'bind', source: ctx.hookout, options: ['rbind', 'rw'] });
}

// ---------------------------------------------------------------------------------------------
// The corpus

const PROPAGATIONS = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate', 'unbindable', 'runbindable'];

export const CASES = [
  { name: 'default' },

  // the document
  { name: 'oci-version-old', patch: (c) => { c.ociVersion = '1.0.0'; } },
  { name: 'oci-version-missing', patch: (c) => { delete c.ociVersion; } },
  { name: 'unknown-fields', patch: (c) => { c.vendorExtension = { a: 1 }; c.process.futureField = true; c.linux.somethingNew = []; } },
  { name: 'root-path-absolute', patch: (c, ctx) => { c.root.path = ctx.rootfs; } },
  { name: 'selinux-label-on-a-host-without', patch: (c) => { c.process.selinuxLabel = 'system_u:system_r:container_t:s0'; } },
  { name: 'selinux-mount-label-on-a-host-without', patch: (c) => { c.linux.mountLabel = 'system_u:object_r:container_file_t:s0'; } },
  { name: 'apparmor-profile-on-a-host-without', patch: (c) => { c.process.apparmorProfile = 'container-default'; } },
  { name: 'intel-rdt', patch: (c) => { c.linux.intelRdt = { closID: 'x', l3CacheSchema: 'L3:0=ff' }; } },

  // namespaces: created, joined by path, absent
  { name: 'ns-cgroup-new', patch: (c) => ns(c, 'cgroup') },
  { name: 'ns-time-new', patch: (c) => ns(c, 'time') },
  {
    name: 'ns-user-new',
    patch: (c) => {
      ns(c, 'user');
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    },
  },
  { name: 'id-mappings-without-userns', patch: (c) => { c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 1000 }]; c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 1000 }]; } },
  {
    // `hako spec --rootless` (a user namespace mapping the caller's ids, no network namespace, no
    // cgroup limits), run by root here: what a rootless user's config asks for
    name: 'spec-rootless',
    patch: (c) => {
      const r = rootlessSpec();
      Object.assign(c.linux, { namespaces: r.linux.namespaces, uidMappings: r.linux.uidMappings, gidMappings: r.linux.gidMappings });
      delete c.linux.resources;
      c.mounts = r.mounts;
    },
  },
  { name: 'ns-pid-absent', patch: (c) => ns(c, 'pid', { remove: true }) },
  { name: 'ns-network-absent', patch: (c) => ns(c, 'network', { remove: true }) },
  { name: 'ns-ipc-absent', patch: (c) => ns(c, 'ipc', { remove: true }) },
  { name: 'ns-uts-absent', patch: (c) => { ns(c, 'uts', { remove: true }); delete c.hostname; } },
  { name: 'ns-uts-absent-hostname', patch: (c) => ns(c, 'uts', { remove: true }) },
  { name: 'ns-mount-absent', patch: (c) => ns(c, 'mount', { remove: true }) },
  ...['uts', 'ipc', 'net', 'pid', 'cgroup'].map((t) => ({
    name: `ns-${t}-joined`,
    setup: async (ctx) => { ctx.helpers.ns = await nsHolder(ctx, [t]); },
    patch: (c, ctx) => ns(c, t === 'net' ? 'network' : t, { path: `${ctx.helpers.ns}/${t}` }),
  })),
  {
    name: 'ns-uts-joined-domainname',
    setup: async (ctx) => { ctx.helpers.ns = await nsHolder(ctx, ['uts']); },
    patch: (c, ctx) => { ns(c, 'uts', { path: `${ctx.helpers.ns}/uts` }); c.domainname = 'joined.example'; },
  },
  {
    name: 'ns-mount-joined',
    setupEach: true,
    setup: async (ctx) => { ctx.helpers.ns = await nsHolder(ctx, ['mount']); },
    patch: (c, ctx) => ns(c, 'mount', { path: `${ctx.helpers.ns}/mnt` }),
  },
  {
    name: 'ns-joined-not-a-namespace',
    patch: (c, ctx) => ns(c, 'uts', { path: srcFile(ctx) }),
  },

  // mounts: types and options
  { name: 'root-readwrite', patch: (c) => { c.root.readonly = false; } },
  { name: 'mount-bind-ro', patch: (c, ctx) => mount(c, { destination: '/mnt/ro', type: 'bind', source: srcDir(ctx), options: ['bind', 'ro'] }) },
  { name: 'mount-bind-rw', patch: (c, ctx) => mount(c, { destination: '/mnt/rw', type: 'bind', source: srcDir(ctx), options: ['rbind', 'rw'] }) },
  { name: 'mount-bind-no-type', patch: (c, ctx) => mount(c, { destination: '/mnt/nt', source: srcDir(ctx), options: ['bind'] }) },
  { name: 'mount-bind-flags', patch: (c, ctx) => mount(c, { destination: '/mnt/fl', type: 'bind', source: srcDir(ctx), options: ['bind', 'nosuid', 'nodev', 'noexec', 'ro'] }) },
  { name: 'mount-bind-atime', patch: (c, ctx) => mount(c, { destination: '/mnt/at', type: 'bind', source: srcDir(ctx), options: ['bind', 'noatime', 'nodiratime'] }) },
  { name: 'mount-rbind-rro', patch: (c, ctx) => mount(c, { destination: '/mnt/rro', type: 'bind', source: srcDir(ctx), options: ['rbind', 'rro'] }) },
  { name: 'mount-tmpfs-size-mode', patch: (c) => mount(c, { destination: '/mnt/t', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=700', 'nosuid', 'nodev'] }) },
  { name: 'mount-tmpfs-uid-gid', patch: (c) => mount(c, { destination: '/mnt/t', type: 'tmpfs', source: 'tmpfs', options: ['uid=1000', 'gid=1000', 'mode=750', 'noexec', 'strictatime'] }) },
  { name: 'mount-tmpfs-tmpcopyup', patch: (c) => mount(c, { destination: '/etc', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'size=1m'] }) },
  { name: 'mount-proc-second', patch: (c) => mount(c, { destination: '/mnt/proc', type: 'proc', source: 'proc', options: ['nosuid', 'nodev', 'noexec'] }) },
  { name: 'mount-cgroup-rw', patch: (c) => { c.mounts.find((m) => m.destination === '/sys/fs/cgroup').options = ['nosuid', 'noexec', 'nodev', 'relatime', 'rw']; } },
  { name: 'mount-mqueue-absent', patch: (c) => { c.mounts = c.mounts.filter((m) => m.type !== 'mqueue'); } },
  { name: 'mount-dev-absent', patch: (c) => { c.mounts = c.mounts.filter((m) => !m.destination.startsWith('/dev')); } },
  ...PROPAGATIONS.map((p) => ({
    name: `mount-bind-${p}`,
    patch: (c, ctx) => mount(c, { destination: '/mnt/p', type: 'bind', source: srcDir(ctx), options: ['rbind', p] }),
  })),
  ...PROPAGATIONS.map((p) => ({ name: `rootfs-propagation-${p}`, patch: (c) => { c.linux.rootfsPropagation = p; } })),
  {
    name: 'mount-over-symlink',
    rootfs: (dir) => symlinkSync('/srv', join(dir, 'mnt', 'link')),
    patch: (c) => mount(c, { destination: '/mnt/link', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }),
  },
  {
    name: 'mount-over-symlink-escaping',
    rootfs: (dir) => symlinkSync('../../../../../../../../../opt', join(dir, 'mnt', 'esc')),
    patch: (c) => mount(c, { destination: '/mnt/esc', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }),
  },
  {
    name: 'mount-over-file',
    rootfs: (dir) => writeFileSync(join(dir, 'opt', 'file'), 'the image\'s file\n'),
    patch: (c, ctx) => mount(c, { destination: '/opt/file', type: 'bind', source: srcFile(ctx), options: ['bind', 'ro'] }),
  },
  { name: 'mount-file-new-destination', patch: (c, ctx) => mount(c, { destination: '/opt/new/file', type: 'bind', source: srcFile(ctx), options: ['bind'] }) },
  { name: 'mount-file-onto-dir', patch: (c, ctx) => mount(c, { destination: '/srv', type: 'bind', source: srcFile(ctx), options: ['bind'] }) },
  { name: 'mount-bind-missing-source', patch: (c, ctx) => mount(c, { destination: '/mnt/x', type: 'bind', source: join(ctx.dir, 'nowhere'), options: ['bind'] }) },
  { name: 'mount-destination-relative', patch: (c) => mount(c, { destination: 'mnt/rel', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }) },
  { name: 'mount-over-proc-file', patch: (c, ctx) => mount(c, { destination: '/proc/cpuinfo', type: 'bind', source: srcFile(ctx), options: ['bind', 'ro'] }) },
  { name: 'mount-over-proc-other', patch: (c, ctx) => mount(c, { destination: '/proc/self/environ', type: 'bind', source: srcFile(ctx), options: ['bind', 'ro'] }) },
  {
    name: 'mount-through-symlink-into-proc',
    rootfs: (dir) => symlinkSync('/proc/sys/kernel', join(dir, 'mnt', 'pk')),
    patch: (c) => mount(c, { destination: '/mnt/pk', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }),
  },
  {
    name: 'masked-path-symlink',
    rootfs: (dir) => { mkdirSync(join(dir, 'srv', 'real')); writeFileSync(join(dir, 'srv', 'real', 'f'), 'x\n'); symlinkSync('/srv/real', join(dir, 'opt', 'lnk')); },
    patch: (c) => { c.linux.maskedPaths.push('/opt/lnk'); },
  },
  {
    name: 'readonly-path-symlink-escaping',
    rootfs: (dir) => symlinkSync('../../../../../../../../tmp', join(dir, 'opt', 'esc')),
    patch: (c) => { c.root.readonly = false; c.linux.readonlyPaths.push('/opt/esc'); },
  },
  { name: 'mount-tmpfs-mode-1777', patch: (c) => mount(c, { destination: '/mnt/sticky', type: 'tmpfs', source: 'tmpfs', options: ['mode=1777', 'size=512k', 'nr_inodes=100'] }) },
  { name: 'mount-bind-remount-ro-recursive', patch: (c, ctx) => mount(c, { destination: '/mnt/rec', type: 'none', source: srcDir(ctx), options: ['rbind', 'ro', 'nosuid'] }) },
  { name: 'mount-idmap', patch: (c, ctx) => mount(c, { destination: '/mnt/id', type: 'bind', source: srcDir(ctx), options: ['bind'], uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }], gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] }) },

  // masked and read-only paths
  { name: 'masked-paths-none', patch: (c) => { c.linux.maskedPaths = []; } },
  { name: 'readonly-paths-none', patch: (c) => { c.linux.readonlyPaths = []; } },
  { name: 'masked-paths-extra', patch: (c) => { c.linux.maskedPaths.push('/proc/cpuinfo', '/mnt', '/nonexistent'); } },
  { name: 'readonly-paths-extra', patch: (c) => { c.linux.readonlyPaths.push('/proc/net', '/opt', '/nonexistent'); } },

  // devices
  { name: 'devices-subdir', patch: (c) => { c.linux.devices = [{ path: '/dev/net/tun', type: 'c', major: 10, minor: 200, fileMode: 0o666, uid: 0, gid: 0 }]; } },
  { name: 'devices-path-relative', patch: (c) => { c.linux.devices = [{ path: 'dev/fuse', type: 'c', major: 10, minor: 229 }]; } },
  { name: 'devices-override-default', patch: (c) => { c.linux.devices = [{ path: '/dev/null', type: 'c', major: 1, minor: 5, fileMode: 0o600 }]; } },
  { name: 'devices-owner-mode', patch: (c) => { c.linux.devices = [{ path: '/dev/mytty', type: 'c', major: 4, minor: 0, fileMode: 0o640, uid: 1000, gid: 5 }]; } },
  { name: 'devices-major-missing', patch: (c) => { c.linux.devices = [{ path: '/dev/zero2', type: 'c', minor: 3 }]; } },
  { name: 'devices-fuse-allowed', patch: (c) => { c.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }]; c.linux.resources.devices.push({ allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' }); } },

  // seccomp
  ...(existsSync(PODMAN_PROFILE) ? [
    { name: 'seccomp-podman-default', patch: (c) => { c.linux.seccomp = podmanProfile(); } },
    { name: 'seccomp-containerd-like', patch: (c) => { c.linux.seccomp = containerdLikeProfile(); } },
  ] : []),
  { name: 'seccomp-minimal-allow', patch: (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ARCHES, syscalls: [{ names: MINIMAL_ALLOW, action: 'SCMP_ACT_ALLOW' }] }; } },
  { name: 'seccomp-minimal-allow-nnp-false', patch: (c) => { c.process.noNewPrivileges = false; c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ARCHES, syscalls: [{ names: MINIMAL_ALLOW, action: 'SCMP_ACT_ALLOW' }] }; } },
  {
    name: 'seccomp-arg-filter',
    patch: (c) => {
      c.linux.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ARCHES,
        syscalls: [
          { names: ['chmod'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 1, value: 0o700, op: 'SCMP_CMP_EQ' }] },
          { names: ['fchmodat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 2, value: 0o700, op: 'SCMP_CMP_EQ' }] },
          { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0o7777, valueTwo: 0o777, op: 'SCMP_CMP_MASKED_EQ' }] },
        ],
      };
    },
  },
  { name: 'seccomp-action-errno', patch: (c) => { c.linux.seccomp = actionProfile('SCMP_ACT_ERRNO', ['mkdir', 'mkdirat'], { errnoRet: 28 }); } },
  { name: 'seccomp-action-kill', patch: (c) => { c.linux.seccomp = actionProfile('SCMP_ACT_KILL', ['chmod', 'fchmodat']); } },
  { name: 'seccomp-action-kill-process', patch: (c) => { c.linux.seccomp = actionProfile('SCMP_ACT_KILL_PROCESS', ['chmod', 'fchmodat']); } },
  { name: 'seccomp-action-trap', patch: (c) => { c.linux.seccomp = actionProfile('SCMP_ACT_TRAP', ['chmod', 'fchmodat']); } },
  { name: 'seccomp-action-log', patch: (c) => { c.linux.seccomp = actionProfile('SCMP_ACT_LOG', ['mkdir', 'mkdirat']); } },
  { name: 'seccomp-default-errno-ret', patch: (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, architectures: ARCHES, syscalls: [{ names: MINIMAL_ALLOW.filter((n) => !n.startsWith('mkdir')), action: 'SCMP_ACT_ALLOW' }] }; } },
  { name: 'seccomp-flag-log', patch: (c) => { c.linux.seccomp = { ...actionProfile('SCMP_ACT_ERRNO', ['mkdir', 'mkdirat']), flags: ['SECCOMP_FILTER_FLAG_LOG'] }; } },
  { name: 'seccomp-unknown-syscall-name', patch: (c) => { c.linux.seccomp = actionProfile('SCMP_ACT_ERRNO', ['mkdir', 'no_such_syscall_hako']); } },
  { name: 'seccomp-action-trace', patch: (c) => { c.linux.seccomp = actionProfile('SCMP_ACT_TRACE', ['mkdir', 'mkdirat']); } },
  { name: 'seccomp-foreign-arch-only', patch: (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }; } },
  { name: 'seccomp-empty-syscalls', patch: (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ARCHES, syscalls: [] }; } },
  { name: 'seccomp-rule-without-names', patch: (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ARCHES, syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }, { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }; } },
  { name: 'seccomp-notify', patch: (c, ctx) => { c.linux.seccomp = { ...actionProfile('SCMP_ACT_NOTIFY', ['mkdir', 'mkdirat']), listenerPath: join(ctx.dir, 'notify.sock') }; } },

  // capabilities
  { name: 'caps-empty', patch: (c) => caps(c, allSets([])) },
  { name: 'caps-absent', patch: (c) => { delete c.process.capabilities; } },
  { name: 'caps-host-all', patch: (c) => caps(c, allSets(hostCaps())) },
  { name: 'caps-all-known', patch: (c) => caps(c, allSets(ALL_CAPS)) },
  { name: 'caps-no-ambient', patch: (c) => { delete c.process.capabilities.ambient; } },
  { name: 'caps-ambient-not-inheritable', patch: (c) => { c.process.capabilities.ambient = ['CAP_KILL', 'CAP_CHOWN']; delete c.process.capabilities.inheritable; } },
  { name: 'caps-bounding-only', patch: (c) => caps(c, { bounding: ['CAP_CHOWN', 'CAP_KILL'] }) },
  { name: 'caps-lowercase-names', patch: (c) => { c.process.capabilities = allSets(['cap_kill', 'cap_chown']); } },
  { name: 'caps-unknown-name', patch: (c) => { c.process.capabilities.bounding.push('CAP_NO_SUCH_THING'); } },
  { name: 'caps-user-1000-no-ambient', patch: (c) => { c.process.user = { uid: 1000, gid: 1000 }; c.process.capabilities = { bounding: ['CAP_SYS_ADMIN', 'CAP_KILL'], effective: ['CAP_SYS_ADMIN'], permitted: ['CAP_SYS_ADMIN', 'CAP_KILL'], inheritable: [] }; } },
  { name: 'caps-user-1000-ambient', patch: (c) => { c.process.user = { uid: 1000, gid: 1000 }; c.process.capabilities = allSets(['CAP_NET_BIND_SERVICE', 'CAP_KILL']); } },

  // rlimits
  { name: 'rlimits-none', patch: (c) => { c.process.rlimits = []; } },
  {
    name: 'rlimits-several',
    patch: (c) => {
      c.process.rlimits = [
        { type: 'RLIMIT_NOFILE', soft: 512, hard: 900 }, { type: 'RLIMIT_NPROC', soft: 300, hard: 400 },
        { type: 'RLIMIT_CORE', soft: 0, hard: 0 }, { type: 'RLIMIT_STACK', soft: 4194304, hard: 8388608 },
        { type: 'RLIMIT_MEMLOCK', soft: 65536, hard: 65536 }, { type: 'RLIMIT_AS', soft: 1073741824, hard: 2147483648 },
        { type: 'RLIMIT_MSGQUEUE', soft: 1000, hard: 1000 }, { type: 'RLIMIT_NICE', soft: 0, hard: 0 },
      ];
    },
  },
  { name: 'rlimit-raise-hard', patch: (c) => { c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 4096, hard: 1073741816 }]; } },
  { name: 'rlimit-duplicate', patch: (c) => { c.process.rlimits.push({ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }); } },

  // users, groups, umask
  { name: 'user-1000', patch: (c) => { c.process.user = { uid: 1000, gid: 1000 }; } },
  { name: 'user-additional-gids', patch: (c) => { c.process.user = { uid: 1000, gid: 1000, additionalGids: [5, 2000, 3000] }; } },
  { name: 'user-root-additional-gids', patch: (c) => { c.process.user = { uid: 0, gid: 0, additionalGids: [1000, 2000] }; } },
  { name: 'user-not-in-passwd', patch: (c) => { c.process.user = { uid: 4242, gid: 4343 }; } },
  { name: 'user-duplicate-additional-gids', patch: (c) => { c.process.user = { uid: 1000, gid: 1000, additionalGids: [2000, 2000, 1000] }; } },
  { name: 'user-umask-077', patch: (c) => { c.process.user.umask = 0o077; } },
  { name: 'user-umask-0', patch: (c) => { c.process.user.umask = 0; } },

  // cgroup v1 resources
  { name: 'cg-memory', patch: (c) => res(c, { memory: { limit: 67108864, reservation: 33554432, swap: 134217728 } }) },
  { name: 'cg-memory-swappiness', patch: (c) => res(c, { memory: { limit: 67108864, swappiness: 10 } }) },
  { name: 'cg-memory-kernel', patch: (c) => res(c, { memory: { limit: 67108864, kernel: 33554432, kernelTCP: 16777216 } }) },
  { name: 'cg-memory-disable-oom-killer', patch: (c) => res(c, { memory: { limit: 67108864, disableOOMKiller: true } }) },
  { name: 'cg-cpu', patch: (c) => res(c, { cpu: { shares: 512, quota: 50000, period: 100000 } }) },
  { name: 'cg-cpuset', patch: (c) => res(c, { cpu: { cpus: '0', mems: '0' } }) },
  { name: 'cg-pids', patch: (c) => res(c, { pids: { limit: 64 } }) },
  { name: 'cg-blkio-weight', patch: (c) => res(c, { blockIO: { weight: 500 } }) },
  { name: 'cg-memory-unlimited', patch: (c) => res(c, { memory: { limit: -1, swap: -1 } }) },
  { name: 'cg-pids-zero', patch: (c) => res(c, { pids: { limit: 0 } }) },
  { name: 'cg-cpu-quota-unlimited', patch: (c) => res(c, { cpu: { quota: -1, period: 50000 } }) },
  { name: 'cg-blkio-throttle', patch: (c) => res(c, { blockIO: { throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }], throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 100 }] } }) },
  { name: 'cg-network', patch: (c) => res(c, { network: { classID: 1048577 } }) },
  { name: 'cg-devices-allow-null', patch: (c) => res(c, { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }] }) },
  { name: 'cg-unified-on-v1', patch: (c) => res(c, { unified: { 'memory.max': '67108864' } }) },
  {
    name: 'cg-path-nested',
    patch: (c, ctx) => { c.linux.cgroupsPath = `/${ctx.id}/inner`; res(c, { pids: { limit: 32 } }); },
    // neither runtime removes the parent it made: the case does
    teardown: (ctx) => {
      for (const id of [...ctx.scope.ids, ...ctx.scope.runcIds]) {
        for (const ctrl of readdirSync('/sys/fs/cgroup')) {
          try { rmdirSync(join('/sys/fs/cgroup', ctrl, id)); } catch { /* not there */ }
        }
      }
    },
  },

  // sysctls
  { name: 'sysctl-ipc', patch: (c) => { c.linux.sysctl = { 'kernel.shmmax': '4294967296', 'kernel.msgmax': '16384' }; } },
  { name: 'sysctl-net', patch: (c) => { c.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'net.core.somaxconn': '256', 'net.ipv4.ping_group_range': '0 2147483647' }; } },
  { name: 'sysctl-mqueue', patch: (c) => { c.linux.sysctl = { 'fs.mqueue.msg_max': '20' }; } },
  { name: 'sysctl-net-without-netns', patch: (c) => { ns(c, 'network', { remove: true }); c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; } },
  { name: 'sysctl-ipc-without-ipcns', patch: (c) => { ns(c, 'ipc', { remove: true }); c.linux.sysctl = { 'kernel.shmmax': '4294967296' }; } },
  { name: 'sysctl-not-namespaced', patch: (c) => { c.linux.sysctl = { 'vm.swappiness': '10' }; } },
  { name: 'sysctl-uts-domainname', patch: (c) => { c.linux.sysctl = { 'kernel.domainname': 'from.sysctl' }; } },

  // hostname, domainname
  { name: 'hostname-custom', patch: (c) => { c.hostname = 'diff-host'; c.domainname = 'diff.example'; } },
  { name: 'hostname-empty', patch: (c) => { c.hostname = ''; } },
  { name: 'domainname-without-uts', patch: (c) => { ns(c, 'uts', { remove: true }); delete c.hostname; c.domainname = 'x.example'; } },

  // hooks
  { name: 'hooks-all', patch: (c, ctx) => hooks(c, ctx) },
  { name: 'hooks-prestart-fails', patch: (c, ctx) => hooks(c, ctx, ['prestart', 'poststop'], 'prestart') },
  { name: 'hooks-create-runtime-fails', patch: (c, ctx) => hooks(c, ctx, ['createRuntime', 'poststop'], 'createRuntime') },
  { name: 'hooks-create-container-fails', patch: (c, ctx) => hooks(c, ctx, ['createContainer', 'poststop'], 'createContainer') },
  { name: 'hooks-start-container-fails', patch: (c, ctx) => hooks(c, ctx, ['startContainer', 'poststop'], 'startContainer') },
  { name: 'hooks-poststart-fails', patch: (c, ctx) => hooks(c, ctx, ['poststart', 'poststop'], 'poststart') },
  { name: 'hooks-poststop-fails', patch: (c, ctx) => hooks(c, ctx, ['poststop'], 'poststop') },
  { name: 'hooks-annotations', patch: (c, ctx) => { hooks(c, ctx, ['prestart']); c.annotations = { 'org.example.key': 'value', empty: '' }; } },

  // terminal
  // (the console-socket receiver is a small Python program: Node cannot take an fd from a socket)
  { name: 'terminal-true', skip: NO_PYTHON, patch: (c) => { c.process.terminal = true; } },
  { name: 'terminal-true-user-1000', skip: NO_PYTHON, patch: (c) => { c.process.terminal = true; c.process.user = { uid: 1000, gid: 1000 }; } },

  // cwd
  { name: 'cwd-absent-dir', patch: (c) => { c.process.cwd = '/does/not/exist'; } },
  { name: 'cwd-nested', patch: (c) => { c.process.cwd = '/home/user'; } },
  { name: 'cwd-relative', patch: (c) => { c.process.cwd = 'home'; } },
  { name: 'cwd-file', patch: (c) => { c.process.cwd = '/probe'; } },
  { name: 'cwd-absent-user-1000', patch: (c) => { c.process.cwd = '/home/user/made'; c.process.user = { uid: 1000, gid: 1000 }; } },

  // env
  { name: 'env-home-set', patch: (c) => { c.process.env.push('HOME=/tmp'); c.process.user = { uid: 1000, gid: 1000 }; } },
  { name: 'env-no-path-args-lookup', patch: (c) => { c.process.env = c.process.env.filter((e) => !e.startsWith('PATH=')); c.process.args = ['sh', '/probe']; } },
  { name: 'env-relative-path-dir', patch: (c) => { c.process.env = c.process.env.map((e) => (e.startsWith('PATH=') ? 'PATH=bin:/bin' : e)); c.process.cwd = '/'; c.process.args = ['sh', '/probe']; } },
  { name: 'env-empty-value', patch: (c) => { c.process.env.push('EMPTY='); } },
  { name: 'env-duplicate-keys', patch: (c) => { c.process.env.push('DUP=1', 'OTHER=x', 'DUP=2'); } },
  { name: 'env-no-path', patch: (c) => { c.process.env = c.process.env.filter((e) => !e.startsWith('PATH=')); } },
  { name: 'env-no-equals', patch: (c) => { c.process.env.push('JUSTAKEY'); } },
  { name: 'env-value-with-equals-and-newline', patch: (c) => { c.process.env.push('A=b=c', 'NL=x\ny'); } },

  // the same through `run` (the foreground path: its own wait and delete)
  { name: 'run-default', mode: 'run' },
  { name: 'run-hooks-all', mode: 'run', patch: (c, ctx) => hooks(c, ctx) },
  { name: 'run-user-1000-caps', mode: 'run', patch: (c) => { c.process.user = { uid: 1000, gid: 1000, additionalGids: [5] }; c.process.capabilities = allSets(['CAP_NET_BIND_SERVICE']); } },
  { name: 'run-seccomp-minimal-allow', mode: 'run', patch: (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ARCHES, syscalls: [{ names: MINIMAL_ALLOW, action: 'SCMP_ACT_ALLOW' }] }; } },
  { name: 'run-exit-status', mode: 'run', patch: (c) => { c.process.args = ['/bin/sh', '-c', 'sh /probe; exit 3']; } },
  { name: 'run-missing-binary', mode: 'run', patch: (c) => { c.process.args = ['/no/such/binary']; } },

  // process
  { name: 'process-nnp-false', patch: (c) => { c.process.noNewPrivileges = false; } },
  { name: 'process-oom-score-adj', patch: (c) => { c.process.oomScoreAdj = 500; } },
  { name: 'process-missing-binary', patch: (c) => { c.process.args = ['/no/such/binary']; } },
  { name: 'process-args-path-lookup', patch: (c) => { c.process.args = ['sh', '/probe']; } },
  { name: 'process-io-priority', patch: (c) => { c.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 4 }; } },
  { name: 'process-scheduler', patch: (c) => { c.process.scheduler = { policy: 'SCHED_BATCH' }; } },
  { name: 'process-exec-cpu-affinity', patch: (c) => { c.process.execCPUAffinity = { initial: '0', final: '0' }; } },
  { name: 'linux-personality', patch: (c) => { c.linux.personality = { domain: 'LINUX32' }; } },
];
