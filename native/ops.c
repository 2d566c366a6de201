/* Each op does one checked syscall and reports what happened; policy stays in TypeScript. */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>



/* The op table (ops_table.h) as data: kind, name, stages, required fields. */
struct op_spec {
    int kind;
    const char *name;
    unsigned stages;
    const uint16_t *required; /* ends with 0 */
};
#define HAKO_UNPAREN(...) __VA_ARGS__
#define HAKO_OP_SPEC(id, n, text, st, req) { n, text, st, (const uint16_t[]){ HAKO_UNPAREN req, 0 } },

#define MKDIR_PARENTS 1 /* MKDIR's FLAGS: make missing parents (docs/PROTOCOL.md) */

/* MKDIR with FLAGS MKDIR_PARENTS: mkdir -p. A directory on the way that another process removes
 * meanwhile (an empty shared cgroup parent: /hako, which each hako removes once idle) is made
 * again: the walk starts over, 8 times at most. */
static int mkdir_parents(const char *path, mode_t mode) {
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof buf || path[0] != '/') return errno = EINVAL, -1;
    for (int attempt = 0; attempt < 8; attempt++) {
        memcpy(buf, path, n + 1);
        int again = 0;
        for (char *p = buf + 1; !again; p++) {
            if (*p != '/' && *p != '\0') continue;
            char c = *p;
            *p = '\0';
            if (mkdir(buf, mode) < 0 && errno != EEXIST) {
                if (errno != ENOENT) return -1;
                again = 1;
            }
            *p = c;
            if (c == '\0') break;
        }
        if (!again) return 0;
    }
    return errno = ENOENT, -1;
}

static const struct op_spec op_specs[] = { HAKO_OPS(HAKO_OP_SPEC) };
#undef HAKO_OP_SPEC

static const struct op_spec *op_spec(int64_t kind) {
    for (size_t i = 0; i < sizeof op_specs / sizeof op_specs[0]; i++)
        if (op_specs[i].kind == kind) return &op_specs[i];
    return NULL;
}

static const char *kind_name(int64_t k) {
    const struct op_spec *spec = op_spec(k);
    return spec ? spec->name : "unknown";
}

/* Integer fields are 8 bytes; string fields carry no NUL (DATA may be binary). */
static int is_int_tag(uint16_t tag) {
    switch (tag) {
    case T_KIND: case T_NSTYPE: case T_FLAGS: case T_SLOT: case T_MODE: case T_ROOT: case T_TYPE:
    case T_OPTIONAL: case T_VALUE: case T_VALUE2: case T_SET: case T_CLEAR: case T_PROPAGATION:
    case T_PROCFS: case T_SOURCE_IN_ROOT: case T_ID: case T_CAP_BOUNDING: case T_CAP_EFFECTIVE:
    case T_CAP_PERMITTED: case T_CAP_INHERITABLE: case T_CAP_AMBIENT: case T_ACTION:
        return 1;
    default: return 0;
    }
}

static int is_str_tag(uint16_t tag) {
    switch (tag) {
    case T_PATH: case T_SOURCE: case T_TARGET: case T_FSTYPE: case T_NAME: case T_ARG: case T_ENV: case T_ARCH:
        return 1;
    default: return 0;
    }
}

/* Frees what decode allocated (the strings) and clears op. */
static void op_release(struct op *op) {
    free(op->path);
    free(op->data);
    free(op->source);
    free(op->target);
    free(op->fstype);
    free(op->name);
    for (size_t i = 0; i < op->nargs; i++) free(op->args[i]);
    for (size_t i = 0; i < op->nenv; i++) free(op->env[i]);
    memset(op, 0, sizeof *op);
}

/* A field that is not what its tag says: op_message says which. */
static int bad_field(const struct field *f, const char *why) {
    snprintf(op_message, sizeof op_message, "field %s (tag %u) %s", tag_name(f->tag), f->tag, why);
    return -1;
}

