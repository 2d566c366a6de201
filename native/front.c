/* hako-helper --front START_CJS ARGS...: bin/hako's native front (docs/SERVER.md); bin/hako, a link
 * to the helper, runs it with the package's start.cjs (main.c).
 *
 * If a `hako serve` of this user answers on its socket, the command runs there: the front sends
 * its argv, cwd and environment, writes what the server says the command printed, and spawns the
 * helpers (H0) the server asks for as its own children, so the container's processes stay
 * descendants of the caller. Their control sockets are relayed byte for byte. Otherwise (no
 * server, a socket of another user, another build, other namespaces) it execs `node START_CJS
 * ARGS...`, as a CLI written in Node would start. The front decides nothing: the server does. */
#define _GNU_SOURCE
#include "op.h"
#include "proto.h"
#include "sealed.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The front's messages (docs/SERVER.md); the TypeScript side is src/helper/remote.ts. */
enum {
    F_HELLO = 64, F_REFUSE = 65, F_OUT = 66, F_SPAWN = 67, F_SPAWNED = 68, F_DATA = 69, F_EOF = 70,
    F_KILL = 71, F_CHILD_EXIT = 72, F_SIGNAL = 73, F_EXIT = 74, F_STDIN = 75, F_AHEAD = 76,
};
#define FRONT_PROTOCOL 2
#define MAX_CHANNELS 64
#define MAX_CHILDREN 16
#define HIGH_FD 100 /* the front's own fds: above the caller's preserved fds */

/* The signals Node's CLI handles (src/cli/common.ts signalsToForward, events): relayed. */
static const int relayed[] = { SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, SIGINT, SIGQUIT };

struct channel { int id, fd, reading, writing; };
struct child { int id; pid_t pid; };
static struct channel channels[MAX_CHANNELS];
static struct child children[MAX_CHILDREN];
static int server = -1;

/* The spare: a helper forked and exec'd (sealed) while the server still works out the command,
 * with the layout the first SPAWN of the commands that run one asks for (this program, --sealed,
 * no environment, the caller's stdio, a control socket, no preserved fds). A SPAWN that asks for
 * exactly that gets it; another SPAWN, a REFUSE or the EXIT kills and reaps it first. It only
 * saves the time of the fork and exec: the helper, the same program with the same arguments and
 * fds, waits for its plan either way. */
static struct { pid_t pid; int ctrl, failed; char *path; } spare = { 0, -1, -1, NULL };

/* Namespaces made ahead for the spare (docs/SERVER.md): at the server's AHEAD, the holder, a fork of
 * the front (it executes nothing, and is in no namespace of the command's but these), unshares
 * them while the server works out the command. When the spare is taken, the front waits until
 * they are made and names the holder to the spare (the helper's AHEAD message); its H0 opens them
 * for the command, or not, and kills the holder; the front reaps it, or kills it at its exit. */
static struct { pid_t pid; int ready, hold, flags; } holder = { 0, -1, -1, 0 };

_Noreturn void front_fall_back(char **argv) {
    /* argv[0] is "--front"'s program, argv[1] "--front", argv[2] start.cjs: node start.cjs ARGS */
    argv[1] = "node";
    execvp("node", argv + 1);
    fprintf(stderr, "hako: cannot run node: %s\n", strerror(errno));
    _exit(127);
}

/* The index of the command word in argv (after hako's global options), or argc; *root is set to
 * the value of a --root among them. */
static int command_word(int argc, char **argv, const char **root) {
    int i = 3;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) *root = argv[++i];
        else if (strncmp(argv[i], "--root=", 7) == 0) *root = argv[i] + 7;
        else if (!strcmp(argv[i], "--log") || !strcmp(argv[i], "--log-format") || !strcmp(argv[i], "--rootless") || !strcmp(argv[i], "--criu")) i++;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "--version")) break;
    }
    return i;
}

/* The socket: $HAKO_SOCKET, else <root>/hako.sock for a --root (root) before the command word
 * (argv[word]), else the default root (src/runtime/rootless.ts defaultStateRoot, simply). NULL:
 * no server for this. */
