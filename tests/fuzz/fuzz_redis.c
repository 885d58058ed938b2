/*
 * fuzz_redis.c - the Redis protocol parser of redis_server.c
 * (examples/servers/resp_parse.h) on bytes delivered in arbitrary chunks,
 * driven as the server drives it: parse every whole command in what has
 * been received, keep the rest, receive more. Under ASan only the received
 * and unused bytes are readable, so a read past the received data is caught.
 *
 * Input: one byte n (mod 8), n chunk sizes (see fuzz_chunks), one mode
 * byte, the rest. Mode even: the rest is the stream, and the commands found
 * must be the same delivered whole or in chunks, each consistent with the
 * bytes it was parsed from (an array re-encodes to exactly those bytes),
 * incomplete one byte short, and every integer parsed must agree with a
 * reference parse. Mode odd: the rest describes commands (argument counts,
 * lengths, bytes), which are encoded as arrays or inline lines, pipelined
 * and delivered in chunks: every one must be found, with its arguments.
 * The limits are smaller than the server's (below), so that they are met.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"

/* The server's limits, made small enough for inputs of a few KiB to pass
 * them (the code is the same). */
#define RESP_MAX 2048
#define RESP_INLINE_MAX 512
#include "resp_parse.h"

#define CMDS_MAX 512

/* A command as found: where it began in the stream, its length, its words
 * as offsets into the stream. */
typedef struct found {
    size_t at, len;
    int argc;
    size_t arg_at[RESP_ARGS_MAX], arg_len[RESP_ARGS_MAX];
} found;

/* What a whole run found: the commands, then how it ended (a RESP_E* code,
 * or 0 with tail bytes of an incomplete command left). */
typedef struct run {
    found cmd[CMDS_MAX];
    int n;
    long end;
    size_t tail;
} run;

/* The reference integer parse: Redis's grammar checked byte by byte, the
 * value and its range from strtoll on a NUL-terminated copy. */
