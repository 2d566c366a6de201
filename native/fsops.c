/* Ops on paths inside the container's root. Every path is resolved by openat2 with
 * RESOLVE_IN_ROOT against the root's fd, never as a string: a symlink in the rootfs
 * cannot send a mount, a mask or a device node outside it (CVE-2021-30465 and kin). */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int root_fd(const struct op *op) {
    if (op->root < 0 || op->root >= MAX_SLOTS || slots[op->root] < 0) return errno = EBADF, -1;
    return slots[op->root];
}

/* Opens path (relative to the container root) without ever leaving the root. */
int open_in_root(int root, const char *path, int flags) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    while (*path == '/') path++;
    if (*path == 0) path = ".";
    long fd;
    do fd = syscall(SYS_openat2, root, path, &how, sizeof how);
    while (fd < 0 && errno == EAGAIN);
    return (int)fd;
}

/* Splits "a/b/c" into the parent ("a/b", or ".") and the last name ("c"). */
static int split_path(const char *path, char parent[PATH_MAX], char name[NAME_MAX + 1]) {
    while (*path == '/') path++;
    size_t n = strlen(path);
    while (n > 0 && path[n - 1] == '/') n--;
    if (n == 0 || n >= PATH_MAX) return errno = EINVAL, -1;
    memcpy(parent, path, n);
    parent[n] = 0;
    char *slash = strrchr(parent, '/');
    const char *last = slash ? slash + 1 : parent;
    if (strlen(last) > NAME_MAX) return errno = ENAMETOOLONG, -1;
    strcpy(name, last);
    if (slash) *slash = 0;
    else strcpy(parent, ".");
    return 0;
}

/* Opens the parent directory of path inside the root; name gets the last component. */
static int open_parent(int root, const char *path, char name[NAME_MAX + 1]) {
    char parent[PATH_MAX];
    if (split_path(path, parent, name) < 0) return -1;
    return open_in_root(root, parent, O_PATH | O_DIRECTORY);
}

/* mkdir -p inside the root; with type 2 the last component is an empty file instead. A component
 * that is a symlink to something missing is followed: its target is made, inside the root (as
 * runc does), at most `depth` links deep. */
static int mkpath_depth(int root, const char *path, int type, mode_t mode, int depth) {
    char buf[PATH_MAX];
    const char *p = path;
    while (*p == '/') p++;
    if (strlen(p) >= sizeof buf) return errno = ENAMETOOLONG, -1;
    strcpy(buf, p);
    size_t len = strlen(buf);
    for (size_t i = 0; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        if (i == 0 || buf[i - 1] == '/') continue;
        char saved = buf[i];
        buf[i] = 0;
        int last = saved == 0 || buf[i + 1] == 0;
        int fd = open_in_root(root, buf, O_PATH);
        if (fd >= 0) {
            close(fd);
            buf[i] = saved;
            continue;
        }
        if (errno != ENOENT) return -1;
        char name[NAME_MAX + 1];
        int dir = open_parent(root, buf, name);
        if (dir < 0) return -1;
        int r;
        if (last && type == 2) {
            r = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (r >= 0) close(r), r = 0;
        } else {
            r = mkdirat(dir, name, last ? mode : 0755);
        }
        int err = errno;
        if (r < 0 && err == EEXIST) {
            /* the name exists but does not resolve: a dangling symlink; make what it points at */
            char target[PATH_MAX], next[PATH_MAX];
            ssize_t n = readlinkat(dir, name, target, sizeof target - 1);
            close(dir);
            if (n < 0) return errno = EEXIST, -1;
            if (depth <= 0) return errno = ELOOP, -1;
            target[n] = 0;
            char *slash = strrchr(buf, '/');
            const char *rest = saved ? buf + i + 1 : "";
            if (target[0] == '/' || !slash) r = snprintf(next, sizeof next, "%s/%s", target, rest);
            else r = snprintf(next, sizeof next, "%.*s/%s/%s", (int)(slash - buf), buf, target, rest);
            if (r < 0 || (size_t)r >= sizeof next) return errno = ENAMETOOLONG, -1;
            return mkpath_depth(root, next, type, mode, depth - 1);
        }
        close(dir);
        if (r < 0) return errno = err, -1;
        buf[i] = saved;
    }
    return 0;
}