static char *socket_path(int argc, char **argv, int word, const char *root) {
    const char *env = getenv("HAKO_SOCKET");
    if (word < argc && strcmp(argv[word], "serve") == 0) return NULL; /* the server itself runs in Node */
    char *path = NULL;
    if (env) return *env ? strdup(env) : NULL;
    if (!root) {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (geteuid() == 0 || !xdg || !*xdg) root = "/run/hako";
        else if (asprintf(&path, "%s/hako/hako.sock", xdg) < 0) return NULL;
        if (path) return path;
    }
    if (asprintf(&path, "%s/hako.sock", root) < 0) return NULL;
    return path;
}

/* The build the server must have loaded: the identity of the CLI bundle beside start.cjs. */
static char *bundle_identity(const char *start) {
    char *file = NULL, *id = NULL;
    const char *slash = strrchr(start, '/');
    int dir = slash ? (int)(slash - start) : 1;
    if (asprintf(&file, "%.*s/../dist/cli/hako.cjs", dir, slash ? start : ".") < 0) return NULL;
    struct stat st;
    int r = stat(file, &st);
    free(file);
    if (r < 0) return NULL;
    if (asprintf(&id, "%lu:%lu:%lld:%lld.%09ld", (unsigned long)st.st_dev, (unsigned long)st.st_ino, (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec) < 0) return NULL;
    return id;
}

/* The namespaces the front is in: the server runs a command only in the same ones. */
static void namespaces(char *buf, size_t size) {
    static const char *const names[] = { "user", "mnt", "pid", "net", "uts", "ipc", "cgroup" };
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && at < size; i++) {
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
        unsigned long ino = stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
        at += (size_t)snprintf(buf + at, size - at, "%s%s:%lu", i ? "," : "", names[i], ino);
    }
}

static int connect_server(const char *path) {
    struct stat st;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof addr.sun_path) return -1;
    /* only this user's server: another user's could run anything as them */
    if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) return -1;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    int high = fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);
    close(fd);
    return high;
}

static int send_hello(int argc, char **argv, const char *identity) {
    char ns[512], cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    namespaces(ns, sizeof ns);
    mode_t mask = umask(0);
    umask(mask);
    _cleanup_out_ struct out o;
    out_begin(&o);
    out_int(&o, T_VALUE, FRONT_PROTOCOL);
    out_str(&o, T_NAME, identity);
    out_str(&o, T_DETAIL, ns);
    out_str(&o, T_PATH, cwd);
    out_int(&o, T_MODE, mask);
    out_int(&o, T_PID, getpid());
    /* 8: fd 0 holds data to read (a pipe, a file or a socket), as `hako sandbox run` asks of it */
    struct stat in;
    int data = fstat(0, &in) == 0 && (S_ISFIFO(in.st_mode) || S_ISREG(in.st_mode) || S_ISSOCK(in.st_mode));
    out_int(&o, T_FLAGS, (isatty(0) ? 1 : 0) | (isatty(1) ? 2 : 0) | (isatty(2) ? 4 : 0) | (data ? 8 : 0));
    for (int i = 3; i < argc; i++) out_str(&o, T_ARG, argv[i]);
    for (char **e = environ; *e; e++) out_str(&o, T_ENV, *e);
    return out_send(server, &o, F_HELLO, 1);
}

static void send_ints(uint16_t type, uint16_t t1, int64_t v1, uint16_t t2, int64_t v2) {
    _cleanup_out_ struct out o;
    out_begin(&o);
    out_int(&o, t1, v1);
    if (t2) out_int(&o, t2, v2);
    out_send(server, &o, type, 0);
}

static void write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* a closed stdout: dropped, as Node's EPIPE */
        p += w;
        n -= (size_t)w;
    }
}

static struct channel *channel_of(int id) {
    for (int i = 0; i < MAX_CHANNELS; i++)
        if (channels[i].fd >= 0 && channels[i].id == id) return &channels[i];
    return NULL;
}

static void channel_done(struct channel *c) {
    if (c->reading || c->writing) return;
    close(c->fd);
    c->fd = -1;
}

