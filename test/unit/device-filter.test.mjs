// The cgroup v2 device filter (src/cgroups/device-filter.ts), run in a small eBPF interpreter, as
// runc's and youki's device filter tests do: for many rule sets and many requests (type, major,
// minor, access), the program's verdict must be what the v1 device cgroup would say for the same
// rules in the same order (the kernel's devices.allow / devices.deny, which runc's emulator
// reproduces and hako's own v1 backend writes). No root needed: nothing is loaded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deviceFilter } from '../../dist/src/cgroups/device-filter.js';
import { DEFAULT_ALLOWED } from '../../dist/src/cgroups/devices.js';

// ---- the interpreter: the instructions a device filter needs, and nothing else ----

const CTX = Symbol('ctx'); // r1 on entry: a pointer to struct bpf_cgroup_dev_ctx
const M64 = (1n << 64n) - 1n;
const M32 = (1n << 32n) - 1n;
const ALU_OPS = {
  0x00: (a, b) => a + b, 0x10: (a, b) => a - b, 0x40: (a, b) => a | b, 0x50: (a, b) => a & b,
  0xa0: (a, b) => a ^ b, 0xb0: (a, b) => b, // add sub or and xor mov
  0x60: (a, b, bits) => a << (b & BigInt(bits - 1)), 0x70: (a, b, bits) => a >> (b & BigInt(bits - 1)), // lsh rsh
};
const JMP_OPS = {
  0x10: (a, b) => a === b, 0x50: (a, b) => a !== b, 0x20: (a, b) => a > b, 0x30: (a, b) => a >= b,
  0xa0: (a, b) => a < b, 0xb0: (a, b) => a <= b, 0x40: (a, b) => (a & b) !== 0n, // jeq jne jgt jge jlt jle jset
};
const LDX_SIZE = { 0x00: 4, 0x08: 2, 0x10: 1 }; // W H B

function decode(prog) {
  assert.equal(prog.length % 8, 0, 'a program is whole 8-byte instructions');
  const insns = [];
  for (let pc = 0; pc < prog.length / 8; pc++) {
    const o = pc * 8;
    insns.push({ pc, code: prog[o], dst: prog[o + 1] & 0xf, src: prog[o + 1] >> 4, off: prog.readInt16LE(o + 2), imm: prog.readInt32LE(o + 4) });
  }
  return insns;
}

const hex = (i) => `insn ${i.pc} (code 0x${i.code.toString(16)} dst r${i.dst} src r${i.src} off ${i.off} imm ${i.imm})`;

/** What the kernel's verifier would refuse before it runs anything: a jump out of the program or
 * backwards, an instruction no path reaches, a last instruction that can fall off the end. */
function verify(insns) {
  assert.ok(insns.length > 0 && insns.length <= 4096, `program length ${insns.length}`);
  const reached = new Set([0]);
  for (const i of insns) {
    if (!reached.has(i.pc)) assert.fail(`unreachable ${hex(i)} (the verifier refuses dead code)`);
    const cls = i.code & 7;
    if (i.code === 0x95) continue; // exit
    if (cls === 0x05 || cls === 0x06) {
      assert.ok(i.off >= 0, `backward jump at ${hex(i)}`);
      const to = i.pc + 1 + i.off;
      assert.ok(to < insns.length, `jump out of the program at ${hex(i)}`);
      reached.add(to);
      if ((i.code & 0xf0) === 0x00 && cls === 0x05) continue; // ja: no fall-through
    }
    assert.ok(i.pc + 1 < insns.length, `${hex(i)} falls off the end of the program`);
    reached.add(i.pc + 1);
  }
}

