/* The pty: H2 makes it inside the container and sends the master away over a unix socket
 * (SCM_RIGHTS), to the --console-socket of conmon or containerd, or to H0, which relays it
 * to the terminal hako runs in. Host-side ops that prepare the fds live here too. */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
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

/* The pty is made by name inside the container, where the image (or a config without a /dev
 * tmpfs) decides what /dev/ptmx and /dev/pts/N are: a FIFO, a file, a device node, a symlink to
 * another pty. So what is opened is checked (as runc's fix for CVE-2025-52565): the master must
 * be the pty multiplexer (char 5:2) and answer TIOCGPTN, and the slave is the master's own peer
 * from TIOCGPTPEER, never a name. */
#define PTMX_MAJOR 5
#define PTMX_MINOR 2
#define PTS_MAJOR 136

static int refuse(const char *message) {
    snprintf(op_message, sizeof op_message, "%s", message);
    return errno = ENOTTY, -1;
}

/* O_NONBLOCK: an open that waits (a tty for its carrier) cannot hang; cleared once it is a pty. */
static int open_master(unsigned *index) {
    int fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(op_message, sizeof op_message, "cannot open /dev/ptmx in the container: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    int flags, r = fstat(fd, &st);
    if (r == 0 && (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(PTMX_MAJOR, PTMX_MINOR) || ioctl(fd, TIOCGPTN, index) < 0))
        r = refuse("/dev/ptmx in the container is not a pty multiplexer (a file, FIFO or device of the image?)");
    if (r == 0 && ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 || unlockpt(fd) < 0)) r = -1;
    if (r == 0) return fd;
    int err = errno;
    close(fd);
    return errno = err, -1;
}

/* The slave: the master's peer (Linux >= 4.13); before that by name, checked to be pty INDEX on devpts. */
static int open_slave(int master, unsigned index, const char *name) {
    int fd = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0 || (errno != EINVAL && errno != ENOTTY)) return fd;
    fd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat st;
    struct statfs sf;
    int flags, r = fstat(fd, &st) < 0 || fstatfs(fd, &sf) < 0 ? -1 : 0;
    if (r == 0 && (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(PTS_MAJOR, index) || sf.f_type != DEVPTS_SUPER_MAGIC))
        r = refuse("the pty's slave in the container's /dev/pts is not the pty's own (a file or symlink of the image?)");
    if (r == 0 && ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)) r = -1;
    if (r == 0) return fd;
    int err = errno;
    close(fd);
    return errno = err, -1;
}

/* Makes the pty, makes the slave fds 0-2 and this process's controlling terminal, then sends the
 * master over SLOT (last: whoever receives it gets a terminal that is ready). */
int op_console(struct op *op, const char **what) {
    *what = "/dev/ptmx";
    if (!slot_valid(op) || slots[op->slot] < 0) return errno = EBADF, -1;
    unsigned index;
    _cleanup_fd_ int master = open_master(&index);
    if (master < 0) return -1;
    static char name[32]; /* *what may name it after the return */
    snprintf(name, sizeof name, "/dev/pts/%u", index);
    *what = name;
    _cleanup_fd_ int slave = open_slave(master, index, name);
    if (slave < 0) return -1;
    /* ID: the process's user owns its terminal (the group stays tty's), as with runc */
    if (op->nids == 1 && fchown(slave, (uid_t)op->ids[0], (gid_t)-1) < 0) return -1;
    if (op->value > 0 && op->value2 > 0) {
        struct winsize ws = { (unsigned short)op->value, (unsigned short)op->value2, 0, 0 };
        if (ioctl(slave, TIOCSWINSZ, &ws) < 0) return -1;
    }
    if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) return -1;
    for (int fd = 0; fd < 3; fd++)
        if (dup2(slave, fd) < 0) return -1;
    if (slave <= 2) take_fd(&slave); /* it is one of 0-2 now: kept */
    *what = "console socket";
    if (send_fd(slots[op->slot], master, "/dev/ptmx") < 0) return -1;
    close(slots[op->slot]);
    slots[op->slot] = -1;
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
