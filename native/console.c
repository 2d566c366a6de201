/* The pty: H2 makes it inside the container and sends the master away over a unix socket
 * (SCM_RIGHTS), to the --console-socket of conmon or containerd, or to H0, which relays it
 * to the terminal hako runs in. Host-side ops that prepare the fds live here too. */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

int relay_fd = -1, detach_fd = -1;

static int slot_valid(const struct op *op) {
    return op->slot >= 0 && op->slot < MAX_SLOTS;
}

static int send_fd(int sock, int fd, const char *name) {
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct iovec iov = { (void *)name, strlen(name) };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    ssize_t r;
    while ((r = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) continue;
    return r < 0 ? -1 : 0;
}

int receive_fd(int sock) {
    char control[CMSG_SPACE(sizeof(int))], data[256];
    struct iovec iov = { data, sizeof data };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t r;
    while ((r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) continue;
    if (r <= 0) return r == 0 ? (errno = EPIPE, -1) : -1;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS) return errno = EPROTO, -1;
    int fd;
    memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
    return fd;
}

/* Makes the pty, sends the master over SLOT, and makes the slave this process's terminal. */
int op_console(struct op *op, const char **what) {
    *what = "/dev/ptmx";
    if (!slot_valid(op) || slots[op->slot] < 0) return errno = EBADF, -1;
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return -1;
    char name[128];
    if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0) return -1;
    *what = name;
    int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) return -1;
    if (op->value > 0 && op->value2 > 0) {
        struct winsize ws = { (unsigned short)op->value, (unsigned short)op->value2, 0, 0 };
        if (ioctl(slave, TIOCSWINSZ, &ws) < 0) return -1;
    }
    *what = "console socket";
    if (send_fd(slots[op->slot], master, "/dev/ptmx") < 0) return -1;
    close(master);
    close(slots[op->slot]);
    slots[op->slot] = -1;
    *what = name;
    if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) return -1;
    for (int fd = 0; fd < 3; fd++)
        if (dup2(slave, fd) < 0) return -1;
    if (slave > 2) close(slave);
    return 0;
}

/* H0: a fifo on the host (exec.fifo), kept in SLOT as an O_PATH fd for H2. */
int op_mkfifo(struct op *op, const char **what) {
    *what = op->path;
    if (!slot_valid(op)) return errno = EBADF, -1;
    /* 0622 as runc: the container's user (any uid) can open it for writing via its fd */
    if (mkfifo(op->path, 0622) < 0 || chmod(op->path, 0622) < 0) return -1;
    int fd = open(op->path, O_PATH | O_CLOEXEC);
    if (fd < 0) return -1;
    slots[op->slot] = fd;
    return 0;
}

/* H0: connects to a unix socket (--console-socket) and keeps it in SLOT. */
int op_connect(struct op *op, const char **what) {
    *what = op->path;
    struct sockaddr_un addr;
    if (!slot_valid(op) || strlen(op->path) >= sizeof addr.sun_path) return errno = ENAMETOOLONG, -1;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, op->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int err = errno;
        close(fd);
        return errno = err, -1;
    }
    slots[op->slot] = fd;
    return 0;
}

/* H0: a socketpair for the pty relay; H2's end in SLOT, H0's in relay_fd. */
int op_socketpair(struct op *op, const char **what) {
    int sv[2];
    *what = "relay";
    if (!slot_valid(op)) return errno = EBADF, -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    relay_fd = sv[0];
    slots[op->slot] = sv[1];
    return 0;
}

/* H0: a pipe on which H2 says "detached"; its write end in SLOT, the read end in detach_fd. */
int op_pipe(struct op *op, const char **what) {
    int p[2];
    *what = "detach";
    if (!slot_valid(op)) return errno = EBADF, -1;
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    detach_fd = p[0];
    slots[op->slot] = p[1];
    return 0;
}