/** Runs the program on one request; returns r0 at exit. Throws on anything it does not know. */
function run(insns, { type, access, major, minor }) {
  const ctx = Buffer.alloc(12);
  ctx.writeUInt32LE(((access << 16) | type) >>> 0, 0);
  ctx.writeUInt32LE(major >>> 0, 4);
  ctx.writeUInt32LE(minor >>> 0, 8);
  const reg = new Array(11).fill(undefined);
  reg[1] = CTX;
  const val = (i, r) => {
    const v = reg[r];
    if (v === undefined) assert.fail(`${hex(i)} reads r${r}, which was never written (the verifier refuses it)`);
    if (v === CTX) assert.fail(`${hex(i)} does arithmetic on the context pointer r${r}`);
    return v;
  };
  for (let pc = 0, steps = 0; ; steps++) {
    assert.ok(steps < 10000, 'the program does not end');
    const i = insns[pc];
    assert.ok(i, `pc ${pc} is outside the program`);
    const cls = i.code & 7;
    const srcX = (i.code & 0x08) !== 0;
    if (i.code === 0x95) { // exit
      const r0 = val(i, 0);
      return Number(r0 & M32);
    } else if (cls === 0x01 && (i.code & 0xe0) === 0x60) { // LDX | MEM
      const size = LDX_SIZE[i.code & 0x18];
      if (size === undefined) assert.fail(`unknown load size: ${hex(i)}`);
      if (reg[i.src] !== CTX) assert.fail(`${hex(i)} loads through r${i.src}, not the context`);
      assert.ok(i.off >= 0 && i.off + size <= ctx.length && i.off % size === 0, `${hex(i)}: a load outside the context or unaligned`);
      reg[i.dst] = BigInt(size === 4 ? ctx.readUInt32LE(i.off) : size === 2 ? ctx.readUInt16LE(i.off) : ctx[i.off]);
      pc++;
    } else if (cls === 0x04 || cls === 0x07) { // ALU (32-bit), ALU64
      const op = ALU_OPS[i.code & 0xf0];
      if (!op) assert.fail(`unknown ALU instruction: ${hex(i)}`);
      const bits = cls === 0x07 ? 64 : 32;
      const mask = bits === 64 ? M64 : M32;
      const b = (srcX ? val(i, i.src) : BigInt.asUintN(64, BigInt(i.imm))) & mask; // imm is sign-extended
      const a = (i.code & 0xf0) === 0xb0 ? 0n : val(i, i.dst) & mask;
      reg[i.dst] = op(a, b, bits) & mask; // 32-bit results are zero-extended
      pc++;
    } else if (cls === 0x05 || cls === 0x06) { // JMP, JMP32
      if ((i.code & 0xf0) === 0x00 && cls === 0x05) { pc += 1 + i.off; continue; } // ja
      const op = JMP_OPS[i.code & 0xf0];
      if (!op) assert.fail(`unknown jump instruction: ${hex(i)}`);
      const mask = cls === 0x05 ? M64 : M32;
      const a = val(i, i.dst) & mask;
      const b = (srcX ? val(i, i.src) : BigInt.asUintN(64, BigInt(i.imm))) & mask;
      pc += op(a, b) ? 1 + i.off : 1;
    } else {
      assert.fail(`unknown instruction: ${hex(i)}`);
    }
  }
}

// ---- the reference: the v1 device cgroup (security/device_cgroup.c), as runc's emulator plays it ----

const ACC = { m: 1, r: 2, w: 4 };
const bits = (access) => [...(access ?? 'rwm')].reduce((b, ch) => b | ACC[ch], 0);
const num = (n) => (n === undefined || n === null || n < 0 ? -1 : n);

/** The verdict of a v1 device cgroup the rules were written to in order (allow → devices.allow):
 * a rule of type 'a' sets the default and clears the exceptions; any other rule, if it goes
 * against the default, adds its access to the exception for exactly its type:major:minor,
 * otherwise takes its access away from that exception. A request is then allowed, in a
 * default-deny cgroup, when one exception covers all of its access; in a default-allow one, when
 * no exception shares any access with it. hako writes "deny all" before the rules.
 * Taking access away inside a wider (wildcard) exception, which v1 silently ignores, is refused
 * as runc's emulator refuses it: returns null then. */
