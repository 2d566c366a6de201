// The cgroup v2 device controller is an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE). This compiles
// the OCI device rules into one; the helper loads and attaches it (op BPF_DEVICES).
//
// The program sees { u32 access_type; u32 major; u32 minor } with access_type = access << 16 |
// type (type 1 block, 2 char; access 1 mknod, 2 read, 4 write). The rules are first played as a
// v1 device cgroup plays writes to devices.allow / devices.deny (as runc's emulator does), so a
// container sees the same devices on v1 and v2: a rule of type 'a' sets the default and drops
// the exceptions; any other rule adds its access to the exception for exactly its
// type:major:minor when it goes against the default, and takes it away otherwise. A rule that
// would take access away inside a wildcard exception is refused (v1 ignores it; runc refuses it
// too). The program then checks the exceptions: in a default-deny cgroup one must cover the
// whole request, in a default-allow one none may share any access with it. No rule: allow all.
import { HakoError } from '../errors.js';
import type { LinuxDeviceCgroup } from './resources.js';

const TYPE: Record<string, number> = { b: 1, c: 2 };
const ACCESS: Record<string, number> = { m: 1, r: 2, w: 4 };

// eBPF opcodes (linux/bpf.h)
const LDX_MEM_W = 0x61;
const ALU64_AND_K = 0x57;
const ALU64_RSH_K = 0x77;
const ALU64_MOV_K = 0xb7;
const ALU64_MOV_X = 0xbf;
const JMP_JNE_K = 0x55;
const JMP_JEQ_K = 0x15;
const JMP_EXIT = 0x95;

type Insn = [code: number, dst: number, src: number, off: number, imm: number];

function accessBits(access: string | undefined, where: string): number {
  let bits = 0;
  for (const ch of access ?? 'rwm') {
    const bit = ACCESS[ch];
    if (bit === undefined) throw new HakoError(`hako: config.json: ${where}.access: '${access}' is not made of r, w and m`, { code: 'bad-config' });
    bits |= bit;
  }
  return bits;
}

/** The instructions of one rule: if it matches, return allow (1) or deny (0). `always` is set
 * when the rule matches everything (nothing after it is reachable). */
function ruleBlock(rule: LinuxDeviceCgroup, where: string): { insns: Insn[]; always: boolean } {
  const checks: Array<(skip: number) => Insn[]> = [];
  const type = rule.type ?? 'a';
  if (type !== 'a') {
    const t = TYPE[type];
    if (t === undefined) throw new HakoError(`hako: config.json: ${where}.type: '${type}' is not a, b or c`, { code: 'bad-config' });
    checks.push((skip) => [[JMP_JNE_K, 2, 0, skip, t]]);
  }
  const access = accessBits(rule.access, where);
  if (rule.allow && access !== 7) {
    // allow only if nothing outside the rule's access is asked for
    checks.push((skip) => [[ALU64_MOV_X, 1, 3, 0, 0], [ALU64_AND_K, 1, 0, 0, ~access & 7], [JMP_JNE_K, 1, 0, skip, 0]]);
  } else if (!rule.allow && access !== 7) {
    // deny if any of the rule's access is asked for
    checks.push((skip) => [[ALU64_MOV_X, 1, 3, 0, 0], [ALU64_AND_K, 1, 0, 0, access], [JMP_JEQ_K, 1, 0, skip, 0]]);
  }
  if (rule.major !== undefined && rule.major !== null && rule.major >= 0) {
    const major = rule.major;
    checks.push((skip) => [[JMP_JNE_K, 4, 0, skip, major]]);
  }
  if (rule.minor !== undefined && rule.minor !== null && rule.minor >= 0) {
    const minor = rule.minor;
    checks.push((skip) => [[JMP_JNE_K, 5, 0, skip, minor]]);
  }
  const verdict: Insn[] = [[ALU64_MOV_K, 0, 0, 0, rule.allow ? 1 : 0], [JMP_EXIT, 0, 0, 0, 0]];
  // each check jumps past the rest of the block when it fails: sizes first, then offsets
  const sizes = checks.map((c) => c(0).length);
  const out: Insn[] = [];
  checks.forEach((check, i) => {
    // the jump is a check's last instruction: past the later checks and the verdict
    out.push(...check(sizes.slice(i + 1).reduce((a, b) => a + b, 0) + verdict.length));
  });
  return { insns: [...out, ...verdict], always: checks.length === 0 };
}

const num = (n: number | null | undefined) => (n === undefined || n === null || n < 0 ? -1 : n);
const text = (r: { type: string; major: number; minor: number }, access: number) =>
  `${r.type} ${r.major < 0 ? '*' : r.major}:${r.minor < 0 ? '*' : r.minor} ${[...'rwm'].filter((c) => access & (ACCESS[c] as number)).join('')}`;

/** The rules as the v1 device cgroup ends up with them, starting from "deny all" (as runc's
 * emulator does: a config without a rule for every device denies the ones it does not allow): a
 * default and its exceptions (each against the default, at most one per type:major:minor). */
