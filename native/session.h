/* The helper's session (session.c): H0's life once its fds are in place. Used by main.c (the helper
 * spawned by hako) and zygote.c (an H0 the zygote forked). */
#ifndef HAKO_SESSION_H
#define HAKO_SESSION_H

/* Serves one command: READ_IN_ROOT requests, then PLAN (or NSINFO, OOM_WATCH) on the control socket
 * ctrl; execfd is the exec socket or -1; ahead the CLONE_NEW* flags of namespaces to make ahead
 * of the plan (--ahead, 0: none). Returns the helper's exit status. */
int helper_session(int ctrl, int execfd, int ahead);

#endif
