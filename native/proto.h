/* The helper's side of the protocol in docs/PROTOCOL.md: numbers, frames, fields. */
#ifndef HAKO_PROTO_H
#define HAKO_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* The control socket: fd 3 unless argv[1] names another (when fds 3.. are preserved fds). */
extern int ctrl_fd;
#define CTRL_FD ctrl_fd
#define MAX_PAYLOAD (1u << 20)

enum msg_type {
    MSG_PLAN = 1, MSG_ACK = 2, MSG_ABORT = 3, MSG_NSINFO = 4, MSG_READ_IN_ROOT = 5,
    MSG_IDMAP_REQUEST = 16, MSG_SPAWNED = 17, MSG_PRE_EXEC = 18, MSG_EXITED = 19,
    MSG_LOG = 20, MSG_ERROR = 21, MSG_NSINFO_RESULT = 22, MSG_READY = 23, MSG_HOOKS = 24,
    MSG_READ_RESULT = 25,
};

enum tag {
    T_EXPLAIN = 1, T_KILL_SIGNAL = 2, T_NS_OP = 3, T_INIT_OP = 4, T_KIND = 5, T_NSTYPE = 6,
    T_PATH = 7, T_FLAGS = 8, T_DATA = 9, T_SLOT = 10, T_SOURCE = 11, T_TARGET = 12,
    T_FSTYPE = 13, T_NAME = 14, T_ID = 15, T_ARG = 16, T_ENV = 17, T_MODE = 18,
    T_PID = 32, T_STATUS = 33, T_SIGNAL = 34, T_CORE = 35, T_STAGE = 36, T_OP = 37,
    T_ERRNO = 38, T_ERRNAME = 39, T_MESSAGE = 40, T_DETAIL = 41, T_RESULT = 42,
    T_ENTRY = 43, T_INODE = 44, T_OWNER = 45, T_PARENT = 46,
    T_ROOT = 47, T_TYPE = 48, T_OPTIONAL = 49, T_VALUE = 50, T_VALUE2 = 51, T_SET = 52,
    T_CLEAR = 53, T_PROPAGATION = 54, T_RULE = 55, T_ARCH = 56, T_ACTION = 57, T_ARGCMP = 58,
    T_HOST_OP = 61, T_CAP_BOUNDING = 62, T_CAP_EFFECTIVE = 63,
    T_CAP_PERMITTED = 64, T_CAP_INHERITABLE = 65, T_CAP_AMBIENT = 66, T_PROCFS = 67,
    T_SOURCE_IN_ROOT = 68,
};

enum op_kind {
    OP_SETNS = 1, OP_UNSHARE = 2, OP_IDMAP = 3, OP_WRITE = 4, OP_OPEN_DIR = 5,
    OP_MOUNT = 16, OP_HOSTNAME = 17, OP_DOMAINNAME = 18, OP_CHROOT = 19, OP_CHDIR = 20,
    OP_FCHROOT = 21, OP_FCHDIR = 22, OP_SETGROUPS = 23, OP_SETGID = 24, OP_SETUID = 25,
    OP_EXEC = 26, OP_MKDIR = 27, OP_LINK_UP = 28,
    OP_MKPATH = 29, OP_MOUNT_IN_ROOT = 30, OP_SETATTR = 31, OP_MASK = 32, OP_MKNOD = 33,
    OP_SYMLINK = 34, OP_PIVOT = 35, OP_MOVE_ROOT = 36, OP_CHECK_CWD = 37, OP_BOUNDING = 38,
    OP_CAPS = 39, OP_KEEPCAPS = 40, OP_RLIMIT = 41, OP_UMASK = 42, OP_NNP = 43, OP_SECCOMP = 44,
    OP_CONSOLE = 45, OP_HOOK = 46, OP_SYNC = 47, OP_DETACH = 48, OP_FIFO_WAIT = 49,
    OP_CLOEXEC_FROM = 50, OP_SETSID = 51, OP_SETNS_PID = 52, OP_MKFIFO = 53, OP_CONNECT = 54,
    OP_SOCKETPAIR = 55, OP_PIPE = 56, OP_KEYRING = 57, OP_PERSONALITY = 58, OP_BPF_DEVICES = 59, OP_CHECK_EXEC = 60,
};

/* A received frame. The payload is owned by the frame. */
struct frame {
    uint16_t type;
    uint32_t seq;
    uint32_t len;
    unsigned char *payload;
};

/* A cursor over a field list. */
struct fields {
    const unsigned char *p, *end;
};

struct field {
    uint16_t tag;
    uint32_t len;
    const unsigned char *value;
};

/* An outgoing frame under construction. */
struct out {
    unsigned char buf[65536];
    size_t len;
    int overflow;
};

int frame_read(int fd, struct frame *f);          /* 1: frame, 0: EOF, -1: error (errno) */
int fields_next(struct fields *c, struct field *f); /* 1: field, 0: end, -1: malformed */
int64_t field_int(const struct field *f);
char *field_str(const struct field *f);            /* a NUL-terminated copy */
struct fields field_list(const struct field *f);

void out_begin(struct out *o);
void out_int(struct out *o, uint16_t tag, int64_t v);
void out_str(struct out *o, uint16_t tag, const char *s);
void out_bytes(struct out *o, uint16_t tag, const void *v, size_t n);
size_t out_open(struct out *o, uint16_t tag);       /* begin a nested list; returns its mark */
void out_close(struct out *o, size_t mark);
int out_send(int fd, struct out *o, uint16_t type, uint32_t seq);
/* out_send with one more field after o's, whose value (up to MAX_PAYLOAD) is too big for o */
int out_send_tail(int fd, struct out *o, uint16_t type, uint32_t seq, uint16_t tag, const void *v, size_t n);

/* The stage name this process reports in LOG and ERROR ("host", "ns", "init"). */
extern const char *stage_name;
extern int explain;
extern uint32_t next_seq;
/* The index of the op being run (-1 outside an op list): sent with LOG and ERROR. */
extern int current_op;

/* Report a failed operation (errno taken from err) to P. */
void report_error(const char *op, const char *path, int err, const char *message);
/* With EXPLAIN, tell P an op ran (result 0 or an errno). */
void explain_op(const char *op, const char *detail, int result);
/* Send a request and wait for its reply. Returns the reply type, or -1 on EOF/error. */
int request(uint16_t type, struct out *o);
/* The same, keeping the reply (its payload is the caller's to free) */
int request_reply(uint16_t type, struct out *o, struct frame *reply);

#endif
