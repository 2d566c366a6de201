/* The op table: the one source of truth for the ops of a plan (docs/PROTOCOL.md, "Ops").
 * Each row: X(NAME, kind number, name in ERROR and LOG, stages it may run in, required fields).
 * The C dispatch (ops.c) refuses an op in another stage or without a required field with an
 * ERROR naming both; test/unit/protocol.test.mjs checks src/helper/protocol.ts (OpKind) and the
 * doc's op table against these rows, and test/unit/ops.test.mjs the typed op constructors
 * (src/helper/ops.ts). Required fields are those without which the op cannot
 * run at all; (0) is none. Keep one row per line: the test parses them. */
#ifndef HAKO_OPS_TABLE_H
#define HAKO_OPS_TABLE_H

/* Stages: H0 (host), H1 (ns), H2 (init). */
#define S_HOST 1
#define S_NS 2
#define S_INIT 4

/* The slot a host op opens a cgroup v2 directory into: H0 forks H1 straight into it
 * (src/plan/fields.ts SLOT.CGROUP; the unit test checks they agree). */
#define CGROUP_SLOT 7

#define HAKO_OPS(X) \
    X(SETNS, 1, "setns", S_NS, (T_NSTYPE)) \
    X(UNSHARE, 2, "unshare", S_NS, (T_FLAGS)) \
    X(IDMAP, 3, "idmap", S_NS, (0)) \
    X(WRITE, 4, "write", S_HOST | S_NS | S_INIT, (T_PATH, T_DATA)) \
    X(OPEN_DIR, 5, "open", S_HOST | S_NS | S_INIT, (T_SLOT, T_PATH)) \
    X(MOUNT, 16, "mount", S_INIT, (T_TARGET)) \
    X(HOSTNAME, 17, "sethostname", S_INIT, (T_NAME)) \
    X(DOMAINNAME, 18, "setdomainname", S_INIT, (T_NAME)) \
    X(CHROOT, 19, "chroot", S_INIT, (T_PATH)) \
    X(CHDIR, 20, "chdir", S_INIT, (T_PATH)) \
    X(FCHROOT, 21, "fchroot", S_INIT, (T_SLOT)) \
    X(FCHDIR, 22, "fchdir", S_INIT, (T_SLOT)) \
    X(SETGROUPS, 23, "setgroups", S_NS | S_INIT, (0)) \
    X(SETGID, 24, "setresgid", S_NS | S_INIT, (T_ID)) \
    X(SETUID, 25, "setresuid", S_NS | S_INIT, (T_ID)) \
    X(EXEC, 26, "execve", S_INIT, (T_ARG)) \
    X(MKDIR, 27, "mkdir", S_HOST | S_INIT, (T_PATH)) \
    X(LINK_UP, 28, "link-up", S_INIT, (T_NAME)) \
    X(MKPATH, 29, "mkpath", S_INIT, (T_ROOT, T_PATH)) \
    X(MOUNT_IN_ROOT, 30, "mount", S_INIT, (T_ROOT, T_TARGET)) \
    X(SETATTR, 31, "mount_setattr", S_INIT, (T_ROOT, T_TARGET)) \
    X(MASK, 32, "mask", S_INIT, (T_ROOT, T_PATH, T_SLOT)) \
    X(MKNOD, 33, "mknod", S_INIT, (T_ROOT, T_PATH)) \
    X(SYMLINK, 34, "symlink", S_INIT, (T_ROOT, T_PATH, T_TARGET)) \
    X(PIVOT, 35, "pivot_root", S_INIT, (T_ROOT)) \
    X(MOVE_ROOT, 36, "move-root", S_INIT, (T_ROOT)) \
    X(CHECK_CWD, 37, "check-cwd", S_INIT, (0)) \
    X(BOUNDING, 38, "capbset", S_INIT, (T_CAP_BOUNDING)) \
    X(CAPS, 39, "capset", S_INIT, (T_CAP_EFFECTIVE, T_CAP_PERMITTED, T_CAP_INHERITABLE, T_CAP_AMBIENT)) \
    X(KEEPCAPS, 40, "keepcaps", S_INIT, (T_VALUE)) \
    X(RLIMIT, 41, "setrlimit", S_INIT, (T_TYPE, T_VALUE, T_VALUE2)) \
    X(UMASK, 42, "umask", S_INIT, (T_MODE)) \
    X(NNP, 43, "no_new_privs", S_INIT, (0)) \
    X(SECCOMP, 44, "seccomp", S_INIT, (0)) \
    X(CONSOLE, 45, "console", S_INIT, (T_SLOT)) \
    X(HOOK, 46, "hook", S_INIT, (T_PATH)) \
    X(SYNC, 47, "sync", S_INIT, (T_TYPE)) \
    X(DETACH, 48, "detach", S_INIT, (T_SLOT)) \
    X(FIFO_WAIT, 49, "exec.fifo", S_INIT, (T_SLOT)) \
    X(CLOEXEC_FROM, 50, "close_range", S_INIT, (T_VALUE)) \
    X(SETSID, 51, "setsid", S_INIT, (0)) \
    X(SETNS_PID, 52, "setns", S_NS, (T_VALUE, T_FLAGS)) \
    X(MKFIFO, 53, "mkfifo", S_HOST, (T_PATH, T_SLOT)) \
    X(CONNECT, 54, "connect", S_HOST, (T_PATH, T_SLOT)) \
    X(SOCKETPAIR, 55, "socketpair", S_HOST, (T_SLOT)) \
    X(PIPE, 56, "pipe", S_HOST, (T_SLOT)) \
    X(KEYRING, 57, "keyctl", S_INIT, (T_NAME)) \
    X(PERSONALITY, 58, "personality", S_INIT, (T_VALUE)) \
    X(BPF_DEVICES, 59, "bpf", S_HOST, (T_PATH, T_DATA)) \
    X(CHECK_EXEC, 60, "find-exec", S_INIT, (T_ARG)) \
    X(KEEP_DIR, 61, "open", S_INIT, (T_ROOT, T_PATH, T_SLOT)) \
    X(COPY_TREE, 62, "copy", S_INIT, (T_ROOT, T_PATH, T_SLOT)) \
    X(IOPRIO, 63, "ioprio_set", S_INIT, (T_VALUE)) \
    X(SCHED, 64, "sched_setattr", S_INIT, (T_DATA)) \
    X(AFFINITY, 65, "sched_setaffinity", S_HOST | S_INIT, (T_DATA)) \
    X(IDMAP_TREE, 66, "idmap-tree", S_HOST, (T_SOURCE, T_SLOT, T_ARG)) \
    X(ATTACH, 67, "move_mount", S_INIT, (T_ROOT, T_TARGET, T_SLOT)) \
    X(NET_WAIT, 68, "net-wait", S_NS, (0)) \
    X(UNPIN, 69, "unpin", S_INIT, (T_PATH)) \
    X(UMOUNT, 70, "umount2", S_INIT, (T_PATH)) \
    X(EXEC_WAIT, 80, "exec-wait", S_INIT, (0))

#endif