function v1Verdict(rules) {
  // hako writes "deny all" first (runc's emulator starts there too)
  let defaultAllow = false;
  let exceptions = [];
  for (const r of rules) {
    const type = r.type ?? 'a';
    if (type === 'a') { defaultAllow = r.allow; exceptions = []; continue; }
    const key = { type: type === 'b' ? 1 : 2, major: num(r.major), minor: num(r.minor) };
    const same = exceptions.find((e) => e.type === key.type && e.major === key.major && e.minor === key.minor);
    if (r.allow !== defaultAllow) {
      if (same) same.access |= bits(r.access);
      else exceptions.push({ ...key, access: bits(r.access) });
    } else {
      const wider = exceptions.find((e) => e !== same && e.type === key.type && (e.major === -1 || e.major === key.major) && (e.minor === -1 || e.minor === key.minor)
        && (e.major === -1 || e.minor === -1) && (e.access & bits(r.access)) !== 0);
      if (wider) return null;
      if (!same) continue;
      same.access &= ~bits(r.access);
      if (same.access === 0) exceptions = exceptions.filter((e) => e !== same);
    }
  }
  const matches = (e, q) => e.type === q.type && (e.major === -1 || e.major === q.major) && (e.minor === -1 || e.minor === q.minor);
  return (q) => (defaultAllow
    ? !exceptions.some((e) => matches(e, q) && (e.access & q.access) !== 0)
    : exceptions.some((e) => matches(e, q) && (q.access & ~e.access) === 0)) ? 1 : 0;
}

// the requests: both types, numbers the rules name and numbers they do not, every access set
const MAJORS = [0, 1, 5, 10, 136, 254];
const MINORS = [0, 2, 3, 7, 200, 229];
const REQUESTS = [];
for (const type of [1, 2]) for (const major of MAJORS) for (const minor of MINORS) for (let access = 1; access <= 7; access++) REQUESTS.push({ type, major, minor, access });
const show = (q) => `${q.type === 1 ? 'b' : 'c'} ${q.major}:${q.minor} ${[...'mrw'].filter((ch) => q.access & ACC[ch]).join('')}`;

/** Every request's verdict from the program equals the v1 cgroup's; returns the program. */
function agrees(rules, label = JSON.stringify(rules)) {
  const expect = v1Verdict(rules);
  if (expect === null) {
    assert.throws(() => deviceFilter(rules), /^HakoError: hako: config\.json: linux\.resources\.devices\[\d+\]: '.*' cannot take access away from the wider rule/, label);
    return undefined;
  }
  const insns = decode(deviceFilter(rules));
  verify(insns);
  const wrong = REQUESTS.filter((q) => run(insns, q) !== expect(q)).map((q) => `${show(q)}: program ${run(insns, q) ? 'allows' : 'denies'}`);
  assert.deepEqual(wrong.slice(0, 8), [], `${label}: ${wrong.length} verdicts differ from the v1 device cgroup's`);
  return insns;
}

const verdict = (rules, q) => run(decode(deviceFilter(rules)), q);
const DENY_ALL = { allow: false, access: 'rwm' };
const C = 2;
const B = 1;

test('the interpreter knows the instructions and refuses what it does not', () => {
  const prog = (...insns) => Buffer.concat(insns.map(([code, dst, src, off, imm]) => {
    const b = Buffer.alloc(8);
    b.writeUInt8(code, 0); b.writeUInt8((src << 4) | dst, 1); b.writeInt16LE(off, 2); b.writeInt32LE(imm, 4);
    return b;
  }));
  const q = { type: C, access: 2, major: 1, minor: 3 };
  // r0 = major + minor (ALU32 add from a register), exit
  assert.equal(run(decode(prog([0x61, 2, 1, 4, 0], [0x61, 3, 1, 8, 0], [0xbc, 0, 2, 0, 0], [0x0c, 0, 3, 0, 0], [0x95, 0, 0, 0, 0])), q), 4);
  // a 32-bit mov of -1 is 0xffffffff, and jeq with imm -1 on 64 bits does not equal it
  assert.equal(run(decode(prog([0xb4, 0, 0, 0, -1], [0x15, 0, 0, 1, -1], [0xb7, 0, 0, 0, 7], [0x95, 0, 0, 0, 0])), q), 7);
  assert.throws(() => run(decode(prog([0xb7, 0, 0, 0, 1], [0x3f, 0, 0, 0, 0], [0x95, 0, 0, 0, 0])), q), /unknown ALU instruction/); // div
  assert.throws(() => run(decode(prog([0x85, 0, 0, 0, 1], [0x95, 0, 0, 0, 0])), q), /unknown jump instruction/); // call
  assert.throws(() => run(decode(prog([0x18, 0, 0, 0, 1], [0x95, 0, 0, 0, 0])), q), /unknown instruction/); // lddw
  assert.throws(() => run(decode(prog([0x95, 0, 0, 0, 0])), q), /never written/); // r0 unset
  assert.throws(() => run(decode(prog([0x61, 0, 1, 12, 0], [0x95, 0, 0, 0, 0])), q), /outside the context/);
  assert.throws(() => verify(decode(prog([0xb7, 0, 0, 0, 1], [0x95, 0, 0, 0, 0], [0x95, 0, 0, 0, 0]))), /unreachable/);
  assert.throws(() => verify(decode(prog([0xb7, 0, 0, 0, 1]))), /falls off the end/);
});

