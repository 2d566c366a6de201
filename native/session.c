/* hako-helper: H0. Reads one request from P on fd 3 and carries it out (docs/PROTOCOL.md). */
#define _GNU_SOURCE
#include "session.h"
#include "ops.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static sigset_t original_mask;

/* Ends a stage that failed: P has the ERROR already. */
static _Noreturn void fail_stage(void) { _exit(1); }

/* The command gets the signal state hako had: SIGPIPE default, the original mask. */
static int restore_signals(void) {
    if (signal(SIGPIPE, SIG_DFL) == SIG_ERR) return -1;
    return sigprocmask(SIG_SETMASK, &original_mask, NULL);
}

/* H2: waits for H1 to be gone, runs the init ops and execs. */
static _Noreturn void stage_init(struct fields plan, int sync_fd, int kill_signal) {
    stage_name = "init";
    char byte;
    ssize_t r;
    while ((r = read(sync_fd, &byte, 1)) < 0 && errno == EINTR) continue;
    if (r < 0) {
        report_error("read", "sync pipe", errno, NULL);
        fail_stage();
    }
    close(sync_fd);
    stage_death_signal = SIGKILL;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
        report_error("prctl", "PR_SET_PDEATHSIG", errno, NULL);
        fail_stage();
    }
    if (restore_signals() < 0) {
        report_error("sigprocmask", NULL, errno, NULL);
        fail_stage();
    }
    exec_death_signal = kill_signal > 0 ? kill_signal : 0;
    if (run_ops(plan, T_INIT_OP) < 0) {
        exec_failed();
        fail_stage();
    }
    report_error("exec", NULL, EINVAL, "the plan has no exec op");
    exec_failed();
    fail_stage();
}

/* H1: joins and creates namespaces, then forks H2 into them. */
static _Noreturn void stage_ns(struct fields plan, int pid_fd, int kill_signal, pid_t h0) {
    stage_name = "ns";
    stage_death_signal = SIGKILL;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
        report_error("prctl", "PR_SET_PDEATHSIG", errno, NULL);
        fail_stage();
    }
    if (getppid() != h0) { /* H0 died before the death signal was set */
        report_error("getppid", NULL, ESRCH, "the helper's host stage ended before the namespace stage began");
        fail_stage();
    }
    /* H1 is in the cgroup now: its directory fd must not follow into the container, where it
     * would be a way out (a cwd of /proc/self/fd/N: CVE-2024-21626) */
    if (slots[CGROUP_SLOT] >= 0) {
        close(slots[CGROUP_SLOT]);
        slots[CGROUP_SLOT] = -1;
    }
    if (run_ops(plan, T_NS_OP) < 0) fail_stage();
    ahead_close(); /* not H2's: joined by UNSHARE, or of no use */
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0) {
        report_error("pipe2", NULL, errno, NULL);
        fail_stage();
    }
    /* like fork(), but H2's parent is H0, which reaps it */
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) {
        report_error("clone", "CLONE_PARENT", errno, NULL);
        fail_stage();
    }
    if (pid == 0) {
        close(sync[1]);
        close(pid_fd);
        stage_init(plan, sync[0], kill_signal);
    }
    close(sync[0]);
    _cleanup_out_ struct out o;
    out_begin(&o);
    out_int(&o, T_PID, pid);
    int32_t pid32 = pid;
    if (out_send(CTRL_FD, &o, MSG_SPAWNED, next_seq++) < 0) {
        report_error("send", "SPAWNED", errno, NULL); /* P may be gone: then nobody reads it */
        kill(pid, SIGKILL);
        fail_stage();
    }
    if (write(pid_fd, &pid32, sizeof pid32) != sizeof pid32) {
        report_error("write", "pid pipe", errno, NULL);
        kill(pid, SIGKILL);
        fail_stage();
    }
    close(sync[1]); /* H2 goes on now, not after this process's exit: H1 has said all it says */
    _exit(0);
}

/* After EXITED: H0 keeps its end of the control socket until P closes its own (having read
 * EXITED), at most LINGER_MS. P may still be answering a frame H2 sent before it ended (the ACK
 * of a READY, when H2 was killed while P handled it): with no end left open, that write fails
 * with EPIPE, and P's socket, torn down by the failed write, drops the EXITED it had not read
 * yet. What P writes meanwhile is read and dropped. */
