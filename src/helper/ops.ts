// The ops of a plan, one typed constructor per op kind (docs/PROTOCOL.md, "Ops"): the parameter
// types say which fields each op takes, and the required ones (native/ops_table.h, the source of
// truth; test/unit/ops.test.mjs checks that they agree) cannot be left out. The planners build
// ops only through these, never from raw tags and numbers.
//
// Fields go on the wire in the order the parameters are written: the helper reads them by tag,
// so the order means nothing to it, but keeping it keeps each plan byte for byte what it is
// (test/unit/plan-golden.test.mjs).
import { OpKind, Tag, type Field } from './protocol.js';

export type OpName = keyof typeof OpKind;

/** One op of a plan: its kind and its fields (without KIND, which PlanBuilder puts first). */
export interface Op { readonly kind: number; readonly fields: Field[] }

type Int = number | bigint;

/** How a parameter goes on the wire: s string, i integer, b flag (true is 1, false leaves it
 * out), d bytes (string or Buffer), l a nested field list; `*` repeats (an array, one field each). */
type FieldType = 's' | 'i' | 'b' | 'd' | 'l' | 's*' | 'i*' | 'l*';
export interface FieldSpec { tag: number; type: FieldType; required?: true }

const req = (tag: number, type: FieldType): FieldSpec => ({ tag, type, required: true });
const opt = (tag: number, type: FieldType): FieldSpec => ({ tag, type });

/** PROCFS: what the helper checks of the file it opened (fstatfs of the fd used). */
/** MKDIR's FLAGS: make missing parents, again if one is removed meanwhile (docs/PROTOCOL.md). */
export const MKDIR_PARENTS = 1;
export const PROCFS = { MUST_BE: 1, MUST_NOT_BE: 2 } as const;
export type Procfs = (typeof PROCFS)[keyof typeof PROCFS];

/** MKPATH's TYPE: what the last part of the path is made as. */
export const PATH_KIND = { DIR: 1, FILE: 2 } as const;
export type PathKind = (typeof PATH_KIND)[keyof typeof PATH_KIND];