/* mkpath_depth, with two shortcuts first (a path that is there, or only its last name missing:
 * most of a plan's): the whole path opened in one openat2 (it resolves only if each of its
 * prefixes does, which is what the walk checks one by one), then its parent. Anything else
 * (a deeper path missing, a dangling symlink: EEXIST) is left to the walk. */
static int mkpath(int root, const char *path, int type, mode_t mode) {
    int fd = open_in_root(root, path, O_PATH);
    if (fd >= 0) return close(fd), 0;
    if (errno != ENOENT) return -1;
    char name[NAME_MAX + 1];
    int dir = open_parent(root, path, name);
    if (dir >= 0) {
        int r;
        if (type == 2) {
            r = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (r >= 0) close(r), r = 0;
        } else {
            r = mkdirat(dir, name, mode);
        }
        int err = errno;
        close(dir);
        if (r == 0) return 0;
        if (err != EEXIST) return errno = err, -1;
    } else if (errno != ENOENT) {
        return -1;
    }
    return mkpath_depth(root, path, type, mode, 40);
}

int op_mkpath(struct op *op, const char **what) {
    int root = root_fd(op);
    *what = op->path;
    if (root < 0) return -1;
    return mkpath(root, op->path, (int)op->type, (mode_t)op->mode);
}

/* PROCFS 1: what fd names must be on procfs (a sysctl, oom_score_adj); 2: it must not be (a mount
 * target: an image's symlink must not send a mount onto procfs, e.g. over cap_last_cap). Checked
 * on the fd that is then used, so what is checked is what is used (as runc's CVE-2025-52881 fix). */
int check_procfs(const struct op *op, int fd, const char *name) {
    if (op->procfs != 1 && op->procfs != 2) return 0;
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0) return -1;
    int on_proc = sf.f_type == PROC_SUPER_MAGIC;
    if (op->procfs == 1 && !on_proc) {
        snprintf(op_message, sizeof op_message, "refused: %s is not on procfs (a file or a symlink of the image?)", name);
        return errno = EPERM, -1;
    }
    if (op->procfs == 2 && on_proc) {
        snprintf(op_message, sizeof op_message, "refused: %s resolves onto procfs (through a symlink of the image?)", name);
        return errno = EPERM, -1;
    }
    return 0;
}

/* mount(2) onto a target inside the root, through /proc/self/fd of the resolved target; with
 * SOURCE_IN_ROOT the source is resolved in the root too (a readonlyPath bound onto itself). */
int op_mount_in_root(struct op *op, const char **what) {
    int root = root_fd(op);
    *what = op->target;
    if (root < 0) return -1;
    int fd = open_in_root(root, op->target, O_PATH);
    if (fd < 0) return op->optional && errno == ENOENT ? 0 : -1;
    int src = -1, r = check_procfs(op, fd, op->target);
    if (r == 0 && op->source_in_root) {
        if (!op->source) errno = EINVAL, r = -1;
        else if ((src = open_in_root(root, op->source, O_PATH)) < 0) r = -1;
    }
    char proc[64], source[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    snprintf(source, sizeof source, "/proc/self/fd/%d", src);
    if (r == 0) r = mount(src >= 0 ? source : op->source, proc, op->fstype, (unsigned long)op->flags, op->data);
    int err = errno;
    close(fd);
    if (src >= 0) close(src);
    return r < 0 ? (errno = err, -1) : 0;
}

/* mount_setattr(2): read-only, nosuid, ... and propagation, on one mount or a whole tree. */
int op_setattr(struct op *op, const char **what) {
    int root = root_fd(op);
    *what = op->target;
    if (root < 0) return -1;
    int fd = open_in_root(root, op->target, O_PATH);
    if (fd < 0) return op->optional && errno == ENOENT ? 0 : -1;
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = (uint64_t)op->set;
    attr.attr_clr = (uint64_t)op->clear;
    attr.propagation = (uint64_t)op->propagation;
    long r = syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (unsigned)op->flags, &attr, sizeof attr);
    int err = errno;
    close(fd);
    return r < 0 ? (errno = err, -1) : 0;
}

/* maskedPaths: a directory gets an empty read-only tmpfs, anything else the host's /dev/null,
 * which H0 opened into SLOT on the host (never the container's /dev/null, which the image could
 * have replaced: CVE-2025-31133). */
