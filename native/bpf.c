/* OP_BPF_DEVICES (H0, before it forks): loads the cgroup v2 device filter P compiled (eBPF
 * instructions in DATA) and attaches it to the cgroup directory PATH. */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int op_bpf_devices(struct op *op, const char **what) {
    *what = op->path;
    if (!op->data || op->data_len == 0 || op->data_len % sizeof(struct bpf_insn) != 0) return errno = EINVAL, -1;
    static char log[4096];
    union bpf_attr load;
    memset(&load, 0, sizeof load);
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = (uint64_t)(uintptr_t)op->data;
    load.insn_cnt = (uint32_t)(op->data_len / sizeof(struct bpf_insn));
    load.license = (uint64_t)(uintptr_t) "Apache";
    int prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
    if (prog < 0) {
        /* again with the verifier's log, for the message only (a long log of a program that
         * passes would fail with ENOSPC, so it is not asked for the first time) */
        log[0] = 0;
        load.log_buf = (uint64_t)(uintptr_t)log;
        load.log_size = sizeof log;
        load.log_level = 1;
        prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
    }
    if (prog < 0) {
        int err = errno;
        /* the verifier's last words say why */
        const char *end = log + strnlen(log, sizeof log);
        const char *line = end;
        while (line > log && (line[-1] == '\n')) line--;
        while (line > log && line[-1] != '\n') line--;
        snprintf(op_message, sizeof op_message, "loading the device filter: %s (%.*s)", strerror(err), (int)(end - line), line);
        return errno = err, -1;
    }
    int cg = open(op->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0) {
        int err = errno;
        close(prog);
        return errno = err, -1;
    }
    union bpf_attr attach;
    memset(&attach, 0, sizeof attach);
    attach.target_fd = (uint32_t)cg;
    attach.attach_bpf_fd = (uint32_t)prog;
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = BPF_F_ALLOW_MULTI;
    long r = syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach);
    int err = errno;
    close(cg);
    close(prog); /* the cgroup holds the attached program */
    return r < 0 ? (errno = err, -1) : 0;
}
