/* hako-helper's entry: the native front of bin/hako (--front, front.c), the resident zygote of a
 * Runtime (--zygote, zygote.c), or a helper hako spawned for one command (session.c). */
#define _GNU_SOURCE
#include "session.h"
#include "ops.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int front_main(int argc, char **argv); /* front.c */
int zygote_main(void);                    /* zygote.c */

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--front") == 0) return front_main(argc, argv);
    if (argc == 2 && strcmp(argv[1], "--zygote") == 0) {
        /* every H0 it forks runs from the sealed copy it runs from (CVE-2019-5736) */
        if (!running_sealed() && reexec_sealed(argv) < 0) {
            perror("hako-helper: --zygote: cannot run from a sealed copy");
            return 2;
        }
        return zygote_main();
    }
    int sealed = 0, ctrl = 3, execfd = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sealed") == 0) sealed = 1;
        else if (strncmp(argv[i], "--exec-fd=", 10) == 0) execfd = atoi(argv[i] + 10);
        else ctrl = atoi(argv[i]);
    }
    if (ctrl < 3 || fcntl(ctrl, F_GETFD) < 0) {
        fputs("hako-helper: fd 3 is not open: this program is run by hako, not by hand\n", stderr);
        return 2;
    }
    ctrl_fd = ctrl; /* where report_error writes */
    if (sealed && !running_sealed()) {
        /* the stray fds go before the copy is made (the exec keeps them) */
        if (close_fds_from((ctrl > execfd ? ctrl : execfd) + 1) < 0) {
            report_error("close_range", NULL, errno, NULL);
            return 2;
        }
        if (reexec_sealed(argv) < 0) {
            report_error("memfd", "/proc/self/exe", errno, "cannot run from a sealed copy");
            return 2;
        }
    }
    return helper_session(ctrl, execfd);
}
