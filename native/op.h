/* An op of a plan, decoded, and the process-wide state the ops share: the fd slots, the message
 * of the op that failed, the death signals, the fds that watch the exec (docs/PROTOCOL.md). */
#ifndef HAKO_OP_H
#define HAKO_OP_H

#include "proto.h"

#define MAX_SLOTS 64
/* CGROUP_SLOT (the slot whose directory H0 forks H1 into) is in ops_table.h */

#include <sys/types.h>

/* The fields an op may carry, decoded. */
struct op {
    int64_t kind, nstype, flags, slot, mode, root, type, optional, value, value2;
    int64_t set, clear, propagation;
    int64_t procfs;         /* PROCFS: 1 the resolved path must be on procfs, 2 it must not */
    int64_t source_in_root; /* SOURCE_IN_ROOT: SOURCE is resolved in the root too */
    int64_t caps[5]; /* bounding, effective, permitted, inheritable, ambient */
    int caps_given;   /* bit i: caps[i] was sent */
    uint64_t seen[2]; /* bit t: a field with tag t (< 128) was sent */
    struct fields raw; /* the op's whole field list (seccomp rules) */
    char *path, *data, *source, *target, *fstype, *name;
    size_t data_len; /* DATA may be binary (eBPF instructions) */
    gid_t ids[256];
    size_t nids;
    char *args[4096];
    size_t nargs;
    char *env[4096];
    size_t nenv;
};

/* A message for the ERROR of the op that failed (e.g. a hook's exit status), or "". */
extern char op_message[256];

/* Slot fds kept for later ops (directories, the console socket, the fifo). */
extern int slots[MAX_SLOTS];

/* The signal the command gets when H0 dies (0: none), set just before EXEC. */
extern int exec_death_signal;

/* The parent-death signal of this stage (SIGKILL in H1 and H2 until DETACH; 0: none): set again
 * after setresuid/setresgid, which clear it. */
extern int stage_death_signal;

/* --exec-fd (-1: none) and exec.fifo opened for writing by FIFO_WAIT (-1: not yet): both
 * close-on-exec, so their EOF tells the watcher the exec happened (docs/PROTOCOL.md). */
extern int exec_fd, fifo_fd;

/* Namespaces made ahead of the plan (session.c, --ahead): H1's UNSHARE joins these instead of
 * making new ones when the plan says so (PLAN FLAGS bit 2). ahead_flags: the CLONE_NEW* flags
 * they are (0: none); ahead_ns: their fds (-1: none). */
#define AHEAD_NS 4
#define AHEAD_KINDS (CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS) /* <sched.h> */
extern int ahead_flags, ahead_ns[AHEAD_NS];

/* Closes the namespaces made ahead (none left after). */
void ahead_close(void);

/* Forks a holder of namespaces made ahead (H0's, session.c; bin/hako's front's, front.c): it
 * unshares flags, writes that call's errno (0) on the pipe whose read end is *ready, and waits
 * for EOF on the pipe whose write end is *hold (or its parent's death: SIGKILL). Returns its pid,
 * or -1 with nothing made. */
pid_t ahead_holder(int flags, int *ready, int *hold);

/* H2 failed before its exec: write "E" on exec_fd and fifo_fd. */
void exec_failed(void);

/* Closes every fd from first on (close_range, else a walk of /proc/self/fd). */
int close_fds_from(int first);

/* Marks every fd from first on close-on-exec (close_range, else a walk of /proc/self/fd). */
int cloexec_fds_from(int first);

/* The exit code for a failed exec of errno err: 127 not found, 126 otherwise. The only place it
 * is decided: H2's exit status is what H0 reports in EXITED and what a subreaper sees once H2
 * detached; the execve ERROR carries it too (STATUS), for P's message. */
int exec_failure_code(int err);

/* The command search path of EXEC and CHECK_EXEC when the ENVs have no PATH: glibc's own default
 * (confstr(_CS_PATH), what execvpe searches without PATH), so that the check and the exec agree. */
#define DEFAULT_EXEC_PATH "/bin:/usr/bin"

#endif
