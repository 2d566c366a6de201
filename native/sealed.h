/* Running from a sealed copy of the helper's binary (sealed.c): no process in a container can then
 * write to the helper through /proc/PID/exe (CVE-2019-5736). Used by main.c (the helper spawned
 * with --sealed, and the zygote) and front.c (the helpers it forks). */
#ifndef HAKO_SEALED_H
#define HAKO_SEALED_H

/* Re-executes this binary from a sealed copy of itself; returns only on failure (-1, errno). */
int reexec_sealed(char **argv);

/* This process runs from such a copy. */
int running_sealed(void);

#endif