int op_mask(struct op *op, const char **what) {
    int root = root_fd(op);
    *what = op->path;
    if (root < 0) return -1;
    if (op->slot < 0 || op->slot >= MAX_SLOTS || slots[op->slot] < 0) return errno = EBADF, -1;
    char null_path[64];
    snprintf(null_path, sizeof null_path, "/proc/self/fd/%d", slots[op->slot]);
    int fd = open_in_root(root, op->path, O_PATH);
    if (fd < 0) return errno == ENOENT ? 0 : -1;
    struct stat st;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int r = fstat(fd, &st);
    if (r == 0) {
        if (S_ISDIR(st.st_mode)) r = mount("tmpfs", proc, "tmpfs", MS_RDONLY, "size=0,mode=0555");
        else r = mount(null_path, proc, NULL, MS_BIND, NULL);
    }
    int err = errno;
    close(fd);
    return r < 0 ? (errno = err, -1) : 0;
}

/* A device node: MODE holds type and permissions, VALUE/VALUE2 major/minor, IDs uid and gid. */
int op_mknod(struct op *op, const char **what) {
    int root = root_fd(op);
    *what = op->path;
    if (root < 0) return -1;
    char name[NAME_MAX + 1];
    int dir = open_parent(root, op->path, name);
    if (dir < 0) return -1;
    int r = mknodat(dir, name, (mode_t)op->mode, makedev((unsigned)op->value, (unsigned)op->value2));
    if (r < 0 && errno == EEXIST) {
        r = unlinkat(dir, name, 0);
        if (r == 0) r = mknodat(dir, name, (mode_t)op->mode, makedev((unsigned)op->value, (unsigned)op->value2));
    }
    if (r == 0) r = fchmodat(dir, name, (mode_t)op->mode & 07777, 0);
    if (r == 0 && op->nids == 2) r = fchownat(dir, name, op->ids[0], op->ids[1], AT_SYMLINK_NOFOLLOW);
    int err = errno;
    close(dir);
    return r < 0 ? (errno = err, -1) : 0;
}

/* A symlink at PATH pointing at TARGET (e.g. /dev/fd -> /proc/self/fd); one already there is kept. */
int op_symlink(struct op *op, const char **what) {
    int root = root_fd(op);
    *what = op->path;
    if (root < 0) return -1;
    char name[NAME_MAX + 1];
    int dir = open_parent(root, op->path, name);
    if (dir < 0) return -1;
    int r = symlinkat(op->target, dir, name);
    int err = errno;
    close(dir);
    if (r < 0 && err == EEXIST) return 0;
    return r < 0 ? (errno = err, -1) : 0;
}

/* pivot_root into the root, the old root stacked under it and detached (as runc does). */
int op_pivot(struct op *op, const char **what) {
    int root = root_fd(op);
    *what = "pivot_root";
    if (root < 0) return -1;
    /* the old root, to make it (and only it) a slave before it goes: "." after pivot_root(".", ".")
     * is the new root, whose mounts keep the propagation the config gave them (as runc does) */
    int old = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (old < 0) return -1;
    int r = fchdir(root);
    if (r == 0) r = (int)syscall(SYS_pivot_root, ".", ".");
    if (r == 0) {
        *what = "old root";
        r = fchdir(old);
    }
    int err = errno;
    close(old);
    if (r < 0) return errno = err, -1;
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) return -1;
    if (umount2(".", MNT_DETACH) < 0) return -1;
    return chdir("/");
}

/* --no-pivot: move the root mount onto / and chroot into it. */
int op_move_root(struct op *op, const char **what) {
    int root = root_fd(op);
    *what = "move root";
    if (root < 0 || fchdir(root) < 0) return -1;
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0) return -1;
    if (chroot(".") < 0) return -1;
    return chdir("/");
}

/* WRITE with ROOT: write DATA to PATH inside the root (a sysctl under the container's /proc, with
 * PROCFS 1: never to a file of the image). */
int op_write_in_root(struct op *op, const char **what) {
    int root = root_fd(op);
    *what = op->path;
    if (root < 0) return -1;
    /* a write meant for procfs never blocks on a FIFO of the image: it is refused below */
    int fd = open_in_root(root, op->path, O_WRONLY | (op->procfs == 1 ? O_NONBLOCK : 0));
    if (fd < 0 && errno == ENXIO && op->procfs == 1) { /* a FIFO without a reader */
        snprintf(op_message, sizeof op_message, "refused: %s is not on procfs (a FIFO of the image?)", op->path);
        return errno = EPERM, -1;
    }
    if (fd < 0) return -1;
    if (check_procfs(op, fd, op->path) < 0) {
        int err = errno;
        close(fd);
        return errno = err, -1;
    }
    size_t n = op->data ? strlen(op->data) : 0;
    ssize_t w = write(fd, op->data ? op->data : "", n);
    int err = errno;
    close(fd);
    if (w < 0) return errno = err, -1;
    return (size_t)w == n ? 0 : (errno = EIO, -1);
}

