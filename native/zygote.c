/* hako-helper --zygote: one resident helper per Runtime (docs/PROTOCOL.md, "The zygote"). Node
 * starts it with an IPC channel (NODE_CHANNEL_FD, JSON lines) and asks it for helpers; it forks
 * each H0 (no spawn, exec or dynamic linking per container), makes its stdio and control sockets
 * and passes Node's ends back as handles (SCM_RIGHTS), reaps it and says how it ended. It decides
 * nothing: what each H0 gets is in the request. Single-threaded; it exits when Node hangs up.
 *
 * Node -> zygote, each a JSON string on its own line:
 *   "F ID KINDS EXEC AHEAD"  fork an H0: KINDS is 3 letters for fds 0-2 (i: the zygote's own fd,
 *                      which is Node's; n: /dev/null; p: a socket), EXEC 1 for an exec socket at
 *                      fd 4, AHEAD its --ahead (0: none)
 *   "K PID SIG"        send SIG to PID if it is still an H0 of ours (not yet reaped)
 * zygote -> Node:
 *   "P ID PID"         the H0 for ID runs; "E ID ERRNO": it could not be made
 *   {"cmd":"NODE_HANDLE","type":"net.Socket","msg":"S ID SLOT"} with Node's end of slot SLOT
 *                      (0-2 stdio, 3 control, 4 exec) in SCM_RIGHTS, one per line, after P, the
 *                      control socket first; each waits for node's {"cmd":"NODE_HANDLE_ACK"} of the last
 *   "X PID STATUS"     an H0 ended (its wait status) */
#define _GNU_SOURCE
#include "op.h"
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>


static int chan = -1, devnull = -1;

/* One line to Node, with fd (>= 0) in SCM_RIGHTS. -1 when Node is gone. */
static int send_line(const char *line, int fd) {
    size_t len = strlen(line), done = 0;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    memset(&u, 0, sizeof u);
    while (done < len) {
        struct iovec iov = { (void *)(line + done), len - done };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (fd >= 0 && done == 0) {
            m.msg_control = u.buf;
            m.msg_controllen = sizeof u.buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &fd, sizeof fd);
        }
        ssize_t n = sendmsg(chan, &m, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        done += (size_t)n;
    }
    return 0;
}

/* What goes to Node, in order. A handle waits for node's NODE_HANDLE_ACK of the one before, as
 * node's own sender does: node takes the fd a read brings for the next NODE_HANDLE line it
 * parses, which is only right with one handle in flight. */
struct msg {
    char line[96];
    int fd;
};
static struct msg *outbox;
static size_t out_head, out_len, out_cap;
static int awaiting_ack;

/* Queues a line (and its fd, now the outbox's to close). -1 when out of memory. */
static int queue(const char *line, int fd) {
    if (out_head + out_len == out_cap && out_head > 0) {
        memmove(outbox, outbox + out_head, out_len * sizeof *outbox);
        out_head = 0;
    }
    if (out_len == out_cap) {
        size_t cap = out_cap ? out_cap * 2 : 64;
        struct msg *grown = realloc(outbox, cap * sizeof *outbox);
        if (!grown) {
            if (fd >= 0) close(fd);
            return -1;
        }
        outbox = grown;
        out_cap = cap;
    }
    struct msg *m = &outbox[out_head + out_len++];
    snprintf(m->line, sizeof m->line, "%s", line);
    m->fd = fd;
    return 0;
}

/* Sends what the outbox holds, up to a handle whose ACK has not come. -1 when Node is gone. */
static int flush(void) {
    while (out_len > 0 && !awaiting_ack) {
        struct msg *m = &outbox[out_head];
        int r = send_line(m->line, m->fd);
        if (m->fd >= 0) {
            close(m->fd);
            awaiting_ack = 1;
        }
        out_head++;
        out_len--;
        if (r < 0) return -1;
    }
    if (out_len == 0) out_head = 0;
    return 0;
}

/* The forked H0: its fds in place as a spawn of hako-helper would have them, the signal state
 * a fresh process has, then the helper's own code. */
static _Noreturn void become_helper(const char *kinds, const int *theirs, int want_exec, int ahead) {
    sigset_t none;
    sigemptyset(&none);
    if (signal(SIGPIPE, SIG_DFL) == SIG_ERR || signal(SIGINT, SIG_DFL) == SIG_ERR || signal(SIGQUIT, SIG_DFL) == SIG_ERR ||
        sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        _exit(127);
    /* every source is above 4 (fds 3 and 4 are held from the start): no dup2 clobbers another */
    for (int i = 0; i < 3; i++) {
        int from = kinds[i] == 'p' ? theirs[i] : kinds[i] == 'n' ? devnull : -1;
        if (from >= 0 && dup2(from, i) < 0) _exit(127);
    }
    if (dup2(theirs[3], 3) < 0 || (want_exec && dup2(theirs[4], 4) < 0)) _exit(127);
    exit(helper_session(3, want_exec ? 4 : -1, ahead)); /* exit: H0's atexit (the terminal) runs */
}

static int fork_request(const char *req) {
    unsigned long id;
    char kinds[4] = "";
    int want_exec, ahead, used = 0;
    if (sscanf(req, "F %lu %3[inp] %d %d%n", &id, kinds, &want_exec, &ahead, &used) != 4 || strlen(kinds) != 3 ||
        (want_exec != 0 && want_exec != 1) || ahead < 0 || req[used] != 0)
        return -1;
    int ours[5] = { -1, -1, -1, -1, -1 }, theirs[5] = { -1, -1, -1, -1, -1 };
    int err = 0;
    for (int i = 0; i < 5 && !err; i++) {
        if ((i < 3 && kinds[i] != 'p') || (i == 4 && !want_exec)) continue;
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) err = errno;
        else ours[i] = sp[0], theirs[i] = sp[1];
    }
    pid_t pid = err ? -1 : fork();
    if (pid < 0 && !err) err = errno;
    if (pid == 0) become_helper(kinds, theirs, want_exec, ahead);
    for (int i = 0; i < 5; i++)
        if (theirs[i] >= 0) close(theirs[i]);
    /* the pid first, then the control socket: Node's requests to the helper wait for it */
    static const int order[5] = { 3, 4, 0, 1, 2 };
    char line[96];
    if (err) snprintf(line, sizeof line, "\"E %lu %d\"\n", id, err);
    else snprintf(line, sizeof line, "\"P %lu %d\"\n", id, (int)pid);
    int r = queue(line, -1);
    for (int k = 0; k < 5; k++) {
        int i = order[k];
        if (ours[i] < 0) continue;
        if (err || r < 0) {
            close(ours[i]);
            continue;
        }
        snprintf(line, sizeof line, "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":\"S %lu %d\"}\n", id, i);
        r = queue(line, ours[i]);
    }
    return r < 0 ? -1 : flush();
}

