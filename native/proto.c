/* Frames and fields on the control socket (docs/PROTOCOL.md). */
#define _GNU_SOURCE
#include "proto.h"

#include <sys/prctl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *stage_name = "host";
int explain = 0;
uint32_t next_seq = 1;
int current_op = -1;
int ctrl_fd = 3;

static void put16(unsigned char *p, uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (v >> (8 * i)) & 0xff; }
static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static int read_full(int fd, void *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, (char *)buf + done, n - done);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) return done == 0 ? 0 : (errno = EPROTO, -1);
        done += (size_t)r;
    }
    return 1;
}

static int write_full(int fd, const void *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const char *)buf + done, n - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

void cleanup_fdp(int *fd) {
    if (*fd >= 0) {
        int err = errno;
        close(*fd);
        errno = err;
    }
}

void cleanup_freep(void *p) {
    int err = errno;
    free(*(void **)p);
    errno = err;
}

const char *tag_name(unsigned tag) {
    switch (tag) {
#define HAKO_TAG_CASE(name, n) case n: return #name;
    HAKO_TAGS(HAKO_TAG_CASE)
#undef HAKO_TAG_CASE
    default: return "?";
    }
}

int frame_read(int fd, struct frame *f) {
    unsigned char h[12];
    f->payload = NULL;
    int r = read_full(fd, h, sizeof h);
    if (r <= 0) return r;
    f->len = get32(h);
    f->type = get16(h + 4);
    f->seq = get32(h + 8);
    if (f->len > MAX_PAYLOAD) {
        errno = EMSGSIZE;
        return -1;
    }
    _cleanup_free_ unsigned char *payload = malloc(f->len ? f->len : 1);
    if (!payload) return -1;
    if (f->len && read_full(fd, payload, f->len) != 1) {
        if (errno == 0) errno = EPROTO;
        return -1;
    }
    f->payload = take_ptr(&payload);
    return 1;
}

int fields_next(struct fields *c, struct field *f) {
    if (c->p == c->end) return 0;
    if (c->end - c->p < 6) return -1;
    f->tag = get16(c->p);
    f->len = get32(c->p + 2);
    if ((size_t)(c->end - c->p - 6) < f->len) return -1;
    f->value = c->p + 6;
    c->p += 6 + f->len;
    return 1;
}

int64_t field_int(const struct field *f) {
    uint64_t v = 0;
    for (unsigned i = 0; i < 8 && i < f->len; i++) v |= (uint64_t)f->value[i] << (8 * i);
    return (int64_t)v;
}

char *field_str(const struct field *f) {
    char *s = malloc(f->len + 1);
    if (!s) abort(); /* a 1 MiB frame at most: running out here is not recoverable */
    memcpy(s, f->value, f->len);
    s[f->len] = 0;
    return s;
}

struct fields field_list(const struct field *f) {
    struct fields c = { f->value, f->value + f->len };
    return c;
}

void out_begin(struct out *o) {
    o->buf = NULL;
    o->len = 12;
    o->cap = 0;
    o->overflow = 0;
}

void out_free(struct out *o) {
    free(o->buf);
    o->buf = NULL;
    o->cap = 0;
}

/* Room for n more bytes: doubles up to the frame limit (header included). */
static int out_reserve(struct out *o, size_t n) {
    if (o->overflow) return -1;
    if (n > MAX_PAYLOAD + 12 - o->len) return o->overflow = 1, -1;
    if (o->len + n <= o->cap) return 0;
    size_t cap = o->cap ? o->cap : 4096;
    while (cap < o->len + n) cap *= 2;
    if (cap > MAX_PAYLOAD + 12) cap = MAX_PAYLOAD + 12;
    unsigned char *buf = realloc(o->buf, cap);
    if (!buf) return o->overflow = 1, -1;
    o->buf = buf;
    o->cap = cap;
    return 0;
}

void out_bytes(struct out *o, uint16_t tag, const void *v, size_t n) {
    if (n > MAX_PAYLOAD || out_reserve(o, 6 + n) < 0) {
        o->overflow = 1;
        return;
    }
    put16(o->buf + o->len, tag);
    put32(o->buf + o->len + 2, (uint32_t)n);
    if (n) memcpy(o->buf + o->len + 6, v, n);
    o->len += 6 + n;
}

void out_int(struct out *o, uint16_t tag, int64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = ((uint64_t)v >> (8 * i)) & 0xff;
    out_bytes(o, tag, b, 8);
}

void out_str(struct out *o, uint16_t tag, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n > 4096) n = 4096; /* paths and messages; longer ones are cut, never dropped */
    out_bytes(o, tag, s, n);
}