/* Whether path is the file this process runs (its device and inode). */
static int same_program(const char *path) {
    struct stat a, b;
    return stat(path, &a) == 0 && stat("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* In the child of a fork: lay out the fds as node's spawn would (stdio, the caller's fds 3..3+N-1,
 * then the relayed sockets' ends), signals reset, and exec; a failure's errno goes to report. */
_Noreturn static void exec_child(char *path, char **args, char **envs, int preserve, int nslots, const int *slots, const int *ends, int report) {
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int top = 3 + preserve + nslots;
    int src[8];
    for (int i = 0; i < nslots; i++) {
        int target = i < 3 ? i : 3 + preserve + (i - 3);
        int from = slots[i] > 0 ? ends[i] : slots[i] == -2 ? open("/dev/null", O_RDWR | O_CLOEXEC) : target;
        /* inherit: the caller's own fd, at its own number; others moved above every target first */
        src[i] = slots[i] == -1 && i < 3 ? -1 : fcntl(from, F_DUPFD_CLOEXEC, top);
        if (slots[i] != -1 && src[i] < 0) goto failed;
        if (slots[i] == -1 && i >= 3) goto failed; /* only stdio can be inherited */
    }
    for (int fd = 3; fd < 3 + preserve; fd++) /* the caller's, passed on as node's spawn does */
        if (fcntl(fd, F_SETFD, 0) < 0) goto failed;
    for (int i = 0; i < nslots; i++) {
        int target = i < 3 ? i : 3 + preserve + (i - 3);
        if (src[i] >= 0 && dup2(src[i], target) < 0) goto failed;
        if (src[i] < 0 && fcntl(target, F_SETFD, 0) < 0 && errno != EBADF) goto failed;
    }
    /* this program itself, to run sealed (the helpers hako spawns): the sealed copy is made
     * here and executed, rather than executing the file to have it make the copy */
    if (args[0] && args[1] && strcmp(args[1], "--sealed") == 0 && same_program(path)) {
        environ = envs;
        reexec_sealed(args); /* returns only if it failed: then as any other program */
    }
    execve(path, args, envs);
failed:;
    int e = errno;
    while (write(report, &e, sizeof e) < 0 && errno == EINTR) continue;
    _exit(127);
}

/* Waits for the exec of child pid (its end of the close-on-exec pipe closed): 0, or the errno
 * its exec failed with (the child is reaped then). Closes the pipe. */
static int exec_outcome(pid_t pid, int pipe_in) {
    int e = 0;
    ssize_t r;
    while ((r = read(pipe_in, &e, sizeof e)) < 0 && errno == EINTR) continue;
    close(pipe_in);
    if (r != sizeof e) return 0;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) continue;
    return e ? e : EIO;
}

/* The spare's layout (see spare): forked now, its exec not waited for. */
static void spare_start(void) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1) return;
    self[n] = 0;
    int sv[2], pipefd[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return;
    int mine = fcntl(sv[0], F_DUPFD_CLOEXEC, HIGH_FD), end = fcntl(sv[1], F_DUPFD_CLOEXEC, HIGH_FD);
    close(sv[0]);
    close(sv[1]);
    char *path = strdup(self);
    if (mine < 0 || end < 0 || !path || pipe2(pipefd, O_CLOEXEC) < 0) goto undo;
    int high = fcntl(pipefd[0], F_DUPFD_CLOEXEC, HIGH_FD);
    close(pipefd[0]);
    pipefd[0] = high;
    pid_t pid = high < 0 ? -1 : fork();
    if (pid == 0) {
        static const int slots[4] = { -1, -1, -1, 1 };
        const int ends[4] = { -1, -1, -1, end };
        char *args[] = { path, "--sealed", NULL }, *envs[] = { NULL };
        exec_child(path, args, envs, 0, 4, slots, ends, pipefd[1]);
    }
    close(pipefd[1]);
    close(end);
    if (pid < 0) {
        if (pipefd[0] >= 0) close(pipefd[0]);
        close(mine);
        free(path);
        return;
    }
    spare.pid = pid;
    spare.ctrl = mine;
    spare.failed = pipefd[0];
    spare.path = path;
    return;
undo:
    if (mine >= 0) close(mine);
    if (end >= 0) close(end);
    free(path);
}