static int kill_request(const char *req) {
    int pid, sig, used = 0;
    if (sscanf(req, "K %d %d%n", &pid, &sig, &used) != 2 || req[used] != 0 || pid <= 0) return -1;
    /* only an H0 not yet reaped: its pid cannot have been reused */
    siginfo_t info;
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0) kill(pid, sig);
    return 0;
}

/* One line from Node: a request of ours (a JSON string) or node's own (an object: the handles'
 * NODE_HANDLE_ACK), which needs nothing. -1 on a line that is neither. */
static int handle_line(char *line) {
    size_t len = strlen(line);
    /* a NACK (node got the line without its fd) leaves that helper without a socket: Node's
     * time limit for it ends it; the next messages go on */
    if (strcmp(line, "{\"cmd\":\"NODE_HANDLE_ACK\"}") == 0 || strcmp(line, "{\"cmd\":\"NODE_HANDLE_NACK\"}") == 0) {
        awaiting_ack = 0;
        return flush();
    }
    if (len > 0 && line[0] == '{') return 0;
    if (len < 3 || line[0] != '"' || line[len - 1] != '"') return -1;
    line[len - 1] = 0;
    if (line[1] == 'F') return fork_request(line + 1);
    if (line[1] == 'K') return kill_request(line + 1);
    return -1;
}

static int reap(void) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR) continue;
        if (pid <= 0) return 0;
        char line[64];
        snprintf(line, sizeof line, "\"X %d %d\"\n", (int)pid, status);
        if (queue(line, -1) < 0) return -1;
        if (flush() < 0) return -1;
    }
}

int zygote_main(void) {
    const char *fdvar = getenv("NODE_CHANNEL_FD"), *mode = getenv("NODE_CHANNEL_SERIALIZATION_MODE");
    int fd = fdvar ? atoi(fdvar) : -1;
    if (fd < 3 || fcntl(fd, F_GETFD) < 0 || (mode && strcmp(mode, "json") != 0)) {
        fputs("hako-helper: --zygote is run by hako over a node IPC channel, not by hand\n", stderr);
        return 2;
    }
    /* the channel and /dev/null sit at 10 and up; nothing else of Node's stays open; fds 3 and 4
     * are held (by /dev/null) so that every socket made later is above what an H0 gets */
    chan = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    devnull = null >= 0 ? fcntl(null, F_DUPFD_CLOEXEC, 10) : -1;
    if (chan < 0 || devnull < 0) return 2;
    /* blocking: a line goes whole, however long Node takes to read (it never waits for us) */
    int flags = fcntl(chan, F_GETFL);
    if (flags < 0 || fcntl(chan, F_SETFL, flags & ~O_NONBLOCK) < 0) return 2;
    for (int i = 3; i < 10; i++) close(i); /* EBADF for most: Node passed 0-2 and the channel */
    if (open("/dev/null", O_RDONLY) != 3 || open("/dev/null", O_RDONLY) != 4) return 2;
    if (clearenv() != 0) return 2; /* H0 gets the empty environment a spawn gives it */
    /* a terminal's ^C or ^\ reaches Node's process group, which this is in (as its H0s and their
     * containers are): they are for those (a Node that handles them goes on, and so does this) */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGINT, SIG_IGN) == SIG_ERR || signal(SIGQUIT, SIG_IGN) == SIG_ERR) return 2;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0) return 2;
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) return 2;
    char buf[4096];
    size_t have = 0;
    for (;;) {
        struct pollfd p[2] = { { chan, POLLIN, 0 }, { sfd, POLLIN, 0 } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return 2;
        }
        if (p[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == sizeof si) continue;
            if (reap() < 0) return 0; /* Node is gone */
        }
        if (!p[0].revents) continue;
        ssize_t n = read(chan, buf + have, sizeof buf - 1 - have);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return 0; /* Node hung up (it exited): the H0s go on alone, as they would */
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
            *nl = 0;
            if (handle_line(line) < 0) return 2;
            line = nl + 1;
        }
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
        if (have == sizeof buf - 1) return 2; /* a line longer than any request */
    }
}
