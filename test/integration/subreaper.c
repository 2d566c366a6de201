/* A child subreaper, as containerd's shim is: runs `CMD... %P ...` N times, PARALLEL at a time,
 * %P replaced by DIR/pid-I and, appended, `sh -c "exit 7"` (even I) or `true` (odd I); its
 * stderr and stdout go to DIR/err-I. It reaps every child it gets with waitpid(-1) and prints,
 * for each run, one line:
 *   I COMMAND_STATUS PID STATUS
 * the wait status of the command itself, the pid in its pid file (0: none) and the wait status
 * reaped HERE for that pid (-1: not reaped here: it was gone, or did not end within 5 s, once the
 * command had exited). Test code for oci-exec-reaper.test.mjs; every wait is bounded. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REAPED 65536
static pid_t reaped_pid[MAX_REAPED];
static int reaped_status[MAX_REAPED];
static int nreaped;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int find(pid_t pid) {
    for (int i = nreaped - 1; i >= 0; i--)
        if (reaped_pid[i] == pid) return i;
    return -1;
}

static pid_t read_pid(const char *path) {
    char buf[32] = { 0 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 ? (pid_t)atoi(buf) : 0;
}

struct run {
    int index, hstatus, hdone;
    pid_t h, want;
    double deadline;
};

static void start(struct run *r, int i, int ncmd, char **tmpl, const char *dir, char **cmd) {
    char pidfile[4096], errfile[4096];
    snprintf(pidfile, sizeof pidfile, "%s/pid-%d", dir, i);
    snprintf(errfile, sizeof errfile, "%s/err-%d", dir, i);
    int c = 0;
    for (int j = 0; j < ncmd; j++) cmd[c++] = strcmp(tmpl[j], "%P") == 0 ? pidfile : tmpl[j];
    if (i % 2 == 0) {
        cmd[c++] = "sh";
        cmd[c++] = "-c";
        cmd[c++] = "exit 7";
    } else {
        cmd[c++] = "true";
    }
    cmd[c] = NULL;
    fflush(stdout);
    *r = (struct run){ .index = i, .hstatus = -1, .deadline = now() + 30 };
    r->h = fork();
    if (r->h < 0) {
        perror("fork");
        exit(2);
    }
    if (r->h == 0) {
        int in = open("/dev/null", O_RDONLY), err = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || err < 0 || dup2(in, 0) < 0 || dup2(err, 1) < 0 || dup2(err, 2) < 0) _exit(126);
        execvp(cmd[0], cmd);
        _exit(127);
    }
}

/* 1 when run r is over: its pid reaped here, or known not to come (printed either way). */
static int over(struct run *r, const char *dir) {
    if (!r->hdone) {
        if (now() > r->deadline) {
            kill(r->h, SIGKILL);
            r->deadline = now() + 30;
        }
        return 0;
    }
    if (!r->want) {
        char pidfile[4096];
        snprintf(pidfile, sizeof pidfile, "%s/pid-%d", dir, r->index);
        r->want = read_pid(pidfile);
        r->deadline = now() + 5;
    }
    int k = r->want ? find(r->want) : -1;
    /* H0 is gone once the command is (it waits for H0's exit): the pid is ours by now, as a
     * running process or a zombie, or it was reaped by someone else and no longer exists */
    if (k < 0 && r->want && kill(r->want, 0) == 0 && now() < r->deadline) return 0;
    if (k < 0 && r->want) k = find(r->want); /* (reaped nowhere in between: one thread) */
    printf("%d %d %d %d\n", r->index, r->hstatus, (int)r->want, k >= 0 ? reaped_status[k] : -1);
    if (k >= 0) reaped_pid[k] = 0; /* a later run's pid may be the same number */
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: subreaper N PARALLEL DIR CMD... %%P ...\n");
        return 2;
    }
    int n = atoi(argv[1]), parallel = atoi(argv[2]);
    const char *dir = argv[3];
    int ncmd = argc - 4;
    if (parallel < 1 || parallel > 16) return 2;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
        perror("prctl");
        return 2;
    }
    char **cmd = calloc((size_t)ncmd + 4, sizeof *cmd);
    if (!cmd) return 2;
    struct run runs[16];
    int active[16] = { 0 }, next = 0, done = 0;
    while (done < n) {
        for (int s = 0; s < parallel && next < n; s++)
            if (!active[s]) start(&runs[s], next++, ncmd, argv + 4, dir, cmd), active[s] = 1;
        int st;
        pid_t w = waitpid(-1, &st, WNOHANG);
        if (w < 0 && errno != ECHILD) {
            perror("waitpid");
            return 2;
        }
        if (w > 0) {
            int mine = 0;
            for (int s = 0; s < parallel; s++)
                if (active[s] && !runs[s].hdone && runs[s].h == w) runs[s].hstatus = st, runs[s].hdone = 1, mine = 1;
            if (!mine && nreaped < MAX_REAPED) reaped_pid[nreaped] = w, reaped_status[nreaped++] = st;
            continue;
        }
        for (int s = 0; s < parallel; s++)
            if (active[s] && over(&runs[s], dir)) active[s] = 0, done++;
        usleep(500);
    }
    fflush(stdout);
    return 0;
}