size_t out_open(struct out *o, uint16_t tag) {
    size_t mark = o->len;
    out_bytes(o, tag, NULL, 0);
    return mark;
}

void out_close(struct out *o, size_t mark) {
    if (!o->overflow) put32(o->buf + mark + 2, (uint32_t)(o->len - mark - 6));
}

/* An overflowed frame is never sent: an ERROR names it instead, so P is not left waiting. */
static int refuse_overflow(struct out *o, uint16_t type) {
    out_free(o);
    if (type != MSG_ERROR) {
        char message[128];
        snprintf(message, sizeof message, "the helper's message (type %u) would be larger than %u bytes", type, MAX_PAYLOAD);
        report_error("reply", NULL, EMSGSIZE, message);
    }
    errno = EMSGSIZE;
    return -1;
}

static void put_header(struct out *o, size_t payload, uint16_t type, uint32_t seq) {
    put32(o->buf, (uint32_t)payload);
    put16(o->buf + 4, type);
    put16(o->buf + 6, 0);
    put32(o->buf + 8, seq);
}

int out_send(int fd, struct out *o, uint16_t type, uint32_t seq) {
    if (out_reserve(o, 0) < 0) return refuse_overflow(o, type); /* out_reserve: the header at least */
    put_header(o, o->len - 12, type, seq);
    int r = write_full(fd, o->buf, o->len);
    out_free(o);
    return r;
}

int out_send_tail(int fd, struct out *o, uint16_t type, uint32_t seq, uint16_t tag, const void *v, size_t n) {
    if (out_reserve(o, 0) < 0 || n > MAX_PAYLOAD || o->len - 12 + 6 + n > MAX_PAYLOAD) return refuse_overflow(o, type);
    unsigned char head[6];
    put_header(o, o->len - 12 + 6 + n, type, seq);
    put16(head, tag);
    put32(head + 2, (uint32_t)n);
    int r = write_full(fd, o->buf, o->len) < 0 || write_full(fd, head, sizeof head) < 0 ? -1 : n ? write_full(fd, v, n) : 0;
    out_free(o);
    return r;
}

void report_error(const char *op, const char *path, int err, const char *message) {
    report_error_status(op, path, err, message, -1);
}

void report_error_status(const char *op, const char *path, int err, const char *message, int status) {
    _cleanup_out_ struct out o;
    out_begin(&o);
    out_str(&o, T_STAGE, stage_name);
    out_str(&o, T_OP, op);
    if (path) out_str(&o, T_PATH, path);
    out_int(&o, T_ERRNO, err);
    const char *name = err ? strerrorname_np(err) : NULL;
    out_str(&o, T_ERRNAME, name ? name : "");
    out_str(&o, T_MESSAGE, message ? message : (err ? strerror(err) : ""));
    if (current_op >= 0) out_int(&o, T_ID, current_op);
    if (status >= 0) out_int(&o, T_STATUS, status);
    out_send(CTRL_FD, &o, MSG_ERROR, next_seq++); /* nothing more can be done if this fails */
}

void explain_op(const char *op, const char *detail, int result) {
    if (!explain) return;
    _cleanup_out_ struct out o;
    out_begin(&o);
    out_str(&o, T_STAGE, stage_name);
    out_str(&o, T_OP, op);
    out_str(&o, T_DETAIL, detail ? detail : "");
    out_int(&o, T_RESULT, result);
    out_int(&o, T_PID, getpid());
    if (current_op >= 0) out_int(&o, T_ID, current_op);
    out_send(CTRL_FD, &o, MSG_LOG, next_seq++);
}

int request_reply(uint16_t type, struct out *o, struct frame *reply) {
    uint32_t seq = next_seq++;
    reply->payload = NULL;
    if (out_send(CTRL_FD, o, type, seq) < 0) return -1;
    int r = frame_read(CTRL_FD, reply);
    if (r <= 0) return -1;
    return reply->type;
}

int request_dumpable(uint16_t type, struct out *o, struct frame *reply) {
    /* a non-dumpable process's /proc/PID files are root's: hako without root could not write its
     * maps, nor could a user-mode network driver join its namespaces. Dumpable only while P
     * works on it (no container process exists yet), as runc's nsexec does for the maps */
    int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (dumpable < 0) return -1;
    if (dumpable == 0 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) return -1;
    int t = request_reply(type, o, reply);
    if (dumpable == 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        if (t >= 0) free(reply->payload);
        reply->payload = NULL;
        return -1;
    }
    return t;
}

int request(uint16_t type, struct out *o) {
    struct frame f;
    int t = request_reply(type, o, &f);
    free(f.payload);
    return t;
}
