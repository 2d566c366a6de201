/* The op interpreter: runs the NS_OP and INIT_OP lists of a plan (docs/PROTOCOL.md). */
#ifndef HAKO_OPS_H
#define HAKO_OPS_H

#include "op.h"

/* Runs every op in list whose field tag is `tag`. Returns 0, or -1 after reporting an ERROR.
 * On success of OP_EXEC this never returns. */
int run_ops(struct fields list, uint16_t tag);

/* Opens path inside the directory root (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS). */
int open_in_root(int root, const char *path, int flags);

/* Ops in other files: each returns 0, or -1 with errno set and *what naming the path. */
int op_mkpath(struct op *op, const char **what);
int op_mount_in_root(struct op *op, const char **what);
int op_setattr(struct op *op, const char **what);
int op_mask(struct op *op, const char **what);
int op_keep_dir(struct op *op, const char **what);
int op_copy_tree(struct op *op, const char **what);
int op_mknod(struct op *op, const char **what);
int op_symlink(struct op *op, const char **what);
int op_pivot(struct op *op, const char **what);
int op_move_root(struct op *op, const char **what);
int op_check_cwd(struct op *op, const char **what);
int op_write_in_root(struct op *op, const char **what);
/* The PROCFS check of an op on fd (0 when it holds or none was asked; -1, errno and op_message if not). */
int check_procfs(const struct op *op, int fd, const char *name);
int op_bounding(struct op *op, const char **what);
int op_caps(struct op *op, const char **what);
int op_rlimit(struct op *op, const char **what);
int op_hook(struct op *op, const char **what);
int op_sync(struct op *op, const char **what);
int op_detach(struct op *op, const char **what);
int op_fifo_wait(struct op *op, const char **what);
int op_setns_pid(struct op *op, const char **what);
int op_seccomp(struct op *op, const char **what);
int op_console(struct op *op, const char **what);
int op_mkfifo(struct op *op, const char **what);
int op_connect(struct op *op, const char **what);
int op_socketpair(struct op *op, const char **what);
int op_pipe(struct op *op, const char **what);
int op_bpf_devices(struct op *op, const char **what);
int op_check_exec(struct op *op, const char **what);
int op_sched(struct op *op, const char **what);
int op_affinity(struct op *op, const char **what);
int op_idmap_tree(struct op *op, const char **what);
int op_attach(struct op *op, const char **what);

/* The container process state for a seccomp listener (SYNC SECCOMP_STATE), sent with the
 * listener fd by SECCOMP when it has a SLOT. */
extern char *seccomp_state;

/* H0's ends of the pty relay socket and of the detach pipe (-1: none). */
extern int relay_fd, detach_fd;

/* Receives one fd sent with SCM_RIGHTS. */
int receive_fd(int sock);

#endif
