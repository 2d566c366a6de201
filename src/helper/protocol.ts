// The TypeScript side of docs/PROTOCOL.md: numbers, frame encoding and decoding.

export const MessageType = {
  PLAN: 1, ACK: 2, ABORT: 3, NSINFO: 4, READ_IN_ROOT: 5, OOM_WATCH: 6, AHEAD: 7,
  IDMAP_REQUEST: 16, SPAWNED: 17, PRE_EXEC: 18, EXITED: 19, LOG: 20, ERROR: 21, NSINFO_RESULT: 22,
  READY: 23, HOOKS: 24, READ_RESULT: 25, OOM: 26, SECCOMP_STATE: 27, NETWORK_REQUEST: 28, SECCOMP_PROGRAM: 29, EXEC_REQUEST: 30,
} as const;

export const Tag = {
  EXPLAIN: 1, KILL_SIGNAL: 2, NS_OP: 3, INIT_OP: 4, KIND: 5, NSTYPE: 6, PATH: 7, FLAGS: 8,
  DATA: 9, SLOT: 10, SOURCE: 11, TARGET: 12, FSTYPE: 13, NAME: 14, ID: 15, ARG: 16, ENV: 17,
  MODE: 18,
  PID: 32, STATUS: 33, SIGNAL: 34, CORE: 35, STAGE: 36, OP: 37, ERRNO: 38, ERRNAME: 39,
  MESSAGE: 40, DETAIL: 41, RESULT: 42, ENTRY: 43, INODE: 44, OWNER: 45, PARENT: 46,
  ROOT: 47, TYPE: 48, OPTIONAL: 49, VALUE: 50, VALUE2: 51, SET: 52, CLEAR: 53, PROPAGATION: 54,
  RULE: 55, ARCH: 56, ACTION: 57, ARGCMP: 58, HOST_OP: 61, CAP_BOUNDING: 62, CAP_EFFECTIVE: 63,
  CAP_PERMITTED: 64, CAP_INHERITABLE: 65, CAP_AMBIENT: 66, PROCFS: 67, SOURCE_IN_ROOT: 68,
} as const;

export const OpKind = {
  SETNS: 1, UNSHARE: 2, IDMAP: 3, WRITE: 4, OPEN_DIR: 5,
  MOUNT: 16, HOSTNAME: 17, DOMAINNAME: 18, CHROOT: 19, CHDIR: 20, FCHROOT: 21, FCHDIR: 22,
  SETGROUPS: 23, SETGID: 24, SETUID: 25, EXEC: 26, MKDIR: 27, LINK_UP: 28,
  MKPATH: 29, MOUNT_IN_ROOT: 30, SETATTR: 31, MASK: 32, MKNOD: 33, SYMLINK: 34, PIVOT: 35,
  MOVE_ROOT: 36, CHECK_CWD: 37, BOUNDING: 38, CAPS: 39, KEEPCAPS: 40, RLIMIT: 41, UMASK: 42,
  NNP: 43, SECCOMP: 44, CONSOLE: 45, HOOK: 46, SYNC: 47, DETACH: 48, FIFO_WAIT: 49,
  CLOEXEC_FROM: 50, SETSID: 51, SETNS_PID: 52, MKFIFO: 53, CONNECT: 54, SOCKETPAIR: 55, PIPE: 56,
  KEYRING: 57, PERSONALITY: 58, BPF_DEVICES: 59, CHECK_EXEC: 60, KEEP_DIR: 61, COPY_TREE: 62,
  IOPRIO: 63, SCHED: 64, AFFINITY: 65, IDMAP_TREE: 66, ATTACH: 67, NET_WAIT: 68, UNPIN: 69, UMOUNT: 70, EXEC_WAIT: 80,
} as const;

export const HEADER_BYTES = 12;
export const MAX_PAYLOAD = 1 << 20;

/** One value in a field list: a string, raw bytes, an integer, or a nested list. */
export type FieldValue = string | number | bigint | Buffer | Field[];
export interface Field { tag: number; value: FieldValue }

/** A decoded frame: fields keep raw bytes so the reader picks the type it expects. */
export interface Frame { type: number; seq: number; payload: Buffer }

/** Strings up to this length are measured and written in JS when they are ASCII (a plan has
 * hundreds of short ones: a call into Buffer's native code each cost more than the copy). */
const SHORT = 64;

function stringSize(s: string): number {
  const n = s.length;
  if (n > SHORT) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return n;
}

/** Writes s as UTF-8 at `at`; returns the bytes written. */
function writeString(buf: Buffer, s: string, at: number): number {
  const n = s.length;
  if (n > SHORT) return buf.write(s, at, 'utf8');
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return buf.write(s, at, 'utf8'); // from the start: what was copied is written over
    buf[at + i] = c;
  }
  return n;
}

/** Bytes a value takes on the wire (strings as UTF-8, integers 8, lists their fields). */
function valueSize(value: FieldValue): number {
  if (typeof value === 'string') return stringSize(value);
  if (Buffer.isBuffer(value)) return value.length;
  if (typeof value === 'number' || typeof value === 'bigint') return 8;
  return fieldsSize(value);
}

