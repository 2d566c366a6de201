/* OOM_WATCH: OOM notifications of a cgroup v1 memory directory, as runc's `events` gets them: an
 * eventfd registered on memory.oom_control through cgroup.event_control. Each notification is
 * sent to P as an OOM frame; H0 ends (status 0) when the cgroup is removed (the kernel signals
 * the eventfd then, and cgroup.event_control is gone) or when P hangs up. P (Node) cannot make an
 * eventfd; cgroup v2 needs none (P watches memory.events with inotify). */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int oom_watch(struct frame *f) {
    struct fields c = { f->payload, f->payload + f->len };
    struct field fl;
    _cleanup_free_ char *dir = NULL;
    int r;
    while ((r = fields_next(&c, &fl)) == 1)
        if (fl.tag == T_PATH && !dir) {
            if (memchr(fl.value, 0, fl.len)) r = -1;
            else dir = field_str(&fl);
        }
    if (r < 0 || !dir) {
        report_error("oom-watch", NULL, EPROTO, r < 0 ? "malformed field list" : "OOM_WATCH needs field PATH");
        return 2;
    }
    char control[4096], oom[4096];
    if (snprintf(control, sizeof control, "%s/cgroup.event_control", dir) >= (int)sizeof control ||
        snprintf(oom, sizeof oom, "%s/memory.oom_control", dir) >= (int)sizeof oom) {
        report_error("oom-watch", dir, ENAMETOOLONG, NULL);
        return 1;
    }
    _cleanup_fd_ int ofd = open(oom, O_RDONLY | O_CLOEXEC);
    if (ofd < 0) {
        report_error("open", oom, errno, NULL);
        return 1;
    }
    _cleanup_fd_ int efd = eventfd(0, EFD_CLOEXEC);
    if (efd < 0) {
        report_error("eventfd", NULL, errno, NULL);
        return 1;
    }
    _cleanup_fd_ int cfd = open(control, O_WRONLY | O_CLOEXEC);
    if (cfd < 0) {
        report_error("open", control, errno, NULL);
        return 1;
    }
    char line[64];
    int n = snprintf(line, sizeof line, "%d %d", efd, ofd);
    if (write(cfd, line, (size_t)n) != n) {
        report_error("write", control, errno, NULL);
        return 1;
    }
    /* registered: say so (an OOM frame with VALUE 0), so P knows none is missed from here on */
    for (uint64_t count = 0;;) {
        _cleanup_out_ struct out o;
        out_begin(&o);
        out_int(&o, T_VALUE, (int64_t)count);
        if (out_send(CTRL_FD, &o, MSG_OOM, f->seq) < 0) return 1;
        struct pollfd p[2] = { { efd, POLLIN, 0 }, { CTRL_FD, POLLRDHUP, 0 } };
        while (poll(p, 2, -1) < 0)
            if (errno != EINTR) {
                report_error("poll", NULL, errno, NULL);
                return 1;
            }
        if (p[1].revents) return 0; /* P is gone */
        if (read(efd, &count, sizeof count) != sizeof count) {
            report_error("read", "eventfd", errno, NULL);
            return 1;
        }
        if (access(control, F_OK) < 0) return 0; /* the cgroup was removed: no OOM, the end */
    }
}
