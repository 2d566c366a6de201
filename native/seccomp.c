/* OP_SECCOMP: builds the filter with libseccomp from the rules P sent, and loads it. */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

char *seccomp_state;

#define MAX_ARGS 6

struct rule {
    uint32_t action;
    struct scmp_arg_cmp args[MAX_ARGS];
    unsigned nargs;
};

static int fail(int rc, const char *what) {
    snprintf(op_message, sizeof op_message, "libseccomp: %s: %s", what, strerror(-rc));
    errno = -rc;
    return -1;
}

static int decode_arg(struct fields c, struct scmp_arg_cmp *arg) {
    struct field f;
    memset(arg, 0, sizeof *arg);
    while (fields_next(&c, &f) == 1) {
        if (f.tag == T_TYPE) arg->arg = (unsigned)field_int(&f);
        else if (f.tag == T_VALUE) arg->datum_a = (scmp_datum_t)field_int(&f);
        else if (f.tag == T_VALUE2) arg->datum_b = (scmp_datum_t)field_int(&f);
        else if (f.tag == T_MODE) arg->op = (enum scmp_compare)field_int(&f);
    }
    return arg->arg < MAX_ARGS ? 0 : -1;
}

/* Adds one syscall's rule. Comparisons on the same argument are ORed as separate rules
 * (libseccomp ANDs the comparisons of one rule and refuses two on one argument). */
static int add_rule(scmp_filter_ctx ctx, int nr, const struct rule *r) {
    int same = 0;
    for (unsigned i = 0; i < r->nargs; i++)
        for (unsigned j = 0; j < i; j++)
            if (r->args[i].arg == r->args[j].arg) same = 1;
    if (!same) return seccomp_rule_add_array(ctx, r->action, nr, r->nargs, r->args);
    for (unsigned i = 0; i < r->nargs; i++) {
        int rc = seccomp_rule_add_array(ctx, r->action, nr, 1, &r->args[i]);
        if (rc < 0) return rc;
    }
    return 0;
}

static int add_rules(scmp_filter_ctx ctx, uint32_t default_action, struct fields c) {
    struct field f;
    struct rule r;
    memset(&r, 0, sizeof r);
    struct fields names = c;
    while (fields_next(&c, &f) == 1) {
        if (f.tag == T_ACTION) r.action = (uint32_t)field_int(&f);
        else if (f.tag == T_ARGCMP) {
            if (r.nargs >= MAX_ARGS || decode_arg(field_list(&f), &r.args[r.nargs]) < 0) return -EINVAL;
            r.nargs++;
        }
    }
    if (r.action == default_action) return 0; /* libseccomp refuses a rule that changes nothing */
    while (fields_next(&names, &f) == 1) {
        if (f.tag != T_NAME) continue;
        char *name = field_str(&f);
        int nr = seccomp_syscall_resolve_name(name);
        free(name);
        if (nr == __NR_SCMP_ERROR) continue; /* not a syscall on this architecture: skipped, as runc does */
        int rc = add_rule(ctx, nr, &r);
        if (rc < 0) return rc;
    }
    return 0;
}

/* SCMP_ACT_NOTIFY: the filter's listener fd goes to the socket in SLOT (connected by H0 to
 * linux.seccomp.listenerPath) with the container process state P gave (SYNC SECCOMP_STATE), in
 * one message (SCM_RIGHTS), as the runtime-spec asks; then both fds are closed here. Nothing else
 * runs between the load and this send: a filter that notifies on sendmsg is refused by P.
 * Returns 0 or -errno. */
static int send_listener(struct op *op, scmp_filter_ctx ctx) {
    if (op->slot < 0 || op->slot >= MAX_SLOTS || slots[op->slot] < 0) return -EBADF;
    if (!seccomp_state) return -EPROTO;
    int nfd = seccomp_notify_fd(ctx);
    if (nfd < 0) return nfd;
    struct iovec iov = { seccomp_state, strlen(seccomp_state) };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &nfd, sizeof(int));
    ssize_t n;
    do n = sendmsg(slots[op->slot], &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : (size_t)n != iov.iov_len ? EIO : 0;
    close(nfd);
    close(slots[op->slot]);
    slots[op->slot] = -1;
    return -err;
}