/** Each op's fields: parameter name → tag, type and whether the op cannot run without it. */
export const OP_FIELDS = {
  SETNS: { nstype: req(Tag.NSTYPE, 'i'), path: opt(Tag.PATH, 's'), slot: opt(Tag.SLOT, 'i') },
  UNSHARE: { flags: req(Tag.FLAGS, 'i') },
  IDMAP: {},
  NET_WAIT: {},
  UNPIN: { path: req(Tag.PATH, 's') },
  UMOUNT: { path: req(Tag.PATH, 's') },
  WRITE: { root: opt(Tag.ROOT, 'i'), path: req(Tag.PATH, 's'), data: req(Tag.DATA, 'd'), procfs: opt(Tag.PROCFS, 'i') },
  OPEN_DIR: { slot: req(Tag.SLOT, 'i'), path: req(Tag.PATH, 's'), anyFile: opt(Tag.TYPE, 'b'), procfs: opt(Tag.PROCFS, 'i') },
  MOUNT: { source: opt(Tag.SOURCE, 's'), target: req(Tag.TARGET, 's'), fstype: opt(Tag.FSTYPE, 's'), flags: opt(Tag.FLAGS, 'i'), data: opt(Tag.DATA, 'd') },
  HOSTNAME: { name: req(Tag.NAME, 's') },
  DOMAINNAME: { name: req(Tag.NAME, 's') },
  CHROOT: { path: req(Tag.PATH, 's') },
  CHDIR: { path: req(Tag.PATH, 's') },
  FCHROOT: { slot: req(Tag.SLOT, 'i') },
  FCHDIR: { slot: req(Tag.SLOT, 'i') },
  SETGROUPS: { ids: opt(Tag.ID, 'i*') },
  SETGID: { id: req(Tag.ID, 'i') },
  SETUID: { id: req(Tag.ID, 'i') },
  EXEC: { args: req(Tag.ARG, 's*'), env: opt(Tag.ENV, 's*'), flags: opt(Tag.FLAGS, 'i') },
  MKDIR: { path: req(Tag.PATH, 's'), mode: opt(Tag.MODE, 'i'), flags: opt(Tag.FLAGS, 'i') },
  LINK_UP: { name: req(Tag.NAME, 's') },
  MKPATH: { root: req(Tag.ROOT, 'i'), path: req(Tag.PATH, 's'), kind: opt(Tag.TYPE, 'i'), mode: opt(Tag.MODE, 'i') },
  MOUNT_IN_ROOT: {
    root: req(Tag.ROOT, 'i'), source: opt(Tag.SOURCE, 's'), target: req(Tag.TARGET, 's'), sourceInRoot: opt(Tag.SOURCE_IN_ROOT, 'b'),
    fstype: opt(Tag.FSTYPE, 's'), flags: opt(Tag.FLAGS, 'i'), data: opt(Tag.DATA, 'd'), procfs: opt(Tag.PROCFS, 'i'), optional: opt(Tag.OPTIONAL, 'b'),
  },
  SETATTR: {
    root: req(Tag.ROOT, 'i'), target: req(Tag.TARGET, 's'), set: opt(Tag.SET, 'i'), clear: opt(Tag.CLEAR, 'i'),
    propagation: opt(Tag.PROPAGATION, 'i'), flags: opt(Tag.FLAGS, 'i'), optional: opt(Tag.OPTIONAL, 'b'),
  },
  MASK: { root: req(Tag.ROOT, 'i'), path: req(Tag.PATH, 's'), slot: req(Tag.SLOT, 'i') },
  MKNOD: {
    root: req(Tag.ROOT, 'i'), path: req(Tag.PATH, 's'), mode: opt(Tag.MODE, 'i'), major: opt(Tag.VALUE, 'i'), minor: opt(Tag.VALUE2, 'i'),
    uid: opt(Tag.ID, 'i'), gid: opt(Tag.ID, 'i'),
  },
  SYMLINK: { root: req(Tag.ROOT, 'i'), path: req(Tag.PATH, 's'), target: req(Tag.TARGET, 's') },
  PIVOT: { root: req(Tag.ROOT, 'i') },
  MOVE_ROOT: { root: req(Tag.ROOT, 'i') },
  CHECK_CWD: {},
  BOUNDING: { bounding: req(Tag.CAP_BOUNDING, 'i') },
  CAPS: { effective: req(Tag.CAP_EFFECTIVE, 'i'), permitted: req(Tag.CAP_PERMITTED, 'i'), inheritable: req(Tag.CAP_INHERITABLE, 'i'), ambient: req(Tag.CAP_AMBIENT, 'i') },
  KEEPCAPS: { value: req(Tag.VALUE, 'i') },
  RLIMIT: { resource: req(Tag.TYPE, 'i'), soft: req(Tag.VALUE, 'i'), hard: req(Tag.VALUE2, 'i'), name: opt(Tag.NAME, 's') },
  UMASK: { mode: req(Tag.MODE, 'i') },
  NNP: {},
  SECCOMP: { action: opt(Tag.ACTION, 'i'), flags: opt(Tag.FLAGS, 'i'), archs: opt(Tag.ARCH, 's*'), rules: opt(Tag.RULE, 'l*'), listener: opt(Tag.SLOT, 'i'), program: opt(Tag.DATA, 'd') },
  CONSOLE: { slot: req(Tag.SLOT, 'i'), rows: opt(Tag.VALUE, 'i'), cols: opt(Tag.VALUE2, 'i'), uid: opt(Tag.ID, 'i') },
  HOOK: { path: req(Tag.PATH, 's'), args: opt(Tag.ARG, 's*'), env: opt(Tag.ENV, 's*'), state: opt(Tag.DATA, 'd'), timeout: opt(Tag.VALUE, 'i') },
  SYNC: { type: req(Tag.TYPE, 'i'), flags: opt(Tag.FLAGS, 'i') },
  DETACH: { slot: req(Tag.SLOT, 'i') },
  FIFO_WAIT: { slot: req(Tag.SLOT, 'i'), root: opt(Tag.ROOT, 'i') },
  CLOEXEC_FROM: { from: req(Tag.VALUE, 'i') },
  SETSID: {},
  SETNS_PID: { pid: req(Tag.VALUE, 'i'), flags: req(Tag.FLAGS, 'i') },
  MKFIFO: { path: req(Tag.PATH, 's'), slot: req(Tag.SLOT, 'i') },
  CONNECT: { path: req(Tag.PATH, 's'), slot: req(Tag.SLOT, 'i') },
  SOCKETPAIR: { slot: req(Tag.SLOT, 'i') },
  PIPE: { slot: req(Tag.SLOT, 'i') },
  KEYRING: { name: req(Tag.NAME, 's') },
  PERSONALITY: { persona: req(Tag.VALUE, 'i') },
  BPF_DEVICES: { path: req(Tag.PATH, 's'), program: req(Tag.DATA, 'd') },
  CHECK_EXEC: { program: req(Tag.ARG, 's'), env: opt(Tag.ENV, 's*') },
  KEEP_DIR: { root: req(Tag.ROOT, 'i'), path: req(Tag.PATH, 's'), slot: req(Tag.SLOT, 'i') },
  COPY_TREE: { root: req(Tag.ROOT, 'i'), path: req(Tag.PATH, 's'), slot: req(Tag.SLOT, 'i') },
  IOPRIO: { ioprio: req(Tag.VALUE, 'i') },
  SCHED: { attr: req(Tag.DATA, 'd') },
  AFFINITY: { mask: req(Tag.DATA, 'd') },
  IDMAP_TREE: { source: req(Tag.SOURCE, 's'), slot: req(Tag.SLOT, 'i'), maps: req(Tag.ARG, 's*'), flags: opt(Tag.FLAGS, 'i') },
  ATTACH: { root: req(Tag.ROOT, 'i'), target: req(Tag.TARGET, 's'), slot: req(Tag.SLOT, 'i'), procfs: opt(Tag.PROCFS, 'i') },
  EXEC_WAIT: {},
} as const satisfies { [K in OpName]: Record<string, FieldSpec> };