/* Decodes an op's field list into op (released first). Returns 0, or -1 with op_message set. */
static int decode(struct fields c, struct op *op) {
    struct field f;
    int r;
    op_release(op);
    op->raw = c;
    op->slot = -1;
    op->root = -1;
    op->mode = 0755;
    while ((r = fields_next(&c, &f)) == 1) {
        if (f.tag < 128) op->seen[f.tag / 64] |= UINT64_C(1) << (f.tag % 64);
        if (is_int_tag(f.tag) && f.len != 8) return bad_field(&f, "is not an 8-byte integer");
        if (is_str_tag(f.tag) && memchr(f.value, 0, f.len)) return bad_field(&f, "contains a NUL byte");
        switch (f.tag) {
        case T_KIND: op->kind = field_int(&f); break;
        case T_NSTYPE: op->nstype = field_int(&f); break;
        case T_FLAGS: op->flags = field_int(&f); break;
        case T_SLOT: op->slot = field_int(&f); break;
        case T_MODE: op->mode = field_int(&f); break;
        case T_ROOT: op->root = field_int(&f); break;
        case T_TYPE: op->type = field_int(&f); break;
        case T_OPTIONAL: op->optional = field_int(&f); break;
        case T_VALUE: op->value = field_int(&f); break;
        case T_VALUE2: op->value2 = field_int(&f); break;
        case T_SET: op->set = field_int(&f); break;
        case T_CLEAR: op->clear = field_int(&f); break;
        case T_PROPAGATION: op->propagation = field_int(&f); break;
        case T_PROCFS: op->procfs = field_int(&f); break;
        case T_SOURCE_IN_ROOT: op->source_in_root = field_int(&f); break;
        case T_CAP_BOUNDING: case T_CAP_EFFECTIVE: case T_CAP_PERMITTED:
        case T_CAP_INHERITABLE: case T_CAP_AMBIENT:
            op->caps[f.tag - T_CAP_BOUNDING] = field_int(&f);
            op->caps_given |= 1 << (f.tag - T_CAP_BOUNDING);
            break;
        /* a repeated string field: the last one counts (the earlier copy is freed) */
        case T_PATH: free(op->path); op->path = field_str(&f); break;
        case T_DATA: free(op->data); op->data = field_str(&f); op->data_len = f.len; break;
        case T_SOURCE: free(op->source); op->source = field_str(&f); break;
        case T_TARGET: free(op->target); op->target = field_str(&f); break;
        case T_FSTYPE: free(op->fstype); op->fstype = field_str(&f); break;
        case T_NAME: free(op->name); op->name = field_str(&f); break;
        case T_ID:
            if (op->nids >= sizeof op->ids / sizeof op->ids[0]) return bad_field(&f, "repeats more than 256 times");
            op->ids[op->nids++] = (gid_t)field_int(&f);
            break;
        case T_ARG:
            if (op->nargs >= sizeof op->args / sizeof op->args[0] - 1) return bad_field(&f, "repeats more than 4095 times");
            op->args[op->nargs++] = field_str(&f);
            break;
        case T_ENV:
            if (op->nenv >= sizeof op->env / sizeof op->env[0] - 1) return bad_field(&f, "repeats more than 4095 times");
            op->env[op->nenv++] = field_str(&f);
            break;
        default: break; /* unknown fields are ignored: newer P, older helper */
        }
    }
    if (r < 0) snprintf(op_message, sizeof op_message, "malformed field list (a length past its end)");
    return r;
}

/* The command EXEC_WAIT received (large: kept off the stack). */
static struct op late_exec;

static int has_field(const struct op *op, uint16_t tag) {
    return tag < 128 && (op->seen[tag / 64] >> (tag % 64) & 1);
}

/* The op table's rules: a known kind, allowed in this stage, with its required fields (and SETNS
 * with PATH or SLOT). Returns 0, or -1 with op_message naming the op and what is wrong. */
static int check_op(const struct op *op, unsigned stage) {
    const struct op_spec *spec = op_spec(op->kind);
    if (!has_field(op, T_KIND) || !spec) {
        snprintf(op_message, sizeof op_message, "unknown op kind %lld", (long long)op->kind);
        return -1;
    }
    if (!(spec->stages & stage)) {
        snprintf(op_message, sizeof op_message, "op %s (kind %d) cannot run in the %s stage", spec->name, spec->kind, stage_name);
        return -1;
    }
    for (const uint16_t *t = spec->required; *t; t++)
        if (!has_field(op, *t)) {
            snprintf(op_message, sizeof op_message, "op %s (kind %d) needs field %s", spec->name, spec->kind, tag_name(*t));
            return -1;
        }
    if (op->kind == OP_SETNS && !has_field(op, T_PATH) && !has_field(op, T_SLOT)) {
        snprintf(op_message, sizeof op_message, "op %s (kind %d) needs field PATH or SLOT", spec->name, spec->kind);
        return -1;
    }
    return 0;
}