/* FLAGS bit 3 (8): send P the compiled program (SECCOMP_PROGRAM) before loading it, which P
 * keeps and sends again as DATA for the same filter: then it is loaded as it is, with no
 * libseccomp (crun keeps compiled filters by checksum the same way). Best effort: a program that
 * cannot be exported is just not sent. */
static void send_program(scmp_filter_ctx ctx) {
    _cleanup_fd_ int mfd = memfd_create("hako-seccomp", MFD_CLOEXEC);
    if (mfd < 0 || seccomp_export_bpf(ctx, mfd) < 0) return;
    off_t n = lseek(mfd, 0, SEEK_END);
    if (n <= 0 || n % (off_t)sizeof(struct sock_filter) != 0 || n > (off_t)(MAX_PAYLOAD / 2)) return;
    _cleanup_free_ char *buf = malloc((size_t)n);
    if (!buf || pread(mfd, buf, (size_t)n, 0) != n) return;
    _cleanup_out_ struct out o;
    out_begin(&o);
    out_bytes(&o, T_DATA, buf, (size_t)n);
    out_send(CTRL_FD, &o, MSG_SECCOMP_PROGRAM, next_seq++);
}

/* DATA: a program P kept (see send_program), loaded with seccomp(2) as libseccomp would load it
 * (no listener: P keeps no program of a filter that notifies). */
static int load_program(struct op *op) {
    size_t len = op->data_len / sizeof(struct sock_filter);
    if (len == 0 || len > 0xffff || op->data_len % sizeof(struct sock_filter) != 0) return fail(-EINVAL, "the compiled filter");
    struct sock_fprog prog = { (unsigned short)len, (struct sock_filter *)(void *)op->data };
    unsigned flags = ((op->flags & 1) ? SECCOMP_FILTER_FLAG_TSYNC : 0) | ((op->flags & 2) ? SECCOMP_FILTER_FLAG_LOG : 0)
                     | ((op->flags & 4) ? SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0) {
        snprintf(op_message, sizeof op_message, "seccomp(SECCOMP_SET_MODE_FILTER) of the compiled filter: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int op_seccomp(struct op *op, const char **what) {
    struct fields c = op->raw;
    struct field f;
    uint32_t default_action = SCMP_ACT_ALLOW;
    *what = "filter";
    if (op->data) return load_program(op);
    while (fields_next(&c, &f) == 1)
        if (f.tag == T_ACTION) default_action = (uint32_t)field_int(&f);
    int listener = 0; /* send_listener's result */
    scmp_filter_ctx ctx = seccomp_init(default_action);
    if (!ctx) return fail(-EINVAL, "seccomp_init");
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); /* no_new_privs only when the config asks */
    if (rc < 0) goto out;
    if (op->flags & 1) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc == 0 && (op->flags & 2)) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
    if (rc == 0 && (op->flags & 4)) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
    if (rc < 0) goto out;
    c = op->raw;
    while (rc == 0 && fields_next(&c, &f) == 1) {
        if (f.tag == T_ARCH) {
            char *name = field_str(&f);
            uint32_t arch = seccomp_arch_resolve_name(name);
            free(name);
            if (arch == 0) continue; /* unknown to this libseccomp */
            rc = seccomp_arch_add(ctx, arch);
            if (rc == -EEXIST) rc = 0;
        } else if (f.tag == T_RULE) {
            rc = add_rules(ctx, default_action, field_list(&f));
        }
    }
    if (rc == 0 && (op->flags & 8)) send_program(ctx);
    if (rc == 0) rc = seccomp_load(ctx);
    if (rc == 0 && op->seen[T_SLOT / 64] >> (T_SLOT % 64) & 1) listener = rc = send_listener(op, ctx);
out:
    seccomp_release(ctx);
    if (listener < 0) {
        snprintf(op_message, sizeof op_message, "cannot send the listener fd to linux.seccomp.listenerPath: %s", strerror(-listener));
        errno = -listener;
        return -1;
    }
    return rc < 0 ? fail(rc, "building or loading the filter") : 0;
}