#define LINGER_MS 2000
static void linger(void) {
    struct timespec start, now;
    if (clock_gettime(CLOCK_MONOTONIC, &start) < 0) return;
    for (;;) {
        if (clock_gettime(CLOCK_MONOTONIC, &now) < 0) return;
        long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (spent >= LINGER_MS) return;
        struct pollfd p = { CTRL_FD, POLLIN | POLLRDHUP, 0 };
        int r = poll(&p, 1, (int)(LINGER_MS - spent));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))) return;
        char drop[256];
        ssize_t n = read(CTRL_FD, drop, sizeof drop);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return;
    }
}

static void send_exited(int status) {
    _cleanup_out_ struct out o;
    out_begin(&o);
    if (WIFSIGNALED(status)) {
        out_int(&o, T_SIGNAL, WTERMSIG(status));
        out_int(&o, T_CORE, WCOREDUMP(status) ? 1 : 0);
    } else {
        out_int(&o, T_STATUS, WEXITSTATUS(status));
    }
    if (out_send(CTRL_FD, &o, MSG_EXITED, next_seq++) == 0) linger();
    /* else P is gone: nothing to tell then */
}

/* Copies what is readable on `from` to `to`. Returns 0 on EOF or EIO (pty closed), 1 otherwise. */
static int copy_some(int from, int to) {
    char buf[8192];
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
    if (n <= 0) return 0;
    for (ssize_t done = 0; done < n;) {
        ssize_t w = write(to, buf + done, (size_t)(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return 0;
        done += w;
    }
    return 1;
}

static struct termios saved_tty;
static int tty_raw = 0, tty_atexit = 0;

static void restore_tty(void) {
    if (tty_raw) tcsetattr(0, TCSAFLUSH, &saved_tty);
    tty_raw = 0;
}

static void resize_pty(int master) {
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
}

/* Whether H2 wrote its DETACH byte on *fd, without waiting: 1 yes, 0 not (yet), -1 error. At
 * the pipe's EOF (H2 ended or exec'd without detaching) *fd becomes -1: no byte will come. */
static int read_detach(int *fd) {
    if (*fd < 0) return 0;
    struct pollfd p = { *fd, POLLIN, 0 };
    int r;
    while ((r = poll(&p, 1, 0)) < 0 && errno == EINTR) continue;
    if (r <= 0) return r;
    char byte;
    ssize_t n;
    while ((n = read(*fd, &byte, 1)) < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 1) return 1;
    *fd = -1;
    return 0;
}

/* H0 after H2 exists: waits for it, watching P for hang-up, relaying a pty if there is one.
 * Returns H2's wait status, -2 when H2 detached (it outlives us), or -1 on error. monitor()
 * below restores the terminal whichever way this returns.
 * H2 that detached is never reaped here, even when it has ended already (a quick exec -d): its
 * exit status belongs to the caller's subreaper (containerd's shim), which gets it once H0 is
 * gone, as runc hands its process over before the exec. So an end of H2 is only peeked at
 * (WNOWAIT), then the detach pipe is read: H2 writes its byte before it can end, so a byte there
 * now means it detached, and none means it ended before detaching, and only then is it reaped. */
static int monitor_loop(pid_t child, int sfd, int kill_signal) {
    enum { SIG, CTRL, DETACH, RELAY, MASTER, INPUT, NFDS };
    struct pollfd fds[NFDS];
    for (int i = 0; i < NFDS; i++) fds[i] = (struct pollfd){ -1, POLLIN, 0 };
    fds[SIG].fd = sfd;
    fds[CTRL] = (struct pollfd){ CTRL_FD, POLLRDHUP, 0 };
    fds[DETACH].fd = detach_fd;
    fds[RELAY].fd = relay_fd;
    int master = -1;
    for (;;) {
        siginfo_t info;
        info.si_pid = 0;
        if (waitid(P_PID, (id_t)child, &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (info.si_pid == child) {
            int d = read_detach(&fds[DETACH].fd);
            if (d != 0) return d > 0 ? -2 : -1;
            int status;
            while (waitpid(child, &status, 0) < 0)
                if (errno != EINTR) return -1;
            if (master >= 0) while (copy_some(master, 1)) continue; /* the last output */
            return status;
        }
        if (poll(fds, NFDS, -1) < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        /* first: H2 that detached and then ended is the caller's to reap, not ours */
        if (fds[DETACH].revents) {
            int d = read_detach(&fds[DETACH].fd);
            if (d != 0) return d > 0 ? -2 : -1;
        }
        if (fds[CTRL].revents) {
            /* P hung up: honour --kill-child, then wait for the child alone */
            if (kill_signal > 0) kill(child, kill_signal);
            fds[CTRL].fd = -1;
        }
        if (fds[RELAY].revents) {
            master = receive_fd(relay_fd);
            fds[RELAY].fd = -1;
            if (master >= 0) {
                fds[MASTER].fd = master;
                fds[INPUT].fd = 0;
                if (isatty(0) && tcgetattr(0, &saved_tty) == 0) {
                    struct termios raw = saved_tty;
                    cfmakeraw(&raw);
                    if (tcsetattr(0, TCSANOW, &raw) == 0) tty_raw = 1;
                    if (tty_raw && !tty_atexit) tty_atexit = atexit(restore_tty) == 0; /* any exit of H0 */
                    resize_pty(master);
                }
            }
        }
        if (fds[MASTER].revents && !copy_some(master, 1)) fds[MASTER].fd = -1;
        if (fds[INPUT].revents && !copy_some(0, master)) fds[INPUT].fd = -1;
        if (fds[SIG].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == sizeof si)
                if (si.ssi_signo == SIGWINCH && master >= 0) resize_pty(master);
        }
    }
}

static int monitor(pid_t child, int sfd, int kill_signal) {
    int status = monitor_loop(child, sfd, kill_signal);
    int err = errno;
    restore_tty();
    errno = err;
    return status;
}

/* Like fork(), but into a cgroup v2 directory when cgroup_fd >= 0 (clone3 CLONE_INTO_CGROUP):
 * no write to cgroup.procs, which would wait for an RCU grace period. */
struct clone3_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};
#define CLONE_INTO_CGROUP_FLAG 0x200000000ULL

static pid_t fork_into(int cgroup_fd) {
    if (cgroup_fd < 0) return fork();
    struct clone3_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_INTO_CGROUP_FLAG;
    args.exit_signal = SIGCHLD;
    args.cgroup = (uint64_t)cgroup_fd;
    return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}

/* Namespaces made ahead (--ahead=FLAGS, docs/PROTOCOL.md "Namespaces made ahead"): at its start H0
 * forks a holder that unshares FLAGS (network, mount, uts, ipc: nothing in them depends on the
 * plan) while P builds the plan. At PLAN, H0 opens them (/proc/HOLDER/ns/...) for H1's UNSHARE to
 * join, if the plan says so and nothing they copied from H0's own has changed since (the mount
 * table, which /proc/self/mountinfo's poll tells; the host and domain names); the holder then
 * goes, and is reaped. Anything that fails here only means none are used: UNSHARE makes them. */
static struct {
    int flags, ready, hold, mounts;
    pid_t pid;
    int theirs; /* a holder bin/hako's front made for its spare (AHEAD): not H0's child */
    struct utsname uts;
} ahead = { .ready = -1, .hold = -1, .mounts = -1 };

/* fd moved out of the way (to 16 and up): the fds H0 makes for the plan are numbered as without */
static int out_of_the_way(int fd) {
    if (fd < 0) return -1;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 16);
    close(fd);
    return high;
}

static void ahead_start(int flags) {
    if (ahead.pid > 0) return;
    if (uname(&ahead.uts) < 0) return;
    /* opened before the holder copies the mount table: a change after it shows in its poll */
    ahead.mounts = out_of_the_way(open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
    if (ahead.mounts < 0) return;
    int ready, hold;
    pid_t pid = ahead_holder(flags, &ready, &hold);
    if (pid < 0) return;
    ready = out_of_the_way(ready);
    hold = out_of_the_way(hold);
    if (ready < 0 || hold < 0) {
        if (ready >= 0) close(ready);
        if (hold >= 0) close(hold);
        kill(pid, SIGKILL), waitpid(pid, NULL, 0);
        return;
    }
    ahead.flags = flags;
    ahead.pid = pid;
    ahead.ready = ready;
    ahead.hold = hold;
}

/* AHEAD (docs/SERVER.md "Namespaces made ahead for the spare"): bin/hako's front made FLAGS in
 * its holder PID, H0's sibling, after the command began, and is done making them; they are used
 * as H0's own holder's would be, without its checks (nothing was copied before the command). */
static int ahead_theirs(const struct frame *f) {
    struct fields c = { f->payload, f->payload + f->len };
    struct field fl;
    int64_t flags = 0, pid = 0;
    int r;
    while ((r = fields_next(&c, &fl)) == 1) {
        if ((fl.tag == T_FLAGS || fl.tag == T_PID) && fl.len != 8) r = -1;
        if (r < 0) break;
        if (fl.tag == T_FLAGS) flags = field_int(&fl);
        if (fl.tag == T_PID) pid = field_int(&fl);
    }
    if (r < 0 || flags <= 0 || (flags & ~(int64_t)AHEAD_KINDS) || pid <= 0 || pid > INT32_MAX) {
        report_error("decode", NULL, EPROTO, "malformed AHEAD");
        return -1;
    }
    if (ahead.pid > 0) return 0; /* has its own: the front's is killed at its exit */
    ahead.flags = (int)flags;
    ahead.pid = (pid_t)pid;
    ahead.theirs = 1;
    return 0;
}

/* The holder goes (killed if need be) and is reaped (the front reaps its own). */
static void ahead_drop(void) {
    if (ahead.hold >= 0) close(ahead.hold), ahead.hold = -1;
    if (ahead.ready >= 0) close(ahead.ready), ahead.ready = -1;
    if (ahead.mounts >= 0) close(ahead.mounts), ahead.mounts = -1;
    if (ahead.pid > 0) {
        kill(ahead.pid, SIGKILL); /* ends it at once if it was still making them */
        while (!ahead.theirs && waitpid(ahead.pid, NULL, 0) < 0 && errno == EINTR) continue;
        ahead.pid = 0;
        ahead.theirs = 0;
    }
}

/* At PLAN: the namespaces made ahead into ahead_ns, when use (the plan's FLAGS bit 2) and they are
 * still what H1 would make now; the holder goes either way. */
static void ahead_take(int use) {
    if (ahead.pid <= 0) return;
    int fresh = use && ahead.theirs;
    if (use && !ahead.theirs) { /* (else the holder is not waited for: it goes, unused) */
        int err = -1;
        ssize_t n;
        while ((n = read(ahead.ready, &err, sizeof err)) < 0 && errno == EINTR) continue;
        struct pollfd p = { ahead.mounts, POLLPRI, 0 };
        struct utsname now;
        fresh = n == sizeof err && err == 0 && poll(&p, 1, 0) == 0 && uname(&now) == 0 &&
                strcmp(now.nodename, ahead.uts.nodename) == 0 && strcmp(now.domainname, ahead.uts.domainname) == 0;
    }
    static const struct { int flag; const char *name; } kinds[AHEAD_NS] = {
        { CLONE_NEWNET, "net" }, { CLONE_NEWIPC, "ipc" }, { CLONE_NEWUTS, "uts" }, { CLONE_NEWNS, "mnt" }
    };
    for (int i = 0, k = 0; fresh && i < AHEAD_NS; i++) {
        if (!(ahead.flags & kinds[i].flag)) continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)ahead.pid, kinds[i].name);
        if ((ahead_ns[k++] = open(path, O_RDONLY | O_CLOEXEC)) < 0) fresh = 0;
    }
    if (fresh) ahead_flags = ahead.flags;
    else ahead_close();
    if (ahead.theirs) { /* opened, or of no use: it goes now */
        ahead_drop();
        return;
    }
    /* the holder ends at its pipe's EOF; H0 reaps it once H1 runs (ahead_drop), off the way */
    close(ahead.hold), ahead.hold = -1;
    close(ahead.ready), ahead.ready = -1;
    close(ahead.mounts), ahead.mounts = -1;
}

static int run_plan(struct frame *f) {
    struct fields plan = { f->payload, f->payload + f->len }, c = plan;
    struct field fl;
    int kill_signal = -1, use_ahead = 0, r;
    while ((r = fields_next(&c, &fl)) == 1) {
        if ((fl.tag == T_EXPLAIN || fl.tag == T_KILL_SIGNAL || fl.tag == T_FLAGS) && fl.len != 8) {
            char message[96];
            snprintf(message, sizeof message, "PLAN field %s is %u bytes, not an 8-byte integer", tag_name(fl.tag), fl.len);
            report_error("decode", NULL, EPROTO, message);
            return 1;
        }
        if (fl.tag == T_EXPLAIN) explain = field_int(&fl) != 0;
        if (fl.tag == T_KILL_SIGNAL) kill_signal = (int)field_int(&fl);
        if (fl.tag == T_FLAGS && (field_int(&fl) & 2)) use_ahead = 1;
        /* non-dumpable until the exec: no container process can open /proc/PID/exe of the
         * helper or ptrace it while it is inside (CVE-2019-5736) */
        if (fl.tag == T_FLAGS && (field_int(&fl) & 1) && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
            report_error("prctl", "PR_SET_DUMPABLE", errno, NULL);
            return 1;
        }
    }
    if (r < 0) {
        report_error("decode", NULL, EPROTO, "malformed plan");
        return 1;
    }
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigaddset(&chld, SIGWINCH);
    if (sigprocmask(SIG_BLOCK, &chld, &original_mask) < 0) {
        report_error("sigprocmask", NULL, errno, NULL);
        return 1;
    }
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    int pid_pipe[2];
    if (sfd < 0 || pipe2(pid_pipe, O_CLOEXEC) < 0) {
        report_error(sfd < 0 ? "signalfd" : "pipe2", NULL, errno, NULL);
        return 1;
    }
    /* the host's ops (the cgroup's directories and files) first: the holder makes the namespaces
     * meanwhile, and a mount they made is seen by ahead_take's poll (then its copies go unused) */
    if (run_ops(plan, T_HOST_OP) < 0) {
        ahead_drop();
        send_exited(1 << 8);
        return 1;
    }
    ahead_take(use_ahead);
    pid_t h0 = getpid();
    /* a cgroup directory kept in CGROUP_SLOT by a host op: H1 is forked straight into it */
    pid_t h1 = fork_into(slots[CGROUP_SLOT]);
    if (h1 < 0) {
        report_error(slots[CGROUP_SLOT] >= 0 ? "clone3" : "fork", slots[CGROUP_SLOT] >= 0 ? "CLONE_INTO_CGROUP" : NULL, errno, NULL);
        return 1;
    }
    if (h1 == 0) {
        close(pid_pipe[0]);
        close(sfd);
        stage_ns(plan, pid_pipe[1], kill_signal, h0);
    }
    close(pid_pipe[1]);
    if (exec_fd >= 0) close(exec_fd), exec_fd = -1; /* H2's alone: its EOF is H2's exec */
    for (int i = 0; i < MAX_SLOTS; i++) /* H1 and H2 have their copies */
        if (slots[i] >= 0) close(slots[i]), slots[i] = -1;
    ahead_close(); /* H1's */
    ahead_drop();
    int status;
    while (waitpid(h1, &status, 0) < 0)
        if (errno != EINTR) {
            report_error("waitpid", NULL, errno, NULL);
            return 1;
        }
    int32_t child = 0;
    ssize_t got;
    while ((got = read(pid_pipe[0], &child, sizeof child)) < 0 && errno == EINTR) continue;
    close(pid_pipe[0]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != sizeof child || child <= 0) {
        /* a stage that exits 1 sent its ERROR; anything else is told here */
        if (WIFSIGNALED(status)) report_error("wait", NULL, 0, strsignal(WTERMSIG(status)));
        else if (WEXITSTATUS(status) == 0) report_error("read", "pid pipe", EPROTO, "the namespace stage ended without the init's pid");
        else if (WEXITSTATUS(status) != 1) report_error("wait", NULL, 0, "the namespace stage exited with an unexpected status");
        send_exited(WIFSIGNALED(status) ? status : 1 << 8);
        return 1;
    }
    status = monitor(child, sfd, kill_signal);
    if (status == -2) return 0; /* detached: H2 goes on without us */
    if (status < 0) {
        report_error("waitpid", NULL, errno, NULL);
        kill(child, SIGKILL);
        return 1;
    }
    send_exited(status);
    return 0;
}

/* NSINFO: inode, type, owning user namespace and parent of each namespace file. */
static int ns_inode(int fd, unsigned long req, int64_t *out) {
    int nfd = ioctl(fd, req);
    if (nfd < 0) return -1;
    struct stat st;
    int r = fstat(nfd, &st);
    close(nfd);
    if (r == 0) *out = (int64_t)st.st_ino;
    return r;
}

static int nsinfo(struct frame *f) {
    struct fields c = { f->payload, f->payload + f->len };
    struct field fl;
    int r;
    _cleanup_out_ struct out o;
    out_begin(&o);
    while ((r = fields_next(&c, &fl)) == 1) {
        if (fl.tag != T_PATH) continue;
        if (memchr(fl.value, 0, fl.len)) {
            report_error("nsinfo", NULL, EPROTO, "field PATH contains a NUL byte");
            return 1;
        }
        _cleanup_free_ char *path = field_str(&fl);
        size_t mark = out_open(&o, T_ENTRY);
        out_str(&o, T_PATH, path);
        _cleanup_fd_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            out_int(&o, T_ERRNO, errno);
        } else {
            int64_t owner = 0, parent = 0;
            int type = ioctl(fd, NS_GET_NSTYPE);
            out_int(&o, T_INODE, (int64_t)st.st_ino);
            if (type >= 0) out_int(&o, T_NSTYPE, type);
            if (ns_inode(fd, NS_GET_USERNS, &owner) == 0) out_int(&o, T_OWNER, owner);
            if (ns_inode(fd, NS_GET_PARENT, &parent) == 0) out_int(&o, T_PARENT, parent);
        }
        out_close(&o, mark);
        if (o.overflow) break; /* out_send says so */
    }
    if (r < 0) {
        report_error("nsinfo", NULL, EPROTO, "malformed field list (a length past its end)");
        return 1;
    }
    return out_send(CTRL_FD, &o, MSG_NSINFO_RESULT, f->seq) < 0 ? 1 : 0;
}

