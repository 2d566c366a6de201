/* The op interpreter: runs the NS_OP and INIT_OP lists of a plan (docs/PROTOCOL.md). */
#ifndef HAKO_OPS_H
#define HAKO_OPS_H

#include "proto.h"

#define MAX_SLOTS 8

/* The signal the command gets when H0 dies (0: none), set just before EXEC. */
extern int exec_death_signal;

/* Runs every op in list whose field tag is `tag`. Returns 0, or -1 after reporting an ERROR.
 * On success of OP_EXEC this never returns. */
int run_ops(struct fields list, uint16_t tag);

/* The exit code for a failed exec of errno err: 127 not found, 126 otherwise. */
int exec_failure_code(int err);

#endif