static void holder_start(int flags) {
    if (holder.pid > 0 || spare.pid <= 0 || flags <= 0 || (flags & ~AHEAD_KINDS)) return;
    int ready, hold;
    pid_t pid = ahead_holder(flags, &ready, &hold);
    if (pid < 0) return;
    holder.pid = pid;
    holder.ready = ready;
    holder.hold = hold;
    holder.flags = flags;
}

/* The holder goes (killed if need be) and is reaped. */
static void holder_drop(void) {
    if (holder.ready >= 0) close(holder.ready), holder.ready = -1;
    if (holder.hold >= 0) close(holder.hold), holder.hold = -1;
    if (holder.pid > 0) {
        kill(holder.pid, SIGKILL);
        while (waitpid(holder.pid, NULL, 0) < 0 && errno == EINTR) continue;
        holder.pid = 0;
    }
}

/* The spare is taken, with its control socket ctrl: once the holder has made them, the spare is
 * told where its namespaces are, before anything of the server's reaches it. */
static void holder_offer(int ctrl) {
    if (holder.pid <= 0 || holder.ready < 0) return;
    int err = -1;
    ssize_t n;
    while ((n = read(holder.ready, &err, sizeof err)) < 0 && errno == EINTR) continue;
    close(holder.ready), holder.ready = -1;
    _cleanup_out_ struct out o;
    out_begin(&o);
    out_int(&o, T_FLAGS, holder.flags);
    out_int(&o, T_PID, holder.pid);
    if (n != sizeof err || err != 0 || out_send(ctrl, &o, MSG_AHEAD, 0) < 0) holder_drop();
}

/* The spare unused: killed and reaped (also when SIGCHLD's reap() saw it end first: pid 0). */
static void spare_drop(void) {
    if (spare.pid > 0) holder_drop(); /* made for it */
    if (spare.pid > 0) {
        kill(spare.pid, SIGKILL);
        while (waitpid(spare.pid, NULL, 0) < 0 && errno == EINTR) continue;
    }
    if (spare.ctrl >= 0) close(spare.ctrl);
    if (spare.failed >= 0) close(spare.failed);
    free(spare.path);
    spare.pid = 0;
    spare.ctrl = spare.failed = -1;
    spare.path = NULL;
}

/* Whether a SPAWN asks for exactly the spare's layout; then the spare is child k, with its control
 * socket as channel slots[3], and 1 is returned. */
static int spare_take(int id, int k, const char *path, char **args, int nargs, int nenv, int preserve, const int *slots, int nslots) {
    if (spare.pid <= 0 || k < 0 || strcmp(path, spare.path) != 0 || nargs != 2 || !args[0] || !args[1] || strcmp(args[0], spare.path) != 0 ||
        strcmp(args[1], "--sealed") != 0 || nenv != 0 || preserve != 0 || nslots != 4 || slots[0] != -1 || slots[1] != -1 ||
        slots[2] != -1 || slots[3] <= 0 || channel_of(slots[3]))
        return 0;
    int free_slot = -1;
    for (int j = 0; j < MAX_CHANNELS; j++)
        if (channels[j].fd < 0) { free_slot = j; break; }
    if (free_slot < 0) return 0;
    int failed = spare.failed;
    spare.failed = -1;
    if (exec_outcome(spare.pid, failed) != 0) { /* reaped: the SPAWN is done as any other */
        spare.pid = 0;
        return 0;
    }
    children[k] = (struct child){ id, spare.pid };
    channels[free_slot] = (struct channel){ slots[3], spare.ctrl, 1, 1 };
    holder_offer(spare.ctrl);
    spare.pid = 0;
    spare.ctrl = -1;
    spare_drop();
    return 1;
}

/* SPAWN: fork a helper with its fds laid out as node's spawn would (stdio, the caller's fds
 * 3..3+N-1, then the relayed sockets), signals reset; reply SPAWNED with its pid or errno. */
