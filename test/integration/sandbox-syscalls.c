/* Tries what the sandbox's seccomp filter denies and prints one line per attempt:
 * NAME errno-name (or NAME ok). The 32-bit ABI is tried in a child (int 0x80 getpid):
 * the filter kills it, and "int80 killed SIG" is printed. Built static by the test. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long rc) {
    if (rc < 0) printf("%s %s\n", name, strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
    else printf("%s ok\n", name);
    fflush(stdout);
}

int main(void) {
    char params[120] = {0};
    report("io_uring_setup", syscall(SYS_io_uring_setup, 4, params));
    report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0));
    report("add_key", syscall(SYS_add_key, "user", "hako", "x", 1, -3));
    report("bpf", syscall(SYS_bpf, 0, NULL, 0));
    report("userfaultfd", syscall(SYS_userfaultfd, 0));
    report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    report("ptrace", syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 1, 0, 0));
    report("unshare_user", syscall(SYS_unshare, CLONE_NEWUSER));
    long c = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (c == 0) _exit(0);
    if (c > 0) waitpid((pid_t)c, NULL, 0);
    report("clone_user", c);
#if defined(__x86_64__)
    pid_t pid = fork();
    if (pid == 0) {
        long ret;
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20 /* getpid on i386 */) : "memory");
        printf("int80 returned %ld\n", ret);
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) printf("int80 killed %d\n", WTERMSIG(status));
    else printf("int80 exited %d\n", WEXITSTATUS(status));
#endif
    return 0;
}
