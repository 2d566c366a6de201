/* hako-helper's entry: bin/hako itself (a link to this file, run by the name "hako") and the native
 * front it runs (--front, front.c), the resident zygote of a Runtime (--zygote, zygote.c), or a helper
 * hako spawned for one command (session.c). */
#define _GNU_SOURCE
#include "sealed.h"
#include "session.h"
#include "ops.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int front_main(int argc, char **argv); /* front.c */
_Noreturn void front_fall_back(char **argv);
int zygote_main(void);                    /* zygote.c */

/* Run as `hako` (bin/hako links here): the package is two levels above this file (PKG/native/
 * hako-helper), its CLI PKG/bin/start.cjs. Node starts without NODE_EXTRA_CA_CERTS, whose CA bundle
 * it would parse at every start (30 ms here) though only `image pull` makes TLS connections: it is
 * kept as HAKO_NODE_EXTRA_CA_CERTS and put back for what hako runs (src/cli/main.ts). With
 * HAKO_HELPER (another helper than this one) Node starts directly, as the front is this package's. */
static int hako_main(int argc, char **argv) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1) {
        fprintf(stderr, "hako: cannot find its own program (/proc/self/exe): %s\n", n < 0 ? strerror(errno) : "too long");
        return 127;
    }
    self[n] = 0;
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(self, '/');
        if (!slash || slash == self) {
            fprintf(stderr, "hako: %s is not in a package's native/ directory\n", self);
            return 127;
        }
        *slash = 0;
    }
    static const char start[] = "/bin/start.cjs";
    char cli[PATH_MAX];
    if (strlen(self) + sizeof start > sizeof cli) {
        fprintf(stderr, "hako: %s: path too long\n", self);
        return 127;
    }
    snprintf(cli, sizeof cli, "%s%s", self, start);
    const char *ca = getenv("NODE_EXTRA_CA_CERTS");
    if (ca && (setenv("HAKO_NODE_EXTRA_CA_CERTS", ca, 1) < 0 || unsetenv("NODE_EXTRA_CA_CERTS") < 0)) {
        perror("hako: setenv");
        return 127;
    }
    char **args = calloc((size_t)argc + 3, sizeof *args);
    if (!args) {
        perror("hako");
        return 127;
    }
    args[0] = argv[0];
    args[1] = "--front";
    args[2] = cli;
    for (int i = 1; i < argc; i++) args[i + 2] = argv[i];
    if (getenv("HAKO_HELPER")) front_fall_back(args);
    return front_main(argc + 2, args);
}

int main(int argc, char **argv) {
    const char *name = argc > 0 ? strrchr(argv[0], '/') : NULL;
    if (argc > 0 && strcmp(name ? name + 1 : argv[0], "hako") == 0) return hako_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "--front") == 0) return front_main(argc, argv);
    if (argc == 2 && strcmp(argv[1], "--zygote") == 0) {
        /* every H0 it forks runs from the sealed copy it runs from (CVE-2019-5736) */
        if (!running_sealed() && reexec_sealed(argv) < 0) {
            perror("hako-helper: --zygote: cannot run from a sealed copy");
            return 2;
        }
        return zygote_main();
    }
    int sealed = 0, ctrl = 3, execfd = -1, ahead = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sealed") == 0) sealed = 1;
        else if (strncmp(argv[i], "--ahead=", 8) == 0) ahead = atoi(argv[i] + 8);
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
            report_error("execveat", "/proc/self/exe", errno, "cannot run from a sealed copy");
            return 2;
        }
    }
    return helper_session(ctrl, execfd, ahead);
}