static void spawn_child(struct fields c) {
    struct field fl;
    int id = 0, preserve = 0, nslots = 0, nargs = 0, nenv = 0, slots[8];
    char *path = NULL, *args[64], *envs[512];
    int err = 0;
    while (fields_next(&c, &fl) == 1) {
        if (fl.tag == T_ID) id = (int)field_int(&fl);
        else if (fl.tag == T_PATH && !path) path = field_str(&fl);
        else if (fl.tag == T_VALUE) preserve = (int)field_int(&fl);
        else if (fl.tag == T_SLOT && nslots < 8) slots[nslots++] = (int)field_int(&fl);
        else if (fl.tag == T_ARG && nargs < 63) args[nargs++] = field_str(&fl);
        else if (fl.tag == T_ENV && nenv < 511) envs[nenv++] = field_str(&fl);
        else if (fl.tag == T_SLOT || fl.tag == T_ARG || fl.tag == T_ENV) err = E2BIG;
    }
    args[nargs] = NULL;
    envs[nenv] = NULL;
    int ends[8], mine[8], k = -1, pipefd[2] = { -1, -1 };
    for (int i = 0; i < nslots; i++) ends[i] = mine[i] = -1;
    if (!path || nslots < 3 || preserve < 0 || preserve > HIGH_FD - 8) err = err ? err : EINVAL;
    for (int i = 0; i < MAX_CHILDREN && !err; i++)
        if (children[i].pid == 0) { k = i; break; }
    if (!err && k < 0) err = EAGAIN;
    pid_t pid = -1;
    int spared = !err && path && spare_take(id, k, path, args, nargs, nenv, preserve, slots, nslots);
    if (spared) pid = children[k].pid;
    else if (spare.pid > 0 || spare.ctrl >= 0) spare_drop(); /* another layout: not of use */
    for (int i = 0; i < nslots && !err && !spared; i++) {
        if (slots[i] <= 0) continue;
        int sv[2], free_slot = -1;
        for (int j = 0; j < MAX_CHANNELS; j++)
            if (channels[j].fd < 0) { free_slot = j; break; }
        if (free_slot < 0) { err = EMFILE; break; }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) { err = errno; break; }
        mine[i] = fcntl(sv[0], F_DUPFD_CLOEXEC, HIGH_FD);
        ends[i] = fcntl(sv[1], F_DUPFD_CLOEXEC, HIGH_FD);
        close(sv[0]);
        close(sv[1]);
        if (mine[i] < 0 || ends[i] < 0) { err = errno; break; }
        channels[free_slot] = (struct channel){ slots[i], mine[i], 1, 1 };
        mine[i] = -1; /* the channel table has it */
    }
    if (!err && !spared && pipe2(pipefd, O_CLOEXEC) < 0) err = errno;
    if (!err && !spared) {
        pid = fork();
        if (pid < 0) {
            err = errno;
            close(pipefd[0]);
            close(pipefd[1]);
        }
    }
    if (pid == 0) exec_child(path, args, envs, preserve, nslots, slots, ends, pipefd[1]);
    if (pid > 0 && !spared) {
        close(pipefd[1]);
        err = exec_outcome(pid, pipefd[0]);
        if (!err) children[k] = (struct child){ id, pid };
    }
    for (int i = 0; i < nslots; i++)
        if (ends[i] >= 0) close(ends[i]);
    if (err) { /* the channels of a spawn that failed end at once */
        for (int i = 0; i < nslots; i++) {
            struct channel *ch = slots[i] > 0 ? channel_of(slots[i]) : NULL;
            if (ch) close(ch->fd), ch->fd = -1;
        }
    }
    free(path);
    for (int i = 0; i < nargs; i++) free(args[i]);
    for (int i = 0; i < nenv; i++) free(envs[i]);
    if (err) send_ints(F_SPAWNED, T_ID, id, T_ERRNO, err);
    else send_ints(F_SPAWNED, T_ID, id, T_PID, pid);
}

/* Waits for child id to end and reaps it (one the server left to the front: it ends on its own,
 * its control socket closed). */
static void reap_child(int id) {
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i].pid > 0 && children[i].id == id) {
            while (waitpid(children[i].pid, NULL, 0) < 0 && errno == EINTR) continue;
            children[i].pid = 0;
        }
}

