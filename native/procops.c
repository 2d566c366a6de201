/* Ops on the process itself: capabilities, rlimits, hooks, the sync points with P, exec.fifo. */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Drops every capability not in the bounding set (needs CAP_SETPCAP: before setuid). The bits
 * are tried from 0 up to the first EINVAL, a capability this kernel does not have: the kernel's
 * are 0..CAP_LAST_CAP with no gap, so none comes after it. The range is never read from a file,
 * which after pivot_root would be the container's to forge (cap_last_cap). */
int op_bounding(struct op *op, const char **what) {
    *what = "bounding set";
    for (int cap = 0; cap < 64; cap++) {
        if ((uint64_t)op->caps[0] >> cap & 1) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
        if (errno == EINVAL) break;
        return -1;
    }
    return 0;
}

/* Sets effective, permitted and inheritable, then raises the ambient ones. */
int op_caps(struct op *op, const char **what) {
    *what = "capabilities";
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    for (int i = 0; i < 2; i++) {
        data[i].effective = (uint32_t)((uint64_t)op->caps[1] >> (32 * i));
        data[i].permitted = (uint32_t)((uint64_t)op->caps[2] >> (32 * i));
        data[i].inheritable = (uint32_t)((uint64_t)op->caps[3] >> (32 * i));
    }
    if (syscall(SYS_capset, &hdr, data) < 0) return -1;
    *what = "ambient capabilities";
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return -1;
    for (int cap = 0; cap < 64; cap++) {
        if (!((uint64_t)op->caps[4] & (UINT64_C(1) << cap))) continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
            snprintf(op_message, sizeof op_message, "cannot raise ambient capability %d: %s", cap, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int op_rlimit(struct op *op, const char **what) {
    struct rlimit rl = { (rlim_t)op->value, (rlim_t)op->value2 };
    *what = op->name;
    return setrlimit((int)op->type, &rl);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The state JSON for hooks run here, as P sent it with its last ACK (pid and status current). */
static char *hook_state;

/* Writes what it can of state[*done..n) to the non-blocking pipe fd; closes it (-1) when all is
 * written or the hook will not read (EPIPE): a hook need not read its stdin. */
static void feed_state(int *fd, const char *state, size_t n, size_t *done) {
    while (*fd >= 0 && *done < n) {
        ssize_t w = write(*fd, state + *done, n - *done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) return; /* the pipe is full: poll says when there is room */
        if (w < 0) break;                     /* EPIPE: the hook closed its stdin */
        *done += (size_t)w;
    }
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* Runs a hook: PATH with ARGs and ENVs, the state JSON on stdin, VALUE seconds at most. The state
 * is written as the hook reads it, within the same deadline: a hook that never reads a state
 * larger than the pipe cannot hold the helper past its timeout. */
int op_hook(struct op *op, const char **what) {
    const char *state = hook_state ? hook_state : op->data;
    *what = op->path;
    int in[2];
    if (pipe2(in, O_CLOEXEC) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(in[0]);
        close(in[1]);
        return errno = err, -1;
    }
    if (pid == 0) {
        /* the hook gets its stdio only: no fd of the runtime's or of its caller's */
        if (dup2(in[0], 0) < 0 || close_fds_from(3) < 0) _exit(127);
        signal(SIGPIPE, SIG_DFL);
        char *fallback[] = { op->path, NULL };
        execve(op->path, op->nargs ? op->args : fallback, op->env);
        _exit(127);
    }
    close(in[0]);
    _cleanup_fd_ int feed = in[1];
    size_t n = state ? strlen(state) : 0, done = 0;
    int flags = fcntl(feed, F_GETFL);
    if (flags < 0 || fcntl(feed, F_SETFL, flags | O_NONBLOCK) < 0) {
        int err = errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return errno = err, -1;
    }
    feed_state(&feed, state, n, &done);
    long long deadline = op->value > 0 ? now_ms() + op->value * 1000 : -1;
    int status;
    for (;;) {
        pid_t w = waitpid(pid, &status, deadline < 0 && feed < 0 ? 0 : WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) {
            int err = errno;
            kill(pid, SIGKILL);
            return errno = err, -1;
        }
        long long left = deadline < 0 ? 50 : deadline - now_ms();
        if (deadline >= 0 && left < 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            snprintf(op_message, sizeof op_message, "hook timed out after %lld s", (long long)op->value);
            return errno = ETIMEDOUT, -1;
        }
        /* wait for room in the pipe (or its reader gone), at most 5 ms between exit checks */
        struct pollfd p = { feed, POLLOUT, 0 };
        if (poll(&p, feed >= 0 ? 1 : 0, left < 5 ? (int)left : 5) > 0) feed_state(&feed, state, n, &done);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFEXITED(status)) snprintf(op_message, sizeof op_message, "hook exited with status %d", WEXITSTATUS(status));
    else snprintf(op_message, sizeof op_message, "hook was killed by signal %d", WTERMSIG(status));
    return errno = ECANCELED, -1;
}

/* A sync point with P: send TYPE (READY, HOOKS) and wait for ACK, which may carry DATA: the state
 * JSON for the hooks that run here next. */
int op_sync(struct op *op, const char **what) {
    _cleanup_out_ struct out o;
    *what = op->type == MSG_READY ? "ready" : op->type == MSG_SECCOMP_STATE ? "seccomp state" : "hooks";
    out_begin(&o);
    out_int(&o, T_PID, getpid());
    struct frame reply;
    /* FLAGS 1: dumpable meanwhile (P attaches the network here: a driver may join its namespaces) */
    int t = (op->flags & 1) ? request_dumpable((uint16_t)op->type, &o, &reply) : request_reply((uint16_t)op->type, &o, &reply);
    if (t == MSG_ACK) {
        struct fields c = { reply.payload, reply.payload + reply.len };
        struct field f;
        while (fields_next(&c, &f) == 1)
            if (f.tag == T_DATA && op->type == MSG_SECCOMP_STATE) {
                free(seccomp_state);
                seccomp_state = field_str(&f);
            } else if (f.tag == T_DATA) {
                free(hook_state);
                hook_state = field_str(&f);
            }
        free(reply.payload);
        return 0;
    }
    if (t >= 0) free(reply.payload);
    if (t != MSG_ABORT) return errno = EPIPE, -1;
    snprintf(op_message, sizeof op_message, "stopped by hako");
    return errno = ECANCELED, -1;
}

/* Lets H0 go: from now on this process outlives the runtime (create, run -d, exec -d). */
int op_detach(struct op *op, const char **what) {
    *what = "detach";
    if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0) return -1;
    exec_death_signal = 0;
    stage_death_signal = 0;
    if (op->slot < 0 || op->slot >= MAX_SLOTS || slots[op->slot] < 0) return errno = EBADF, -1;
    char byte = 'D';
    if (write(slots[op->slot], &byte, 1) != 1) return -1;
    close(slots[op->slot]);
    slots[op->slot] = -1;
    return 0;
}

/* Blocks until `start` opens exec.fifo, through the O_PATH fd H0 opened on the host, and writes
 * "0". The fifo stays open (close-on-exec) until the exec: its EOF tells `start` the process runs.
 * With ROOT, the fifo is reopened at N in the directory ROOT holds: /proc/self/fd, opened (and
 * checked to be procfs) before any seccomp filter, so that only openat, fstat, write and close
 * run here, as in runc's init (a filter may deny statfs). */
int op_fifo_wait(struct op *op, const char **what) {
    *what = "exec.fifo";
    if (op->slot < 0 || op->slot >= MAX_SLOTS || slots[op->slot] < 0) return errno = EBADF, -1;
    int dir = AT_FDCWD;
    char path[64];
    if (op->root >= 0) {
        if (op->root >= MAX_SLOTS || slots[op->root] < 0) return errno = EBADF, -1;
        dir = slots[op->root];
        snprintf(path, sizeof path, "%d", slots[op->slot]);
    } else {
        snprintf(path, sizeof path, "/proc/self/fd/%d", slots[op->slot]);
        /* after pivot_root, /proc is the container's: without a procfs there, /proc/self/fd/N would
         * be a file of the image (which would start the process at once, or block forever) */
        struct statfs sf;
        if (statfs("/proc/self/fd", &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC) {
            snprintf(op_message, sizeof op_message, "the container has no procfs at /proc, through which the init reopens exec.fifo: mount proc on /proc");
            return errno = ENOENT, -1;
        }
    }
    int fd;
    while ((fd = openat(dir, path, O_WRONLY | O_CLOEXEC)) < 0 && errno == EINTR) continue;
    if (fd < 0) return -1;
    struct stat want, got;
    if (fstat(slots[op->slot], &want) < 0 || fstat(fd, &got) < 0 || want.st_dev != got.st_dev || want.st_ino != got.st_ino) {
        close(fd);
        snprintf(op_message, sizeof op_message, "/proc/self/fd/%d in the container is not exec.fifo", slots[op->slot]);
        return errno = EPERM, -1;
    }
    ssize_t w = write(fd, "0", 1);
    int err = errno;
    close(slots[op->slot]);
    slots[op->slot] = -1;
    if (w != 1) {
        close(fd);
        return errno = err, -1;
    }
    fifo_fd = fd;
    if (op->root >= 0) {
        close(slots[op->root]);
        slots[op->root] = -1;
    }
    return 0;
}

/* CHECK_EXEC: the program ARG exists and is executable, looked up in PATH from the ENVs
 * (DEFAULT_EXEC_PATH without one, as EXEC), so that a missing program fails `create` as with
 * runc, not `start`. */
int op_check_exec(struct op *op, const char **what) {
    if (op->nargs != 1) return errno = EINVAL, -1;
    const char *name = op->args[0];
    *what = name;
    struct stat st;
    if (strchr(name, '/')) {
        if (stat(name, &st) < 0) return -1;
        if (!S_ISREG(st.st_mode)) return errno = EACCES, -1;
        return access(name, X_OK);
    }
    const char *path = DEFAULT_EXEC_PATH;
    for (size_t i = 0; i < op->nenv; i++)
        if (strncmp(op->env[i], "PATH=", 5) == 0) path = op->env[i] + 5;
    char candidate[4096];
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int n = snprintf(candidate, sizeof candidate, "%.*s%s%s", (int)len, p, len ? "/" : "", name);
        if (n > 0 && (size_t)n < sizeof candidate && stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) == 0) return 0;
        if (!end) break;
        p = end;
    }
    snprintf(op_message, sizeof op_message, "executable file not found in $PATH");
    return errno = ENOENT, -1;
}

/* Joins every namespace in FLAGS of process VALUE at once, through a pidfd. */
int op_setns_pid(struct op *op, const char **what) {
    *what = "pidfd";
    int fd = (int)syscall(SYS_pidfd_open, (pid_t)op->value, 0);
    if (fd < 0) return -1;
    int r = setns(fd, (int)op->flags);
    int err = errno;
    close(fd);
    return r < 0 ? (errno = err, -1) : 0;
}

/* sched_setattr(2) on this process: DATA is the struct sched_attr P filled (SCHED_ATTR_SIZE_VER0,
 * 48 bytes: size, policy, flags, nice, priority, runtime, deadline, period). */
int op_sched(struct op *op, const char **what) {
    *what = "scheduler";
    if (!op->data || op->data_len != 48) return errno = EINVAL, -1;
    return syscall(SYS_sched_setattr, 0, op->data, 0) < 0 ? -1 : 0;
}

/* sched_setaffinity(2) on this process: DATA is the CPU mask (bit n of byte n/8 is CPU n). In H0
 * it is the exec's `initial` set (inherited by H1 and H2 until the cgroup join), in H2 `final`. */
int op_affinity(struct op *op, const char **what) {
    *what = "CPU affinity";
    if (!op->data || op->data_len == 0) return errno = EINVAL, -1;
    return sched_setaffinity(0, op->data_len, (const cpu_set_t *)(const void *)op->data);
}