static int slot_fd(const struct op *op) {
    if (op->slot < 0 || op->slot >= MAX_SLOTS || slots[op->slot] < 0) {
        errno = EBADF;
        return -1;
    }
    return slots[op->slot];
}

/* A cgroup file kept open after a WRITE, for the next WRITEs of the same path: the kernel takes
 * each write(2) to a cgroup file as one (a device rule, a pid), and eleven rules written through
 * one open take 13 us instead of 57. run_ops closes it before any other op and at its end. */
static struct {
    int fd;
    char path[PATH_MAX];
} kept = { -1, "" };

static void kept_close(void) {
    if (kept.fd >= 0) close(kept.fd), kept.fd = -1;
    kept.path[0] = 0;
}

static int kept_for(const struct op *op) {
    return op->kind == OP_WRITE && op->root < 0 && op->procfs != 1 && op->path && kept.fd >= 0 && strcmp(op->path, kept.path) == 0;
}

static int is_cgroup_file(int fd) {
    struct statfs fs;
    return fstatfs(fd, &fs) == 0 && (fs.f_type == CGROUP_SUPER_MAGIC || fs.f_type == CGROUP2_SUPER_MAGIC);
}

static int write_file(const struct op *op, const char *path, const char *data) {
    size_t n = strlen(data);
    if (kept_for(op)) {
        ssize_t w = write(kept.fd, data, n);
        if (w < 0) return -1;
        return (size_t)w == n ? 0 : (errno = EIO, -1);
    }
    /* a write meant for procfs never blocks on a FIFO of the image: it is refused below */
    int fd = open(path, O_WRONLY | O_CLOEXEC | (op->procfs == 1 ? O_NONBLOCK : 0));
    if (fd < 0 && errno == ENXIO && op->procfs == 1) { /* a FIFO without a reader */
        snprintf(op_message, sizeof op_message, "refused: %s is not on procfs (a FIFO of the image?)", path);
        return errno = EPERM, -1;
    }
    if (fd < 0) return -1;
    if (check_procfs(op, fd, path) < 0) {
        int err = errno;
        close(fd);
        return errno = err, -1;
    }
    ssize_t w = write(fd, data, n);
    int err = errno;
    if (w >= 0 && (size_t)w == n && op->procfs != 1 && strlen(path) < sizeof kept.path && is_cgroup_file(fd)) {
        kept.fd = fd;
        memcpy(kept.path, path, strlen(path) + 1);
        return 0;
    }
    if (close(fd) < 0 && w >= 0) return -1;
    if (w < 0) {
        errno = err;
        return -1;
    }
    if ((size_t)w != n) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* A seccomp filter (the container's, loaded before the credentials are set without
 * no_new_privs, as runc does) may allow setgid and setuid but not setresgid and setresuid (a
 * minimal allow-list written for runc, whose init uses the former): the error it gives. */
static int seccomp_refused(void) { return errno == EPERM || errno == ENOSYS; }

/* Whether CAP is in the effective set: then setgid/setuid set the real, effective and saved ids,
 * as setresgid/setresuid with the id three times do. */
static int has_cap(int cap) {
    int err = errno;
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    int r = syscall(SYS_capget, &hdr, data) == 0 && (data[cap / 32].effective >> (cap % 32) & 1);
    errno = err;
    return r;
}

/* Brings a network interface up (e.g. "lo" in a new network namespace). */
static int link_up(const char *name) {
    struct ifreq ifr;
    if (!name || strlen(name) >= sizeof ifr.ifr_name) return errno = EINVAL, -1;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, name);
    int r = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (r == 0) {
        ifr.ifr_flags |= IFF_UP;
        r = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int err = errno;
    close(s);
    errno = err;
    return r;
}

/* Runs one op. Returns 0, or -1 with errno set and *what naming the path involved. */
static int run_one(struct op *op, const char **what) {
    int fd;
    *what = op->path;
    switch (op->kind) {
    case OP_SETNS:
        if (op->slot >= 0) { /* opened earlier by OPEN_DIR: before another setns changed /proc */
            if ((fd = slot_fd(op)) < 0) return -1;
            slots[op->slot] = -1;
        } else if ((fd = open(op->path, O_RDONLY | O_CLOEXEC)) < 0) {
            return -1;
        }
        if (setns(fd, (int)op->nstype) < 0) {
            int err = errno;
            close(fd);
            errno = err;
            return -1;
        }
        return close(fd);
    case OP_UNSHARE: {
        /* the namespaces made ahead (all of them in this op's flags) are joined, the rest made.
         * Joining a mount namespace moves the working directory and root to its root, where
         * unshare keeps them: the directory is entered again by its path (the same mount table),
         * and a root other than / (chroot) leaves them unused */
        int rest = (int)op->flags;
        char cwd[PATH_MAX], root[2];
        int mnt = (ahead_flags & CLONE_NEWNS) != 0;
        if (ahead_flags && (rest & ahead_flags) == ahead_flags &&
            (!mnt || (getcwd(cwd, sizeof cwd) && cwd[0] == '/' && readlink("/proc/self/root", root, sizeof root) == 1 && root[0] == '/'))) {
            for (int i = 0; i < AHEAD_NS; i++)
                if (ahead_ns[i] >= 0 && setns(ahead_ns[i], 0) < 0) {
                    *what = "a namespace made ahead";
                    return -1;
                }
            if (mnt && chdir(cwd) < 0) {
                *what = "the working directory, in a mount namespace made ahead";
                return -1;
            }
            rest &= ~ahead_flags;
        }
        ahead_close();
        return rest ? unshare(rest) : 0;
    }
    case OP_IDMAP:
    case OP_NET_WAIT: {
        /* P writes this (new) user namespace's maps, or attaches this (new) network namespace
         * (CNI ADD, or a user-mode network driver that joins it), while this process waits */
        _cleanup_out_ struct out o;
        out_begin(&o);
        out_int(&o, T_PID, getpid());
        struct frame reply;
        int t = request_dumpable(op->kind == OP_IDMAP ? MSG_IDMAP_REQUEST : MSG_NETWORK_REQUEST, &o, &reply);
        if (t >= 0) free(reply.payload);
        if (t == MSG_ACK) return 0;
        errno = t < 0 ? EPIPE : ECANCELED;
        return -1;
    }
    case OP_UNPIN:
        /* a kept namespace file (a bind mount of nsfs) let go: not mounted or gone is fine */
        *what = op->path;
        if (umount2(op->path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT) return -1;
        if (unlink(op->path) < 0 && errno != ENOENT) return -1;
        return 0;
    case OP_UMOUNT:
        /* a lazy unmount (the sandbox's disk and overlay at close): not a mount point is fine */
        *what = op->path;
        if (umount2(op->path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT) return -1;
        return 0;
    case OP_WRITE:
        if (op->root >= 0) return op_write_in_root(op, what);
        return write_file(op, op->path, op->data ? op->data : "");
    case OP_OPEN_DIR:
        if (op->slot < 0 || op->slot >= MAX_SLOTS) {
            errno = EINVAL;
            return -1;
        }
        /* TYPE 1: any file (a namespace file), else a directory */
        fd = open(op->path, O_RDONLY | O_CLOEXEC | (op->type == 1 ? 0 : O_DIRECTORY));
        if (fd < 0) return -1;
        if (check_procfs(op, fd, op->path) < 0) {
            int err = errno;
            close(fd);
            return errno = err, -1;
        }
        slots[op->slot] = fd;
        return 0;
    case OP_MOUNT:
        *what = op->target;
        return mount(op->source, op->target, op->fstype, (unsigned long)op->flags, op->data);
    case OP_HOSTNAME:
        *what = op->name;
        return sethostname(op->name, strlen(op->name));
    case OP_DOMAINNAME:
        *what = op->name;
        return setdomainname(op->name, strlen(op->name));
    case OP_CHROOT:
        if (chroot(op->path) < 0) return -1;
        return chdir("/");
    case OP_CHDIR:
        return chdir(op->path);
    case OP_FCHROOT:
        if ((fd = slot_fd(op)) < 0 || fchdir(fd) < 0) return -1;
        return chroot(".");
    case OP_FCHDIR:
        if ((fd = slot_fd(op)) < 0) return -1;
        return fchdir(fd);
    case OP_SETGROUPS:
        return setgroups(op->nids, op->ids);
    case OP_SETGID:
        if (op->nids != 1) return errno = EINVAL, -1;
        if (setresgid(op->ids[0], op->ids[0], op->ids[0]) < 0 && !(seccomp_refused() && has_cap(CAP_SETGID) && setgid(op->ids[0]) == 0)) return -1;
        /* a change of credentials clears the parent-death signal: set it again */
        return stage_death_signal ? prctl(PR_SET_PDEATHSIG, stage_death_signal) : 0;
    case OP_SETUID:
        if (op->nids != 1) return errno = EINVAL, -1;
        if (setresuid(op->ids[0], op->ids[0], op->ids[0]) < 0 && !(seccomp_refused() && has_cap(CAP_SETUID) && setuid(op->ids[0]) == 0)) return -1;
        return stage_death_signal ? prctl(PR_SET_PDEATHSIG, stage_death_signal) : 0;
    case OP_MKDIR:
        if (mkdir(op->path, (mode_t)op->mode) == 0 || errno == EEXIST) return 0;
        return errno == ENOENT && (op->flags & MKDIR_PARENTS) ? mkdir_parents(op->path, (mode_t)op->mode) : -1;
    case OP_LINK_UP:
        *what = op->name;
        return link_up(op->name);
    case OP_MKPATH: return op_mkpath(op, what);
    case OP_MOUNT_IN_ROOT: return op_mount_in_root(op, what);
    case OP_SETATTR: return op_setattr(op, what);
    case OP_MASK: return op_mask(op, what);
    case OP_KEEP_DIR: return op_keep_dir(op, what);
    case OP_COPY_TREE: return op_copy_tree(op, what);
    case OP_MKNOD: return op_mknod(op, what);
    case OP_SYMLINK: return op_symlink(op, what);
    case OP_PIVOT: return op_pivot(op, what);
    case OP_MOVE_ROOT: return op_move_root(op, what);
    case OP_CHECK_CWD: return op_check_cwd(op, what);
    case OP_BOUNDING: return op_bounding(op, what);
    case OP_CAPS: return op_caps(op, what);
    case OP_KEEPCAPS: return prctl(PR_SET_KEEPCAPS, op->value ? 1 : 0, 0, 0, 0);
    case OP_RLIMIT: return op_rlimit(op, what);
    case OP_UMASK: umask((mode_t)op->mode); return 0;
    case OP_NNP: return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    case OP_SECCOMP: return op_seccomp(op, what);
    case OP_CONSOLE: return op_console(op, what);
    case OP_HOOK: return op_hook(op, what);
    case OP_SYNC: return op_sync(op, what);
    case OP_DETACH: return op_detach(op, what);
    case OP_FIFO_WAIT: return op_fifo_wait(op, what);
    case OP_CLOEXEC_FROM: return cloexec_fds_from((int)op->value);
    case OP_SETSID: return setsid() < 0 ? -1 : 0;
    case OP_SETNS_PID: return op_setns_pid(op, what);
    case OP_MKFIFO: return op_mkfifo(op, what);
    case OP_CONNECT: return op_connect(op, what);
    case OP_SOCKETPAIR: return op_socketpair(op, what);
    case OP_PIPE: return op_pipe(op, what);
    case OP_BPF_DEVICES: return op_bpf_devices(op, what);
    case OP_CHECK_EXEC: return op_check_exec(op, what);
    case OP_KEYRING:
        /* a session keyring of the container's own (runc's default; --no-new-keyring skips it) */
        *what = op->name;
        return syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, op->name) < 0 ? -1 : 0;
    case OP_PERSONALITY:
        return personality((unsigned long)op->value) < 0 ? -1 : 0;
    case OP_IOPRIO: /* IOPRIO_WHO_PROCESS, this process (runc does the same) */
        return syscall(SYS_ioprio_set, 1, 0, (int)op->value) < 0 ? -1 : 0;
    case OP_SCHED: return op_sched(op, what);
    case OP_AFFINITY: return op_affinity(op, what);
    case OP_IDMAP_TREE: return op_idmap_tree(op, what);
    case OP_ATTACH: return op_attach(op, what);
    case OP_EXEC_WAIT: {
        /* a container made ahead of time: its command (args, env, cwd) comes now, from hako */
        _cleanup_out_ struct out o;
        out_begin(&o);
        struct frame reply;
        int t = request_reply(MSG_EXEC_REQUEST, &o, &reply);
        if (t != MSG_ACK) {
            free(reply.payload);
            return errno = t < 0 ? EPIPE : ECANCELED, -1;
        }
        struct fields list = { reply.payload, reply.payload + reply.len };
        int r = decode(list, &late_exec);
        late_exec.raw = (struct fields){ NULL, NULL }; /* the payload goes now: strings are copies */
        free(reply.payload);
        if (r < 0) return -1;
        if (late_exec.nargs == 0) return errno = EINVAL, -1;
        if (late_exec.path) {
            *what = late_exec.path;
            if (chdir(late_exec.path) < 0) return -1;
        }
        return op_check_cwd(op, what);
    }
    case OP_EXEC: {
        /* FLAGS 1: the command EXEC_WAIT received */
        if (op->flags & 1) {
            if (late_exec.nargs == 0) return errno = EINVAL, -1;
            op = &late_exec;
        }
        if (op->nargs == 0) return errno = EINVAL, -1;
        *what = op->args[0];
        if (explain) {
            explain_op("execve", op->args[0], 0);
            _cleanup_out_ struct out o;
            out_begin(&o);
            if (request(MSG_PRE_EXEC, &o) != MSG_ACK) return errno = EPIPE, -1;
        }
        for (size_t i = 0; i < MAX_SLOTS; i++)
            if (slots[i] >= 0) close(slots[i]);
        /* PATH for the search is the command's, not the helper's (glibc looks at environ) */
        int has_path = 0;
        for (size_t i = 0; i < op->nenv; i++)
            if (strncmp(op->env[i], "PATH=", 5) == 0) {
                has_path = 1;
                if (setenv("PATH", op->env[i] + 5, 1) < 0) return -1;
            }
        if (!has_path && setenv("PATH", DEFAULT_EXEC_PATH, 1) < 0) return -1;
        /* after any credential change (which clears it), right before the exec */
        if (prctl(PR_SET_PDEATHSIG, exec_death_signal) < 0) return -1;
        execvpe(op->args[0], op->args, op->env);
        return -1;
    }
    default:
        errno = ENOSYS;
        return -1;
    }
}

int run_ops(struct fields list, uint16_t tag) {
    struct field f;
    int r, index = 0;
    unsigned stage = tag == T_HOST_OP ? S_HOST : tag == T_NS_OP ? S_NS : S_INIT;
    static struct op op; /* large (argv/env tables): kept off the stack */
    while ((r = fields_next(&list, &f)) == 1) {
        if (f.tag != tag) continue;
        current_op = index;
        op_message[0] = 0;
        if (decode(field_list(&f), &op) < 0 || check_op(&op, stage) < 0) {
            kept_close();
            report_error(has_field(&op, T_KIND) ? kind_name(op.kind) : "decode", NULL, EPROTO, op_message);
            op_release(&op);
            return -1;
        }
        const char *what = NULL;
        op_message[0] = 0;
        if (!kept_for(&op)) kept_close();
        if (run_one(&op, &what) < 0) {
            kept_close();
            int err = errno;
            report_error_status(kind_name(op.kind), what, err, op_message[0] ? op_message : NULL, op.kind == OP_EXEC ? exec_failure_code(err) : -1);
            if (op.kind == OP_EXEC) {
                exec_failed();
                _exit(exec_failure_code(err));
            }
            op_release(&op);
            return -1;
        }
        if (op.kind != OP_EXEC) explain_op(kind_name(op.kind), what, 0);
        op_release(&op);
        index++;
    }
    kept_close();
    current_op = -1;
    if (r < 0) {
        report_error("decode", NULL, EPROTO, "malformed op list");
        return -1;
    }
    return 0;
}