function fieldsSize(fields: Field[]): number {
  let n = 0;
  for (const f of fields) n += 6 + valueSize(f.value);
  return n;
}

/** A value in 0..2^32-1, little-endian, byte by byte (Buffer's writeUInt32LE checks its arguments
 * on each of a plan's ~1000 calls; these values are in range by construction). */
function putUint32(buf: Buffer, v: number, at: number): void {
  buf[at] = v & 0xff;
  buf[at + 1] = (v >>> 8) & 0xff;
  buf[at + 2] = (v >>> 16) & 0xff;
  buf[at + 3] = (v >>> 24) & 0xff;
}

/** Writes fields at `at` (one buffer for the whole frame, sized by fieldsSize); returns the end.
 * Each field's length is written after its value (strings and lists are not measured twice), and
 * a safe integer without a BigInt. */
function writeFields(buf: Buffer, at: number, fields: Field[]): number {
  for (const f of fields) {
    const v = f.value;
    const start = at + 6;
    let end: number;
    if (typeof v === 'string') end = start + writeString(buf, v, start);
    else if (Buffer.isBuffer(v)) end = start + v.copy(buf, start);
    else if (typeof v === 'number' && Number.isSafeInteger(v)) {
      const hi = Math.floor(v / 2 ** 32);
      putUint32(buf, v - hi * 2 ** 32, start);
      putUint32(buf, hi >>> 0, start + 4); // the high half as a two's complement 32-bit value
      end = start + 8;
    } else if (typeof v === 'number' || typeof v === 'bigint') {
      buf.writeBigInt64LE(BigInt.asIntN(64, BigInt(v)), start);
      end = start + 8;
    } else end = writeFields(buf, start, v);
    buf[at] = f.tag & 0xff;
    buf[at + 1] = (f.tag >>> 8) & 0xff;
    putUint32(buf, end - start, at + 2);
    at = end;
  }
  return at;
}

export function encodeFields(fields: Field[]): Buffer {
  const buf = Buffer.allocUnsafe(fieldsSize(fields));
  writeFields(buf, 0, fields);
  return buf;
}

export function encodeFrame(type: number, seq: number, fields: Field[]): Buffer {
  const frame = encodeFrameIfFits(type, seq, fields);
  if (typeof frame === 'number') throw new RangeError(`helper message too large (${frame} bytes)`);
  return frame;
}

/** The frame, or its payload's size when that is over MAX_PAYLOAD (nothing encoded then). */
export function encodeFrameIfFits(type: number, seq: number, fields: Field[]): Buffer | number {
  const size = fieldsSize(fields);
  if (size > MAX_PAYLOAD) return size;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + size);
  buf.writeUInt32LE(size, 0);
  buf.writeUInt16LE(type, 4);
  buf.writeUInt16LE(0, 6);
  buf.writeUInt32LE(seq, 8);
  writeFields(buf, HEADER_BYTES, fields);
  return buf;
}

/** Splits a byte stream into frames. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.pending.length >= HEADER_BYTES) {
      const len = this.pending.readUInt32LE(0);
      if (len > MAX_PAYLOAD) throw new RangeError(`helper sent an oversized frame (${len} bytes)`);
      if (this.pending.length < HEADER_BYTES + len) break;
      frames.push({
        type: this.pending.readUInt16LE(4),
        seq: this.pending.readUInt32LE(8),
        payload: this.pending.subarray(HEADER_BYTES, HEADER_BYTES + len),
      });
      this.pending = this.pending.subarray(HEADER_BYTES + len);
    }
    return frames;
  }
}

/** A decoded field list: raw values by tag, in order. */
export class Fields {
  constructor(readonly entries: Array<{ tag: number; raw: Buffer }>) {}

  static decode(buf: Buffer): Fields {
    const entries: Array<{ tag: number; raw: Buffer }> = [];
    let at = 0;
    while (at < buf.length) {
      if (buf.length - at < 6) throw new RangeError('malformed field list from the helper');
      const tag = buf.readUInt16LE(at);
      const len = buf.readUInt32LE(at + 2);
      if (buf.length - at - 6 < len) throw new RangeError('malformed field list from the helper');
      entries.push({ tag, raw: buf.subarray(at + 6, at + 6 + len) });
      at += 6 + len;
    }
    return new Fields(entries);
  }

  private first(tag: number): Buffer | undefined {
    return this.entries.find((e) => e.tag === tag)?.raw;
  }

  str(tag: number): string | undefined {
    return this.first(tag)?.toString('utf8');
  }

  int(tag: number): number | undefined {
    const raw = this.first(tag);
    return raw && raw.length === 8 ? Number(raw.readBigInt64LE(0)) : undefined;
  }

  lists(tag: number): Fields[] {
    return this.entries.filter((e) => e.tag === tag).map((e) => Fields.decode(e.raw));
  }
}
