/* The helper's side of the protocol in docs/PROTOCOL.md: numbers, frames, fields. */
#ifndef HAKO_PROTO_H
#define HAKO_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "ops_table.h"

/* The control socket: fd 3 unless argv[1] names another (when fds 3.. are preserved fds). */
extern int ctrl_fd;
#define CTRL_FD ctrl_fd
#define MAX_PAYLOAD (1u << 20)

enum msg_type {
    MSG_PLAN = 1, MSG_ACK = 2, MSG_ABORT = 3, MSG_NSINFO = 4, MSG_READ_IN_ROOT = 5, MSG_OOM_WATCH = 6,
    MSG_AHEAD = 7,
    MSG_IDMAP_REQUEST = 16, MSG_SPAWNED = 17, MSG_PRE_EXEC = 18, MSG_EXITED = 19,
    MSG_LOG = 20, MSG_ERROR = 21, MSG_NSINFO_RESULT = 22, MSG_READY = 23, MSG_HOOKS = 24,
    MSG_READ_RESULT = 25, MSG_OOM = 26, MSG_SECCOMP_STATE = 27,
    MSG_NETWORK_REQUEST = 28, MSG_SECCOMP_PROGRAM = 29, MSG_EXEC_REQUEST = 30,
};

/* The field tags: X(NAME, number); T_NAME in C, Tag.NAME in src/helper/protocol.ts. */
#define HAKO_TAGS(X) \
    X(EXPLAIN, 1) \
    X(KILL_SIGNAL, 2) \
    X(NS_OP, 3) \
    X(INIT_OP, 4) \
    X(KIND, 5) \
    X(NSTYPE, 6) \
    X(PATH, 7) \
    X(FLAGS, 8) \
    X(DATA, 9) \
    X(SLOT, 10) \
    X(SOURCE, 11) \
    X(TARGET, 12) \
    X(FSTYPE, 13) \
    X(NAME, 14) \
    X(ID, 15) \
    X(ARG, 16) \
    X(ENV, 17) \
    X(MODE, 18) \
    X(PID, 32) \
    X(STATUS, 33) \
    X(SIGNAL, 34) \
    X(CORE, 35) \
    X(STAGE, 36) \
    X(OP, 37) \
    X(ERRNO, 38) \
    X(ERRNAME, 39) \
    X(MESSAGE, 40) \
    X(DETAIL, 41) \
    X(RESULT, 42) \
    X(ENTRY, 43) \
    X(INODE, 44) \
    X(OWNER, 45) \
    X(PARENT, 46) \
    X(ROOT, 47) \
    X(TYPE, 48) \
    X(OPTIONAL, 49) \
    X(VALUE, 50) \
    X(VALUE2, 51) \
    X(SET, 52) \
    X(CLEAR, 53) \
    X(PROPAGATION, 54) \
    X(RULE, 55) \
    X(ARCH, 56) \
    X(ACTION, 57) \
    X(ARGCMP, 58) \
    X(HOST_OP, 61) \
    X(CAP_BOUNDING, 62) \
    X(CAP_EFFECTIVE, 63) \
    X(CAP_PERMITTED, 64) \
    X(CAP_INHERITABLE, 65) \
    X(CAP_AMBIENT, 66) \
    X(PROCFS, 67) \
    X(SOURCE_IN_ROOT, 68)

#define HAKO_TAG_ENUM(name, n) T_##name = n,
enum tag { HAKO_TAGS(HAKO_TAG_ENUM) };
#undef HAKO_TAG_ENUM

/* "PATH" for T_PATH ("?" for a tag not in the table). */
const char *tag_name(unsigned tag);

/* The op kinds: OP_NAME, from the op table (ops_table.h). */
#define HAKO_OP_ENUM(name, n, text, stages, required) OP_##name = n,
enum op_kind { HAKO_OPS(HAKO_OP_ENUM) };
#undef HAKO_OP_ENUM

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

/* An outgoing frame under construction: it grows (on the heap) up to the protocol's frame limit;
 * past it, or without memory, it is marked overflowed and out_send refuses it with an ERROR.
 * out_send frees it; declare one with _cleanup_out_ so an early return frees it too. */
struct out {
    unsigned char *buf;
    size_t len, cap;
    int overflow;
};
void out_free(struct out *o);
#define _cleanup_out_ __attribute__((cleanup(out_free)))

/* Cleanup helpers (as bubblewrap's and crun's): an fd closed and a pointer freed when the variable
 * goes out of scope, on every return path. take_fd/take_ptr hand the value on (the variable is
 * left -1/NULL). */
void cleanup_fdp(int *fd);
void cleanup_freep(void *p);
#define _cleanup_fd_ __attribute__((cleanup(cleanup_fdp)))
#define _cleanup_free_ __attribute__((cleanup(cleanup_freep)))
static inline int take_fd(int *fd) { int r = *fd; *fd = -1; return r; }
static inline void *take_ptr(void *pp) { void **p = (void **)pp; void *r = *p; *p = 0; return r; }

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
/* Sends and frees o. An overflowed o is not sent: an ERROR says so instead (-1, EMSGSIZE). */
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
/* The same with STATUS: the exit status the stage exits with (a failed exec: 126 or 127). */
void report_error_status(const char *op, const char *path, int err, const char *message, int status);
/* With EXPLAIN, tell P an op ran (result 0 or an errno). */
void explain_op(const char *op, const char *detail, int result);
/* Send a request and wait for its reply. Returns the reply type, or -1 on EOF/error. */
int request(uint16_t type, struct out *o);
/* request_reply, with this process dumpable while P answers (it works on /proc/PID). */
int request_dumpable(uint16_t type, struct out *o, struct frame *reply);
/* The same, keeping the reply (its payload is the caller's to free) */
int request_reply(uint16_t type, struct out *o, struct frame *reply);

/* OOM_WATCH: watch a cgroup v1 memory directory for OOM (oomwatch.c). Returns the exit status. */
int oom_watch(struct frame *f);

#endif