/* The working directory must be inside the root (CVE-2024-21626: a leaked fd as cwd). */
int op_check_cwd(struct op *op, const char **what) {
    char cwd[PATH_MAX];
    (void)op;
    *what = "cwd";
    if (!getcwd(cwd, sizeof cwd)) return -1;
    if (cwd[0] != '/') return errno = ENOENT, -1;
    return 0;
}

/* Writes text to /proc/PID/NAME (uid_map, gid_map). */
static int write_proc_map(pid_t pid, const char *name, const char *text) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int err = errno;
    close(fd);
    if (w < 0) return errno = err, -1;
    return (size_t)w == n ? 0 : (errno = EIO, -1);
}

/* A user namespace with these maps, as an fd: a child is cloned into a new one, H0 writes its
 * maps, opens its ns file, and lets it go. */
static int userns_with_maps(const char *uid_map, const char *gid_map) {
    int hold[2];
    if (pipe2(hold, O_CLOEXEC) < 0) return -1;
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) {
        int err = errno;
        close(hold[0]);
        close(hold[1]);
        return errno = err, -1;
    }
    if (pid == 0) { /* waits for EOF: H0 is done with its namespace */
        char c;
        close(hold[1]);
        while (read(hold[0], &c, 1) < 0 && errno == EINTR) {}
        _exit(0);
    }
    close(hold[0]);
    int fd = -1, err = 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
    if (write_proc_map(pid, "uid_map", uid_map) < 0 || write_proc_map(pid, "gid_map", gid_map) < 0 ||
        (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        err = errno;
    close(hold[1]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    return err ? (errno = err, -1) : fd;
}

/* An id-mapped copy of the tree at SOURCE (the host's path), detached, kept in SLOT. H0 does it
 * on the host, as runc's parent does: mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN in the
 * user namespace the filesystem belongs to (the host's), which a container's init in a user
 * namespace lacks. ARG 1 is the uid_map text, ARG 2 the gid_map; FLAGS AT_RECURSIVE: the whole
 * tree (rbind). ATTACH puts it in place. */
int op_idmap_tree(struct op *op, const char **what) {
    *what = op->source;
    if (op->slot < 0 || op->slot >= MAX_SLOTS || op->nargs != 2) return errno = EINVAL, -1;
    unsigned rec = (unsigned)op->flags & AT_RECURSIVE;
    int userns = userns_with_maps(op->args[0], op->args[1]);
    if (userns < 0) {
        snprintf(op_message, sizeof op_message, "cannot make the user namespace of the id mapping: %s", strerror(errno));
        return -1;
    }
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, op->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
    int err = errno;
    if (tree >= 0) {
        struct mount_attr attr;
        memset(&attr, 0, sizeof attr);
        attr.attr_set = MOUNT_ATTR_IDMAP;
        attr.userns_fd = (uint64_t)userns;
        if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | rec, &attr, sizeof attr) < 0) {
            err = errno;
            snprintf(op_message, sizeof op_message, "mount_setattr(MOUNT_ATTR_IDMAP): %s", strerror(err));
            close(tree);
            tree = -1;
        }
    }
    close(userns);
    if (tree < 0) return errno = err, -1;
    slots[op->slot] = tree;
    return 0;
}

/* Moves the detached tree in SLOT onto TARGET (resolved in the root), then closes SLOT. */
int op_attach(struct op *op, const char **what) {
    int root = root_fd(op);
    *what = op->target;
    if (root < 0) return -1;
    if (op->slot < 0 || op->slot >= MAX_SLOTS || slots[op->slot] < 0) return errno = EBADF, -1;
    int fd = open_in_root(root, op->target, O_PATH);
    if (fd < 0) return -1;
    int r = check_procfs(op, fd, op->target);
    if (r == 0) r = (int)syscall(SYS_move_mount, slots[op->slot], "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    int err = errno;
    close(fd);
    close(slots[op->slot]);
    slots[op->slot] = -1;
    return r < 0 ? (errno = err, -1) : 0;
}