test('the verdicts that matter, written out', () => {
  const spec = [DENY_ALL, ...DEFAULT_ALLOWED]; // what a default bundle gives
  assert.equal(verdict(spec, { type: C, major: 1, minor: 3, access: 6 }), 1, '/dev/null rw');
  assert.equal(verdict(spec, { type: C, major: 136, minor: 7, access: 6 }), 1, '/dev/pts/7 rw');
  assert.equal(verdict(spec, { type: C, major: 10, minor: 229, access: 1 }), 1, 'mknod of any char device');
  assert.equal(verdict(spec, { type: B, major: 254, minor: 0, access: 1 }), 1, 'mknod of any block device');
  assert.equal(verdict(spec, { type: C, major: 10, minor: 229, access: 2 }), 0, '/dev/fuse read');
  assert.equal(verdict(spec, { type: B, major: 254, minor: 0, access: 6 }), 0, 'a disk rw');
  assert.equal(verdict(spec, { type: C, major: 1, minor: 3, access: 7 }), 1, '/dev/null rwm');
  // an allow for reading does not allow writing, nor reading and writing together
  const r = [DENY_ALL, { allow: true, type: 'c', major: 10, minor: 229, access: 'r' }];
  assert.deepEqual([2, 4, 6, 1].map((access) => verdict(r, { type: C, major: 10, minor: 229, access })), [1, 0, 0, 0]);
  // a later deny-all takes back everything allowed before it
  assert.equal(verdict([DENY_ALL, { allow: true, type: 'c', major: 1, minor: 3 }, DENY_ALL], { type: C, major: 1, minor: 3, access: 2 }), 0);
  // no rules: everything is denied (hako writes "deny all" first, as runc starts from it)
  assert.equal(verdict([], { type: B, major: 8, minor: 0, access: 7 }), 0);
  // read and write allowed by two rules for one device: the v1 cgroup merges them into one
  // exception, so opening it for both is allowed
  const split = [DENY_ALL, { allow: true, type: 'c', major: 10, minor: 229, access: 'r' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'w' }];
  assert.equal(verdict(split, { type: C, major: 10, minor: 229, access: 6 }), 1, 'rw from an r rule and a w rule');
  // an allow for one device cannot punch a hole in a deny of all char devices (in a
  // default-allow cgroup v1 would silently keep denying it): refused, as runc refuses it
  const hole = [{ allow: true, access: 'rwm' }, { allow: false, type: 'c', access: 'rw' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }];
  assert.throws(() => deviceFilter(hole), /^HakoError: hako: config\.json: linux\.resources\.devices\[2\]: 'c 10:229 rw' cannot take access away from the wider rule 'c \*:\* rw'/);
  // nor a deny for one device in an allow of a whole major (v1 would silently keep allowing it)
  const hole2 = [DENY_ALL, { allow: true, type: 'c', major: 1, access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 3, access: 'w' }];
  assert.throws(() => deviceFilter(hole2), /devices\[2\]: 'c 1:3 w' cannot take access away from the wider rule 'c 1:\* rwm'/);
  // but a deny of exactly what an earlier allow allowed takes it back, in part or whole
  const back = [DENY_ALL, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }, { allow: false, type: 'c', major: 1, minor: 3, access: 'w' }];
  assert.deepEqual([2, 4, 6].map((access) => verdict(back, { type: C, major: 1, minor: 3, access })), [1, 0, 0]);
});