function emulateV1(rules: LinuxDeviceCgroup[]): { defaultAllow: boolean; exceptions: LinuxDeviceCgroup[] } {
  let defaultAllow = false;
  let exceptions = new Map<string, { type: string; major: number; minor: number; access: number }>();
  rules.forEach((rule, i) => {
    const where = `linux.resources.devices[${i}]`;
    const type = rule.type ?? 'a';
    if (type !== 'a' && TYPE[type] === undefined) throw new HakoError(`hako: config.json: ${where}.type: '${type}' is not a, b or c`, { code: 'bad-config' });
    const access = accessBits(rule.access, where);
    if (type === 'a') {
      defaultAllow = rule.allow;
      exceptions = new Map();
      return;
    }
    const r = { type, major: num(rule.major), minor: num(rule.minor) };
    const key = (major: number, minor: number) => `${type} ${major}:${minor}`;
    const own = exceptions.get(key(r.major, r.minor));
    if (rule.allow !== defaultAllow) {
      if (own) own.access |= access;
      else exceptions.set(key(r.major, r.minor), { ...r, access });
      return;
    }
    for (const [major, minor] of [[-1, r.minor], [r.major, -1], [-1, -1]] as const) {
      const wider = major === r.major && minor === r.minor ? undefined : exceptions.get(key(major, minor));
      if (wider && wider.access & access) {
        throw new HakoError(`hako: config.json: ${where}: '${text(r, access)}' cannot take access away from the wider rule '${text(wider, wider.access)}' (the device cgroup keeps no holes in a wildcard; list the devices instead)`, { code: 'bad-config' });
      }
    }
    if (own) {
      own.access &= ~access;
      if (own.access === 0) exceptions.delete(key(r.major, r.minor));
    }
  });
  const access = (bits: number) => [...'rwm'].filter((c) => bits & (ACCESS[c] as number)).join('');
  return {
    defaultAllow,
    exceptions: [...exceptions.values()].map((e) => ({ allow: !defaultAllow, type: e.type, major: e.major, minor: e.minor, access: access(e.access) })),
  };
}

/** The program for these rules, as the kernel takes it (8 bytes an instruction, little-endian). */
/** Refuses (bad-config, naming the rule) rules the v1 model cannot keep, such as a hole in a
 * wildcard rule, as runc does on v1 and v2 alike; the v1 kernel would ignore such a rule silently. */
export function checkDeviceRulesModel(rules: LinuxDeviceCgroup[]): void {
  emulateV1(rules);
}

/** deviceFilter's compiled programs, by their rules (as JSON): hits and misses (tests see a hit here). */
export const deviceProgramCounts = { hits: 0, misses: 0 };
const programs = new Map<string, Buffer>();
const MAX_PROGRAMS = 64;

/** deviceFilter(), each set of rules compiled once per process (a copy of the program each call). */
export function cachedDeviceFilter(configRules: LinuxDeviceCgroup[]): Buffer {
  const key = JSON.stringify(configRules);
  const hit = programs.get(key);
  if (hit) {
    deviceProgramCounts.hits++;
    return Buffer.from(hit);
  }
  deviceProgramCounts.misses++;
  const program = deviceFilter(configRules);
  if (programs.size >= MAX_PROGRAMS) programs.delete(programs.keys().next().value as string);
  programs.set(key, Buffer.from(program));
  return program;
}

export function deviceFilter(configRules: LinuxDeviceCgroup[]): Buffer {
  const { defaultAllow, exceptions } = emulateV1(configRules);
  // the default first: a rule for every device, the last one checked
  const rules: LinuxDeviceCgroup[] = [{ allow: defaultAllow, type: 'a', access: 'rwm' }, ...exceptions];
  const insns: Insn[] = [
    [LDX_MEM_W, 2, 1, 0, 0], [ALU64_AND_K, 2, 0, 0, 0xffff], // r2 = type
    [LDX_MEM_W, 3, 1, 0, 0], [ALU64_RSH_K, 3, 0, 0, 16], // r3 = access
    [LDX_MEM_W, 4, 1, 4, 0], // r4 = major
    [LDX_MEM_W, 5, 1, 8, 0], // r5 = minor
  ];
  let always = false;
  for (let i = rules.length - 1; i >= 0 && !always; i--) {
    const block = ruleBlock(rules[i] as LinuxDeviceCgroup, `linux.resources.devices[${i}]`);
    insns.push(...block.insns);
    always = block.always; // a rule for every device ends it: the verifier refuses dead code
  }
  // no rule matched (cannot happen: the default is a rule for every device): allowed
  if (!always) insns.push([ALU64_MOV_K, 0, 0, 0, 1], [JMP_EXIT, 0, 0, 0, 0]);
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach(([code, dst, src, off, imm], i) => {
    buf.writeUInt8(code, i * 8);
    buf.writeUInt8((src << 4) | dst, i * 8 + 1);
    buf.writeInt16LE(off, i * 8 + 2);
    buf.writeInt32LE(imm | 0, i * 8 + 4);
  });
  return buf;
}