/* One frame from the server. Returns 1 to go on, 0 at EXIT (*status set), -1 on a broken one. */
static int from_server(struct frame *f, int *status, int *signo) {
    struct fields c = { f->payload, f->payload + f->len };
    struct field fl;
    int id = 0, sig = 0, flags = 0;
    const struct field *data = NULL;
    struct field d;
    if (f->type == F_SPAWN) {
        spawn_child(c);
        return 1;
    }
    *status = -1;
    while (fields_next(&c, &fl) == 1) {
        if (fl.tag == T_ID) id = (int)field_int(&fl);
        else if (fl.tag == T_SIGNAL) sig = (int)field_int(&fl);
        else if (fl.tag == T_STATUS) *status = (int)field_int(&fl);
        else if (fl.tag == T_DATA) d = fl, data = &d;
        else if (fl.tag == T_FLAGS) flags = (int)field_int(&fl);
    }
    switch (f->type) {
    case F_OUT:
        if (data && (id == 1 || id == 2)) write_all(id, data->value, data->len);
        return 1;
    case F_DATA: {
        struct channel *ch = channel_of(id);
        if (ch && ch->writing && data) write_all(ch->fd, data->value, data->len);
        return 1;
    }
    case F_EOF: {
        struct channel *ch = channel_of(id);
        if (ch && ch->writing) {
            shutdown(ch->fd, SHUT_WR);
            ch->writing = 0;
            channel_done(ch);
        }
        return 1;
    }
    case F_KILL:
        for (int i = 0; i < MAX_CHILDREN; i++)
            if (children[i].pid > 0 && children[i].id == id) kill(children[i].pid, sig);
        return 1;
    case F_EXIT: /* first the helpers the server left to the front (ID*), as Node's exit followed them */
        for (c = (struct fields){ f->payload, f->payload + f->len }; !sig && fields_next(&c, &fl) == 1;)
            if (fl.tag == T_ID) reap_child((int)field_int(&fl));
        *signo = sig;
        return 0;
    case F_AHEAD: /* namespaces the spare may have made ahead: the holder makes them */
        holder_start(flags);
        return 1;
    case F_STDIN: /* all of fd 0, as channel 0 (update --resources -) */
        for (;;) {
            unsigned char buf[65536];
            ssize_t r = read(0, buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            _cleanup_out_ struct out o;
            out_begin(&o);
            out_int(&o, T_ID, 0);
            out_bytes(&o, T_DATA, buf, (size_t)r);
            out_send(server, &o, F_DATA, 0);
        }
        send_ints(F_EOF, T_ID, 0, 0, 0);
        return 1;
    default:
        return -1;
    }
}

/* Reads what channel ch holds (flags: MSG_DONTWAIT not to wait) and sends it on as DATA, or EOF
 * once the helper's end is closed. Returns recv's result. */
static ssize_t relay(struct channel *ch, int flags) {
    unsigned char buf[65536];
    ssize_t r = recv(ch->fd, buf, sizeof buf, flags);
    if (r > 0) {
        _cleanup_out_ struct out o;
        out_begin(&o);
        out_int(&o, T_ID, ch->id);
        out_bytes(&o, T_DATA, buf, (size_t)r);
        out_send(server, &o, F_DATA, 0);
    } else if (r == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
        send_ints(F_EOF, T_ID, ch->id, 0, 0);
        ch->reading = 0;
        channel_done(ch);
    }
    return r;
}

static void reap(void) {
    /* what the helpers wrote before they ended goes first: a CHILD_EXIT ahead of a helper's last
     * answer would fail the request that waits for it */
    for (int i = 0; i < MAX_CHANNELS; i++)
        while (channels[i].fd >= 0 && channels[i].reading && relay(&channels[i], MSG_DONTWAIT) > 0) continue;
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0) return;
        if (pid == spare.pid) spare.pid = 0; /* ended before its SPAWN (a signal): never used */
        if (pid == holder.pid) { /* killed by the H0 it was offered to (or died) */
            holder.pid = 0;
            holder_drop();
        }
        for (int i = 0; i < MAX_CHILDREN; i++)
            if (children[i].pid == pid) {
                send_ints(F_CHILD_EXIT, T_ID, children[i].id, T_STATUS, st);
                children[i].pid = 0;
            }
    }
}