/** The fields in the order the parameters are written; undefined and false are left out. */
function build(name: OpName, params: object): Op {
  const spec: Record<string, FieldSpec> = OP_FIELDS[name];
  const fields: Field[] = [];
  for (const key in params) {
    if (!Object.hasOwn(params, key)) continue;
    const value = (params as Record<string, unknown>)[key];
    const f = spec[key];
    if (!f) throw new TypeError(`op ${name} has no field '${key}'`);
    if (value === undefined || value === false) continue;
    if (f.type.endsWith('*')) for (const v of value as Field['value'][]) fields.push({ tag: f.tag, value: v });
    else fields.push({ tag: f.tag, value: value === true ? 1 : value as Field['value'] });
  }
  return { kind: OpKind[name], fields };
}

/** A SECCOMP rule (RULE): its action, the syscalls it names and its argument comparisons. */
export function seccompRule(r: { action: number; names: string[]; args: Field[][] }): Field[] {
  return [{ tag: Tag.ACTION, value: r.action }, ...r.names.map((n) => ({ tag: Tag.NAME, value: n })), ...r.args.map((a) => ({ tag: Tag.ARGCMP, value: a }))];
}

/** A SECCOMP argument comparison (ARGCMP): argument index, operand(s) and operator. */
export function seccompArg(a: { index: number; value: bigint; valueTwo: bigint; op: number }): Field[] {
  return [{ tag: Tag.TYPE, value: a.index }, { tag: Tag.VALUE, value: a.value }, { tag: Tag.VALUE2, value: a.valueTwo }, { tag: Tag.MODE, value: a.op }];
}

type Join = { nstype: number } & ({ path: string; slot?: never } | { slot: number; path?: never });