/* Reads the file behind an O_PATH fd, reopened through /proc/self/fd (the very file that was
 * checked), up to max bytes. Returns 0 or an errno (EFBIG: longer than max). */
static int read_whole(int fd, size_t max, char **data, size_t *got) {
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    _cleanup_fd_ int rfd = open(self, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (rfd < 0) return errno;
    *data = malloc(max + 1);
    int err = *data ? 0 : ENOMEM;
    while (!err && *got <= max) {
        ssize_t n = read(rfd, *data + *got, max + 1 - *got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) err = errno;
        if (n <= 0) break;
        *got += (size_t)n;
    }
    return !err && *got > max ? EFBIG : err;
}

/* READ_IN_ROOT: a file of a container, resolved inside its root, never through the host's. Only
 * a regular file is read (opening a device could do something); P decides what the rest means. */
static int read_in_root(struct frame *f) {
    struct fields c = { f->payload, f->payload + f->len };
    struct field fl;
    _cleanup_free_ char *root = NULL;
    _cleanup_free_ char *path = NULL;
    size_t max = MAX_PAYLOAD - 64;
    int r;
    while ((r = fields_next(&c, &fl)) == 1) {
        if ((fl.tag == T_SOURCE || fl.tag == T_PATH) && memchr(fl.value, 0, fl.len)) {
            report_error("read-in-root", NULL, EPROTO, fl.tag == T_PATH ? "field PATH contains a NUL byte" : "field SOURCE contains a NUL byte");
            return 1;
        }
        if (fl.tag == T_VALUE && fl.len != 8) {
            report_error("read-in-root", NULL, EPROTO, "field VALUE is not an 8-byte integer");
            return 1;
        }
        if (fl.tag == T_SOURCE && !root) root = field_str(&fl);
        if (fl.tag == T_PATH && !path) path = field_str(&fl);
        if (fl.tag == T_VALUE && field_int(&fl) >= 0 && (uint64_t)field_int(&fl) < max) max = (size_t)field_int(&fl);
    }
    if (r < 0 || !root || !path) {
        report_error("read-in-root", NULL, EPROTO, r < 0 ? "malformed field list (a length past its end)" : !root ? "READ_IN_ROOT needs field SOURCE" : "READ_IN_ROOT needs field PATH");
        return 1;
    }
    _cleanup_fd_ int dir = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        report_error("open", root, errno, NULL);
        return 1;
    }
    _cleanup_out_ struct out o;
    out_begin(&o);
    _cleanup_free_ char *data = NULL;
    size_t got = 0;
    int err = 0;
    struct stat st;
    _cleanup_fd_ int fd = open_in_root(dir, path, O_PATH);
    if (fd < 0 || fstat(fd, &st) < 0) {
        err = errno;
    } else {
        out_int(&o, T_TYPE, st.st_mode & S_IFMT);
        if (S_ISREG(st.st_mode)) err = read_whole(fd, max, &data, &got);
    }
    if (err) out_int(&o, T_ERRNO, err);
    r = data && !err ? out_send_tail(CTRL_FD, &o, MSG_READ_RESULT, f->seq, T_DATA, data, got)
                     : out_send(CTRL_FD, &o, MSG_READ_RESULT, f->seq);
    return r < 0 ? 1 : 0;
}