int front_main(int argc, char **argv) {
    if (argc < 3) {
        fputs("hako-helper --front: bin/hako runs this, with start.cjs and hako's arguments\n", stderr);
        return 2;
    }
    const char *root = NULL;
    int word = command_word(argc, argv, &root);
    _cleanup_free_ char *path = socket_path(argc, argv, word, root);
    _cleanup_free_ char *identity = path ? bundle_identity(argv[2]) : NULL;
    if (!identity || (server = connect_server(path)) < 0) front_fall_back(argv);
    /* the commands whose first helper has the spare's layout (src/cli: unshare, nsenter, and the
     * runtime's verbs that start a process): its fork and exec overlap the server's work, from as
     * early as a server is known to answer */
    static const char *const spawners[] = { "unshare", "nsenter", "run", "create", "exec" };
    for (size_t i = 0; word < argc && i < sizeof spawners / sizeof spawners[0]; i++)
        if (strcmp(argv[word], spawners[i]) == 0) spare_start();
    signal(SIGPIPE, SIG_IGN); /* as Node: a closed stdout is an error, not a death */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    for (size_t i = 0; i < sizeof relayed / sizeof relayed[0]; i++) sigaddset(&mask, relayed[i]);
    int sfd = -1, low = -1;
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 || (low = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
        (sfd = fcntl(low, F_DUPFD_CLOEXEC, HIGH_FD)) < 0 || close(low) < 0 || send_hello(argc, argv, identity) < 0) {
        spare_drop();
        close(server);
        sigprocmask(SIG_UNBLOCK, &mask, NULL);
        front_fall_back(argv);
    }
    for (int i = 0; i < MAX_CHANNELS; i++) channels[i].fd = -1;
    int first = 1;
    for (;;) {
        struct pollfd fds[2 + MAX_CHANNELS];
        int map[MAX_CHANNELS], n = 2;
        fds[0] = (struct pollfd){ .fd = server, .events = POLLIN };
        fds[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
        for (int i = 0; i < MAX_CHANNELS; i++)
            if (channels[i].fd >= 0 && channels[i].reading) {
                map[n - 2] = i;
                fds[n++] = (struct pollfd){ .fd = channels[i].fd, .events = POLLIN };
            }
        if (poll(fds, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            int chld = 0;
            while (read(sfd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGCHLD) chld = 1;
                else send_ints(F_SIGNAL, T_SIGNAL, si.ssi_signo, 0, 0);
            }
            if (chld) reap();
        }
        for (int j = 2; j < n; j++) {
            if (!fds[j].revents) continue;
            struct channel *ch = &channels[map[j - 2]];
            if (ch->fd >= 0 && ch->reading) relay(ch, MSG_DONTWAIT); /* (reap may have read it all) */
        }
        if (fds[0].revents) {
            struct frame f;
            int r = frame_read(server, &f);
            if (r <= 0) break; /* the server went away without an exit status */
            _cleanup_free_ unsigned char *payload = f.payload;
            if (first && f.type == F_REFUSE) { /* another build, other namespaces: Node runs it */
                spare_drop();
                close(server);
                close(sfd);
                sigprocmask(SIG_UNBLOCK, &mask, NULL);
                front_fall_back(argv);
            }
            first = 0;
            int status = -1, signo = 0;
            r = from_server(&f, &status, &signo);
            if (r < 0) break;
            if (r == 0) {
                spare_drop();
                holder_drop();
                if (signo > 0) { /* the command died of a signal, as Node would */
                    signal(signo, SIG_DFL);
                    sigset_t one;
                    sigemptyset(&one);
                    sigaddset(&one, signo);
                    sigprocmask(SIG_UNBLOCK, &one, NULL);
                    raise(signo);
                }
                return status < 0 ? 1 : status;
            }
        }
    }
    spare_drop();
    holder_drop();
    fputs("hako: the server (hako serve) ended the connection before the command's exit status\n", stderr);
    return 1;
}