/** The constructors, one per op kind (the name is the kind's, in camelCase). */
export const ops = {
  setns: (p: Join) => build('SETNS', p),
  unshare: (p: { flags: number }) => build('UNSHARE', p),
  idmap: () => build('IDMAP', {}),
  netWait: () => build('NET_WAIT', {}),
  unpin: (p: { path: string }) => build('UNPIN', p),
  umount: (p: { path: string }) => build('UMOUNT', p),
  write: (p: { root?: number; path: string; data: string | Buffer; procfs?: Procfs }) => build('WRITE', p),
  openDir: (p: { slot: number; path: string; anyFile?: boolean; procfs?: Procfs }) => build('OPEN_DIR', p),
  mount: (p: { source?: string; target: string; fstype?: string; flags?: number; data?: string }) => build('MOUNT', p),
  hostname: (p: { name: string }) => build('HOSTNAME', p),
  domainname: (p: { name: string }) => build('DOMAINNAME', p),
  chroot: (p: { path: string }) => build('CHROOT', p),
  chdir: (p: { path: string }) => build('CHDIR', p),
  fchroot: (p: { slot: number }) => build('FCHROOT', p),
  fchdir: (p: { slot: number }) => build('FCHDIR', p),
  setgroups: (p: { ids: number[] }) => build('SETGROUPS', p),
  setgid: (p: { id: number }) => build('SETGID', p),
  setuid: (p: { id: number }) => build('SETUID', p),
  /** flags 1: exec the command EXEC_WAIT received (args are then a placeholder). */
  exec: (p: { args: string[]; env?: string[]; flags?: number }) => build('EXEC', p),
  mkdir: (p: { path: string; mode?: number; flags?: number }) => build('MKDIR', p),
  linkUp: (p: { name: string }) => build('LINK_UP', p),
  mkpath: (p: { root: number; path: string; kind: PathKind; mode?: number }) => build('MKPATH', p),
  mountInRoot: (p: {
    root: number; source?: string; target: string; sourceInRoot?: boolean; fstype?: string; flags?: number;
    data?: string; procfs?: Procfs | undefined; optional?: boolean;
  }) => build('MOUNT_IN_ROOT', p),
  setattr: (p: { root: number; target: string; set?: number; clear?: number; propagation?: number; flags?: number; optional?: boolean }) => build('SETATTR', p),
  mask: (p: { root: number; path: string; slot: number }) => build('MASK', p),
  // uid and gid are both ID fields: their order is the meaning, so it is fixed here
  mknod: (p: { root: number; path: string; mode: number; major: number; minor: number; uid: number; gid: number }) =>
    build('MKNOD', { root: p.root, path: p.path, mode: p.mode, major: p.major, minor: p.minor, uid: p.uid, gid: p.gid }),
  symlink: (p: { root: number; path: string; target: string }) => build('SYMLINK', p),
  pivot: (p: { root: number }) => build('PIVOT', p),
  moveRoot: (p: { root: number }) => build('MOVE_ROOT', p),
  checkCwd: () => build('CHECK_CWD', {}),
  bounding: (p: { bounding: bigint }) => build('BOUNDING', p),
  caps: (p: { effective: bigint; permitted: bigint; inheritable: bigint; ambient: bigint }) => build('CAPS', p),
  keepcaps: (p: { value: 0 | 1 }) => build('KEEPCAPS', p),
  rlimit: (p: { resource: number; soft: Int; hard: Int; name?: string }) => build('RLIMIT', p),
  umask: (p: { mode: number }) => build('UMASK', p),
  nnp: () => build('NNP', {}),
  seccomp: (p: { action: number; flags: number; archs: string[]; rules: Field[][]; listener?: number; program?: Buffer }) => build('SECCOMP', p),
  console: (p: { slot: number; rows: number; cols: number; uid?: number }) => build('CONSOLE', p),
  hook: (p: { path: string; args: string[]; env: string[]; state: string; timeout: number }) => build('HOOK', p),
  /** flags 1: the helper is dumpable while hako answers (a user-mode network driver joins it then). */
  sync: (p: { type: number; flags?: number }) => build('SYNC', p),
  detach: (p: { slot: number }) => build('DETACH', p),
  fifoWait: (p: { slot: number; root?: number }) => build('FIFO_WAIT', p),
  cloexecFrom: (p: { from: number }) => build('CLOEXEC_FROM', p),
  setsid: () => build('SETSID', {}),
  setnsPid: (p: { pid: number; flags: number }) => build('SETNS_PID', p),
  mkfifo: (p: { path: string; slot: number }) => build('MKFIFO', p),
  connect: (p: { path: string; slot: number }) => build('CONNECT', p),
  socketpair: (p: { slot: number }) => build('SOCKETPAIR', p),
  pipe: (p: { slot: number }) => build('PIPE', p),
  keyring: (p: { name: string }) => build('KEYRING', p),
  personality: (p: { persona: number }) => build('PERSONALITY', p),
  bpfDevices: (p: { path: string; program: Buffer }) => build('BPF_DEVICES', p),
  checkExec: (p: { program: string; env?: string[] }) => build('CHECK_EXEC', p),
  keepDir: (p: { root: number; path: string; slot: number }) => build('KEEP_DIR', p),
  copyTree: (p: { root: number; path: string; slot: number }) => build('COPY_TREE', p),
  ioprio: (p: { ioprio: number }) => build('IOPRIO', p),
  /** attr: struct sched_attr (48 bytes) as the kernel takes it. */
  sched: (p: { attr: Buffer }) => build('SCHED', p),
  /** mask: a cpu_set_t (bit n of byte n/8 is CPU n). */
  affinity: (p: { mask: Buffer }) => build('AFFINITY', p),
  /** maps: [uid_map text, gid_map text]. */
  idmapTree: (p: { source: string; slot: number; maps: [string, string]; flags?: number }) => build('IDMAP_TREE', p),
  attach: (p: { root: number; target: string; slot: number; procfs?: Procfs }) => build('ATTACH', p),
  execWait: () => build('EXEC_WAIT', {}),
} satisfies Record<string, (p: never) => Op>;