// rule sets in the shapes configs have: deny all then allows; wildcards by type, major, minor
// (null, -1 or absent); access subsets; denies after allows; a later rule for the same device
const TABLE = [
  [],
  [DENY_ALL],
  [{ allow: true, access: 'rwm' }],
  [DENY_ALL, ...DEFAULT_ALLOWED],
  [...DEFAULT_ALLOWED],
  [DENY_ALL, { allow: true, type: 'c', major: 1, minor: 3, access: 'r' }],
  [DENY_ALL, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }],
  [DENY_ALL, { allow: true, type: 'c', major: 1, minor: 3, access: 'm' }],
  [DENY_ALL, { allow: true, type: 'b', major: null, minor: null, access: 'rwm' }],
  [DENY_ALL, { allow: true, type: 'c', major: 136, minor: -1, access: 'rw' }],
  [DENY_ALL, { allow: true, type: 'c', minor: 3, access: 'rwm' }],
  [DENY_ALL, { allow: true, type: 'c', major: 10, access: 'wm' }],
  [DENY_ALL, { allow: true, type: 'a', access: 'r' }], // type a: all devices, whatever the access
  [DENY_ALL, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }, { allow: false, type: 'c', major: 1, minor: 3, access: 'w' }],
  [DENY_ALL, { allow: true, type: 'c', major: 1, minor: 3, access: 'r' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'w' }],
  [DENY_ALL, { allow: true, type: 'c', major: 1, access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 3, access: 'rwm' }],
  [DENY_ALL, { allow: true, type: 'c', major: 1, minor: 3 }, { allow: false, type: 'c', major: 1, minor: 3 }, { allow: true, type: 'c', major: 1, minor: 3, access: 'm' }],
  [DENY_ALL, { allow: true, type: 'c', major: 1, minor: 3 }, DENY_ALL, { allow: true, type: 'c', major: 5, minor: 0, access: 'r' }],
  [{ allow: true, access: 'rwm' }, { allow: false, type: 'c', major: 10, minor: 229, access: 'rw' }],
  [{ allow: true, access: 'rwm' }, { allow: false, type: 'b', access: 'w' }, { allow: false, type: 'b', major: 8, access: 'r' }],
  [{ allow: true, access: 'rwm' }, { allow: false, type: 'c', access: 'rw' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }],
  [{ allow: true, access: 'rwm' }, { allow: false, type: 'c', major: 10, minor: 229 }, { allow: true, type: 'c', major: 10, minor: 229, access: 'w' }],
  [{ allow: false, type: 'c', major: 10, minor: 229, access: 'r' }, ...DEFAULT_ALLOWED],
  [DENY_ALL, { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' }, ...DEFAULT_ALLOWED],
];

test('a table of rule sets: every verdict is the v1 device cgroup\'s', () => {
  const failed = [];
  for (const rules of TABLE) {
    try { agrees(rules); } catch (err) { failed.push(err.message.split('\n')[0]); }
  }
  assert.deepEqual(failed, []);
});

test('random rule sets (seeded): every verdict is the v1 device cgroup\'s', () => {
  let seed = 0x2545f491;
  const rand = (n) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  const pick = (xs) => xs[rand(xs.length)];
  for (let k = 0; k < 300; k++) {
    const rules = [];
    if (rand(3) > 0) rules.push({ allow: rand(4) === 0, access: 'rwm' });
    for (let n = rand(6); n > 0; n--) {
      rules.push({
        allow: rand(2) === 0, type: pick(['b', 'c', 'c', 'a']), access: pick(['r', 'w', 'm', 'rw', 'rm', 'wm', 'rwm', undefined]),
        major: pick([undefined, null, -1, 1, 1, 10, 136]), minor: pick([undefined, null, -1, 3, 3, 229]),
      });
    }
    if (rand(2) === 0) rules.push(...DEFAULT_ALLOWED);
    agrees(rules, `random set ${k}: ${JSON.stringify(rules)}`);
  }
});

test('bad rules are refused with the rule named', () => {
  assert.throws(() => deviceFilter([DENY_ALL, { allow: true, type: 'x', access: 'r' }]), /^HakoError: hako: config\.json: linux\.resources\.devices\[1\]\.type: 'x' is not a, b or c$/);
  assert.throws(() => deviceFilter([{ allow: true, type: 'c', access: 'rx' }]), /linux\.resources\.devices\[0\]\.access: 'rx' is not made of r, w and m/);
});
