/* A small seccomp notify agent for oci-seccomp-notify.test.mjs:
 *   notify-agent SOCKET STATE_FILE
 * listens on the unix socket SOCKET, takes one connection, receives the container process state
 * (JSON) with the listener fd (SCM_RIGHTS), writes the state to STATE_FILE, then answers each
 * notification: mkdir and mkdirat "succeed" without doing anything (so a directory the container
 * made is not there), anything else goes on as the kernel would (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
 * It writes "ready\n" on stdout once it listens, one line per answered mkdir, and exits when
 * every process of the filter is gone (POLLHUP) or after 30 s. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "notify-agent: %s: %s\n", what, strerror(errno));
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (srv < 0 || strlen(argv[1]) >= sizeof addr.sun_path) die("socket");
    strcpy(addr.sun_path, argv[1]);
    if (bind(srv, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(srv, 1) < 0) die("bind");
    printf("ready\n");
    fflush(stdout);
    struct pollfd pa = { srv, POLLIN, 0 };
    if (poll(&pa, 1, 30000) != 1) die("no connection within 30 s");
    int conn = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) die("accept");
    static char state[65536];
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    struct iovec iov = { state, sizeof state - 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0) die("recvmsg");
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    if (!cm || cm->cmsg_type != SCM_RIGHTS) die("no fd with the state");
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    /* the runtime closes the connection after one state (runtime-spec) */
    char extra;
    if (read(conn, &extra, 1) != 0) die("the connection was not closed after the state");
    FILE *out = fopen(argv[2], "w");
    if (!out || fwrite(state, 1, (size_t)n, out) != (size_t)n || fclose(out) != 0) die("state file");
    struct seccomp_notif_sizes sizes;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) die("sizes");
    struct seccomp_notif *req = calloc(1, sizes.seccomp_notif);
    struct seccomp_notif_resp *resp = calloc(1, sizes.seccomp_notif_resp);
    if (!req || !resp) die("calloc");
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        int r = poll(&p, 1, 30000);
        if (r <= 0) die("no notification within 30 s");
        if (p.revents & POLLHUP) return 0;
        memset(req, 0, sizes.seccomp_notif);
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
            if (errno == EINTR || errno == ENOENT) continue; /* the caller is gone */
            die("recv");
        }
        memset(resp, 0, sizes.seccomp_notif_resp);
        resp->id = req->id;
        if (req->data.nr == SYS_mkdir || req->data.nr == SYS_mkdirat) {
            printf("mkdir answered\n");
            fflush(stdout);
        } else {
            resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        }
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0 && errno != ENOENT) die("send");
    }
}
