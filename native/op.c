/* The state the ops of one helper process share (op.h): the fd slots, the message of the op that
 * failed, the death signals and the fds that watch the exec; and closing or marking the fds. */
#define _GNU_SOURCE
#include "op.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

int exec_death_signal = 0;
int stage_death_signal = 0;
int exec_fd = -1, fifo_fd = -1;

/* H2 failed before its exec: says so ("E") on the fds that watch the exec (exec.fifo once
 * `start` opened it, --exec-fd), whose EOF alone would read as "executed". */
void exec_failed(void) {
    signal(SIGPIPE, SIG_IGN); /* the watcher may be gone: nothing to tell then */
    ssize_t w;
    if (fifo_fd >= 0) w = write(fifo_fd, "E", 1);
    if (exec_fd >= 0) w = write(exec_fd, "E", 1);
    (void)w;
}

char op_message[256];

/* Applies act to every fd from `first` on, as /proc/self/fd lists them: the fallback where
 * close_range is missing (before Linux 5.11) or refused (a seccomp filter of an outer runtime).
 * That directory must be procfs (after pivot_root it is the container's /proc: a directory of the
 * image would hide fds). The fds are all listed first, then acted on. */
static int each_fd_from(int first, int (*act)(int fd)) {
    int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -1;
    struct statfs sf;
    if (fstatfs(dfd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC) {
        close(dfd);
        snprintf(op_message, sizeof op_message, "close_range is refused and /proc is not procfs: cannot go through the open fds");
        return errno = ENOENT, -1;
    }
    DIR *d = fdopendir(dfd);
    if (!d) {
        int err = errno;
        close(dfd);
        return errno = err, -1;
    }
    _cleanup_free_ int *fds = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd < first || fd == dfd) continue;
        if (n == cap) {
            int *more = realloc(fds, (cap = cap ? cap * 2 : 64) * sizeof *fds);
            if (!more) {
                closedir(d);
                return errno = ENOMEM, -1;
            }
            fds = more;
        }
        fds[n++] = fd;
    }
    closedir(d);
    for (size_t i = 0; i < n; i++)
        if (act(fds[i]) < 0) return -1;
    return 0;
}

static int close_one(int fd) {
    return close(fd) < 0 && errno != EBADF && errno != EINTR ? -1 : 0;
}

static int cloexec_one(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return errno == EBADF ? 0 : -1; /* closed since it was listed */
    return fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

static int close_range_refused(void) {
    return errno == ENOSYS || errno == EINVAL || errno == EPERM;
}

/* Closes every fd from `first` on. */
int close_fds_from(int first) {
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) return 0;
    return close_range_refused() ? each_fd_from(first, close_one) : -1;
}

/* Marks every fd from `first` on close-on-exec. */
int cloexec_fds_from(int first) {
    if (syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return 0;
    return close_range_refused() ? each_fd_from(first, cloexec_one) : -1;
}

int slots[MAX_SLOTS] = { [0 ... MAX_SLOTS - 1] = -1 };

int ahead_flags = 0, ahead_ns[AHEAD_NS] = { -1, -1, -1, -1 };

pid_t ahead_holder(int flags, int *ready, int *hold) {
    int r[2], h[2];
    if (pipe2(r, O_CLOEXEC) < 0) return -1;
    if (pipe2(h, O_CLOEXEC) < 0) {
        close(r[0]), close(r[1]);
        return -1;
    }
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        /* nothing of its parent's but the two pipes, at 0 and 1 */
        int err = 0, spare = (r[1] > h[0] ? r[1] : h[0]) + 1;
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent || dup2(r[1], spare) < 0 || dup2(h[0], 0) < 0 ||
            dup2(spare, 1) < 0 || close_fds_from(2) < 0)
            _exit(1);
        if (unshare(flags) < 0) err = errno;
        if (write(1, &err, sizeof err) != sizeof err) _exit(1);
        char byte;
        while (read(0, &byte, 1) < 0 && errno == EINTR) continue; /* the parent closes it: EOF */
        _exit(0);
    }
    close(r[1]);
    close(h[0]);
    if (pid < 0) {
        close(r[0]), close(h[1]);
        return -1;
    }
    *ready = r[0];
    *hold = h[1];
    return pid;
}

void ahead_close(void) {
    for (int i = 0; i < AHEAD_NS; i++)
        if (ahead_ns[i] >= 0) close(ahead_ns[i]), ahead_ns[i] = -1;
    ahead_flags = 0;
}

int exec_failure_code(int err) { return err == ENOENT || err == ENOTDIR ? 127 : 126; }
