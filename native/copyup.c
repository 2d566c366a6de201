/* tmpcopyup (runc's mount extension): the image's directory is kept open (KEEP_DIR) before a
 * tmpfs is mounted over it, and its tree is then copied into the tmpfs (COPY_TREE) by fds only:
 * every name is opened relative to its directory's fd with O_NOFOLLOW, a symlink is copied as a
 * symlink and never followed, so nothing of the image can send the copy outside either tree. */
#define _GNU_SOURCE
#include "ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deeper trees are refused (each level holds two fds). */
#define COPY_MAX_DEPTH 128

static int slot_index(const struct op *op) {
    if (op->root < 0 || op->root >= MAX_SLOTS || slots[op->root] < 0) return errno = EBADF, -1;
    if (op->slot < 0 || op->slot >= MAX_SLOTS) return errno = EBADF, -1;
    return 0;
}

/* KEEP_DIR: open PATH (a directory, resolved in ROOT) into SLOT. */
int op_keep_dir(struct op *op, const char **what) {
    *what = op->path;
    if (slot_index(op) < 0) return -1;
    int fd = open_in_root(slots[op->root], op->path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    if (slots[op->slot] >= 0) close(slots[op->slot]);
    slots[op->slot] = fd;
    return 0;
}

static int copy_data(int in, int out) {
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) return 0;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) return -1;
            off += w;
        }
    }
}

/* The owner and mode of what was made at dst/name, as st says (the owner first: chown clears
 * the set-id bits). */
static int copy_owner_mode(int dst, const char *name, const struct stat *st) {
    if (fchownat(dst, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0) return -1;
    if (S_ISLNK(st->st_mode)) return 0;
    return fchmodat(dst, name, st->st_mode & 07777, 0);
}

static int copy_tree(int src, int dst, int depth, char *failed, size_t failed_len);

static int copy_entry(int src, int dst, const char *name, int depth, char *failed, size_t failed_len) {
    struct stat st;
    if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return -1;
    int r = 0, in = -1, out = -1;
    if (S_ISDIR(st.st_mode)) {
        if (depth >= COPY_MAX_DEPTH) return errno = ELOOP, -1;
        if (mkdirat(dst, name, 0700) < 0) return -1;
        in = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (in >= 0) out = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        r = in < 0 || out < 0 ? -1 : copy_tree(in, out, depth + 1, failed, failed_len);
    } else if (S_ISREG(st.st_mode)) {
        in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat again;
        if (in >= 0 && (fstat(in, &again) < 0 || !S_ISREG(again.st_mode))) errno = EAGAIN, r = -1;
        if (in < 0) r = -1;
        if (r == 0) out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (r == 0 && out < 0) r = -1;
        if (r == 0) r = copy_data(in, out);
    } else if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(src, name, target, sizeof target - 1);
        if (n < 0) return -1;
        target[n] = 0;
        r = symlinkat(target, dst, name);
    } else {
        /* a FIFO, a socket or a device node: made again, never opened */
        r = mknodat(dst, name, st.st_mode & (S_IFMT | 07777), st.st_rdev);
    }
    int err = errno;
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    if (r == 0) r = copy_owner_mode(dst, name, &st), err = errno;
    /* the innermost name that failed is the one reported */
    if (r < 0 && failed[0] == 0) snprintf(failed, failed_len, "%s", name);
    return r < 0 ? (errno = err, -1) : 0;
}

static int copy_tree(int src, int dst, int depth, char *failed, size_t failed_len) {
    int fd = dup(src);
    if (fd < 0) return -1;
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int err = errno;
        close(fd);
        return errno = err, -1;
    }
    int r = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(dir);
        if (!e) {
            if (errno) r = -1;
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if ((r = copy_entry(src, dst, e->d_name, depth, failed, failed_len)) < 0) break;
    }
    int err = errno;
    closedir(dir);
    return r < 0 ? (errno = err, -1) : 0;
}

/* COPY_TREE: copy the tree of the directory in SLOT (KEEP_DIR's) into PATH (resolved in ROOT),
 * then close SLOT. */
int op_copy_tree(struct op *op, const char **what) {
    *what = op->path;
    if (slot_index(op) < 0 || slots[op->slot] < 0) return errno = EBADF, -1;
    int dst = open_in_root(slots[op->root], op->path, O_RDONLY | O_DIRECTORY);
    if (dst < 0) return -1;
    char failed[NAME_MAX + 1] = "";
    int r = copy_tree(slots[op->slot], dst, 0, failed, sizeof failed);
    int err = errno;
    close(dst);
    close(slots[op->slot]);
    slots[op->slot] = -1;
    if (r < 0 && failed[0]) snprintf(op_message, sizeof op_message, "copying %s of the image's directory", failed);
    return r < 0 ? (errno = err, -1) : 0;
}