static int ref_int(const char *s, size_t n, long long *v)
{
    char tmp[64], *end;
    size_t i, neg;

    if (n == 0 || n >= sizeof tmp)
        return 0;
    neg = s[0] == '-';
    if (neg == n || (s[neg] == '0' && n > 1))
        return 0; /* "-", leading zeros, "-0" */
    for (i = neg; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    *v = strtoll(tmp, &end, 10);
    return errno == 0 && end == tmp + n;
}

static void check_int(const char *s, size_t n)
{
    long long a = 0, b = 0;
    int ok = resp_int(s, n, &a);

    FUZZ_CHECK(ok == ref_int(s, n, &b));
    FUZZ_CHECK(!ok || a == b);
}

/* The command c, parsed from s[0, len): its words lie in order within it,
 * an array re-encodes to exactly those bytes, an inline line is its words
 * and separators, and one byte fewer is incomplete. */
static void check_command(const char *s, size_t len, const resp_cmd *c, char *tmp)
{
    resp_cmd again;
    size_t at = 0;

    FUZZ_CHECK(c->argc >= 0 && c->argc <= RESP_ARGS_MAX);
    for (int i = 0; i < c->argc; i++) {
        FUZZ_CHECK(c->argv[i].p >= s + at && c->argv[i].p + c->argv[i].n <= s + len);
        at = (size_t)(c->argv[i].p - s) + c->argv[i].n;
        check_int(c->argv[i].p, c->argv[i].n);
    }
    if (s[0] == '*' && c->argc > 0) {
        size_t n = (size_t)sprintf(tmp, "*%d\r\n", c->argc);
        for (int i = 0; i < c->argc; i++) {
            n += (size_t)sprintf(tmp + n, "$%zu\r\n", c->argv[i].n);
            memcpy(tmp + n, c->argv[i].p, c->argv[i].n);
            memcpy(tmp + n + c->argv[i].n, "\r\n", 2);
            n += c->argv[i].n + 2;
        }
        FUZZ_CHECK(n == len && memcmp(tmp, s, n) == 0);
    } else if (s[0] == '*') {
        long long count;
        FUZZ_CHECK(len >= 4 && memcmp(s + len - 2, "\r\n", 2) == 0);
        FUZZ_CHECK(ref_int(s + 1, len - 3, &count) && count <= 0);
    } else {
        FUZZ_CHECK(s[len - 1] == '\n' && memchr(s, '\n', len - 1) == NULL);
        FUZZ_CHECK(len <= RESP_INLINE_MAX);
        memset(tmp, 0, len); /* 1: inside a word */
        for (int i = 0; i < c->argc; i++) {
            FUZZ_CHECK(c->argv[i].n > 0);
            memset(tmp + (c->argv[i].p - s), 1, c->argv[i].n);
        }
        for (size_t i = 0; i + 1 < len; i++)
            FUZZ_CHECK(tmp[i] ? !resp_space(s[i]) : resp_space(s[i]));
    }
    FUZZ_CHECK(resp_parse(s, len - 1, &again) == 0);
}

/*
 * Delivers stream[0, n) in the chunks ch gives into a buffer and parses as
 * the server does, into *r. Between chunks, only the bytes received and not
 * used are readable. tmp: room for re-encoding a command.
 */
static void deliver(const uint8_t *stream, size_t n, fuzz_chunks ch, run *r, char *tmp)
{
    size_t cap = (n + 7) / 8 * 8 + 8, have = 0, used = 0;
    char *buf = malloc(cap);
    resp_cmd c;
    long k = 0;

    FUZZ_CHECK(buf != NULL);
    r->n = 0;
    while (have < n) {
        size_t got = fuzz_chunk(&ch, n - have);
        fuzz_window(buf, cap, 0, cap); /* receiving writes the next bytes */
        memcpy(buf + have, stream + have, got);
        have += got;
        fuzz_window(buf, cap, used, have);
        while ((k = resp_parse(buf + used, have - used, &c)) > 0) {
            found *f = &r->cmd[r->n % CMDS_MAX];
            FUZZ_CHECK((size_t)k <= have - used);
            check_command(buf + used, (size_t)k, &c, tmp);
            f->at = used;
            f->len = (size_t)k;
            f->argc = c.argc;
            for (int i = 0; i < c.argc; i++) {
                f->arg_at[i] = (size_t)(c.argv[i].p - buf);
                f->arg_len[i] = c.argv[i].n;
            }
            r->n++;
            used += (size_t)k;
            fuzz_window(buf, cap, used, have);
        }
        if (k < 0)
            break;
    }
    FUZZ_CHECK(k <= 0 && k >= RESP_EINLINE);
    FUZZ_CHECK(k == 0 || strcmp(resp_strerror(k), "unknown") != 0);
    FUZZ_CHECK(k != RESP_EDOLLAR || c.got != '$');
    r->end = k;
    r->tail = have - used;
    fuzz_window(buf, cap, 0, cap);
    free(buf);
}

static int same_commands(const run *a, const run *b)
{
    if (a->n != b->n || a->end != b->end)
        return 0;
    for (int i = 0; i < a->n && i < CMDS_MAX; i++) {
        const found *x = &a->cmd[i], *y = &b->cmd[i];
        if (x->at != y->at || x->len != y->len || x->argc != y->argc)
            return 0;
        for (int j = 0; j < x->argc; j++)
            if (x->arg_at[j] != y->arg_at[j] || x->arg_len[j] != y->arg_len[j])
                return 0;
    }
    return a->end != 0 || a->tail == b->tail;
}

static run whole, chunked;

/* Mode even: any bytes. */
static void raw(const uint8_t *s, size_t n, fuzz_chunks ch, char *tmp)
{
    fuzz_chunks one = {NULL, 0, 0};
    size_t line = 0;

    deliver(s, n, one, &whole, tmp);
    deliver(s, n, ch, &chunked, tmp);
    FUZZ_CHECK(same_commands(&whole, &chunked));
    for (size_t i = 0; i < n; i++) /* every line, as an integer */
        if (s[i] == '\r' || s[i] == '\n' || s[i] == ' ') {
            check_int((const char *)s + line, i - line);
            check_int((const char *)s + line + 1, i - line > 0 ? i - line - 1 : 0);
            line = i + 1;
        }
}

/* Mode odd: commands described by the input, encoded, pipelined. */
static void pipeline(fuzz_in *in, fuzz_chunks ch, char *tmp)
{
    static uint8_t stream[1 << 20];
    static size_t arg_at[CMDS_MAX][8], arg_len[CMDS_MAX][8];
    static int argc[CMDS_MAX];
    size_t n = 0;
    int cmds = 0;

    while (fuzz_more(in) && cmds < CMDS_MAX && n < sizeof stream - 8 * 300) {
        int inl = fuzz_u8(in) & 1, k = 1 + (int)fuzz_below(in, 8);

        n += inl ? 0 : (size_t)sprintf((char *)stream + n, "*%d\r\n", k);
        for (int i = 0; i < k; i++) {
            size_t len = fuzz_below(in, inl ? 60 : 200); /* within the limits */
            if (!inl)
                n += (size_t)sprintf((char *)stream + n, "$%zu\r\n", len);
            else if (i > 0)
                stream[n++] = fuzz_u8(in) & 1 ? '\t' : ' ';
            arg_at[cmds][i] = n;
            for (size_t j = 0; j < len; j++) {
                uint8_t b = (uint8_t)fuzz_u8(in);
                if (inl && (resp_space((char)b) || (i == 0 && j == 0 && b == '*')))
                    b = 'x'; /* an inline word: no separator, not an array */
                stream[n++] = b;
            }
            if (inl && len == 0)
                stream[n++] = 'w'; /* inline words are never empty */
            arg_len[cmds][i] = n - arg_at[cmds][i];
            if (!inl) {
                memcpy(stream + n, "\r\n", 2);
                n += 2;
            }
        }
        if (inl && fuzz_u8(in) & 1)
            stream[n++] = '\r';
        if (inl)
            stream[n++] = '\n';
        argc[cmds++] = k;
    }
    deliver(stream, n, ch, &chunked, tmp);
    FUZZ_CHECK(chunked.end == 0 && chunked.tail == 0 && chunked.n == cmds);
    for (int i = 0; i < cmds; i++) {
        FUZZ_CHECK(chunked.cmd[i].argc == argc[i]);
        for (int j = 0; j < argc[i]; j++)
            FUZZ_CHECK(chunked.cmd[i].arg_at[j] == arg_at[i][j] &&
                       chunked.cmd[i].arg_len[j] == arg_len[i][j]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char tmp[RESP_MAX + 4096];
    fuzz_in in = fuzz_start(data, size);
    fuzz_chunks ch;

    ch.n = fuzz_u8(&in) % 8;
    ch.p = in.p;
    ch.i = 0;
    for (size_t i = 0; i < ch.n; i++)
        (void)fuzz_u8(&in);
    if (ch.n > (size_t)(in.p - ch.p))
        ch.n = (size_t)(in.p - ch.p); /* the input ended among the sizes */
    if (fuzz_u8(&in) % 2 == 0)
        raw(in.p, (size_t)(in.end - in.p), ch, tmp);
    else
        pipeline(&in, ch, tmp);
    return 0;
}