/* H0's life once its fds are in place (stdio, the control socket ctrl, the exec socket execfd or
 * -1): after the exec of hako-helper, or in a child the zygote forked (zygote.c). */
static int session_loop(void);

int helper_session(int ctrl, int execfd, int ahead_want) {
    ctrl_fd = ctrl;
    exec_fd = execfd;
    if (ctrl_fd < 3 || fcntl(CTRL_FD, F_GETFD) < 0) {
        fputs("hako-helper: fd 3 is not open: this program is run by hako, not by hand\n", stderr);
        return 2;
    }
    /* nothing of the caller's but what the protocol passes (stdio, preserved fds 3..N-1, the
     * control socket N, --exec-fd): a stray fd must reach neither hooks nor the container */
    if (close_fds_from((ctrl_fd > exec_fd ? ctrl_fd : exec_fd) + 1) < 0) {
        report_error("close_range", NULL, errno, NULL);
        return 2;
    }
    /* the command never inherits these */
    if (fcntl(CTRL_FD, F_SETFD, FD_CLOEXEC) < 0 || (exec_fd >= 0 && fcntl(exec_fd, F_SETFD, FD_CLOEXEC) < 0)) {
        report_error("fcntl", exec_fd >= 0 ? "--exec-fd" : NULL, errno, NULL);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (ahead_want) ahead_start(ahead_want);
    int r = session_loop();
    ahead_drop(); /* a PLAN took it already; else not of use */
    return r;
}

static int session_loop(void) {
    /* READ_IN_ROOT requests may come first, each answered, on the socket the plan then comes on:
     * P starts the helper before it has built the plan (docs/PROTOCOL.md) */
    for (int answered = 0;;) {
        struct frame f;
        int r = frame_read(CTRL_FD, &f);
        if (r == 0 && answered > 0) return 0; /* P needed no plan after all */
        if (r == 0) return 2;                  /* P hung up before any request: nobody to tell */
        if (r < 0) {                           /* a broken frame: said, if P still listens */
            report_error("read", NULL, errno, errno == EMSGSIZE ? "a frame longer than 1 MiB" : "a truncated frame");
            return 2;
        }
        _cleanup_free_ unsigned char *payload = f.payload;
        switch (f.type) {
        case MSG_PLAN: return run_plan(&f);
        case MSG_NSINFO: return nsinfo(&f);
        case MSG_OOM_WATCH: return oom_watch(&f);
        case MSG_READ_IN_ROOT:
            if (read_in_root(&f) != 0) return 1;
            answered++;
            continue;
        case MSG_AHEAD: /* from bin/hako's front, not P: its spare's namespaces made ahead */
            if (ahead_theirs(&f) != 0) return 2;
            continue;
        default: {
            char message[96];
            snprintf(message, sizeof message, "unexpected message (type %u) before the plan", f.type);
            report_error("read", NULL, EPROTO, message);
            return 2;
        }
        }
    }
}

