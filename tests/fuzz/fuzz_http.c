/*
 * fuzz_http.c - the HTTP/1.1 request reader of http_server.c
 * (examples/servers/http_parse.h) on bytes delivered in arbitrary chunks,
 * driven as the server drives it: a buffer of HTTP_HEAD_MAX bytes, http_next
 * until it needs more, the unused bytes moved to the front, then as much of
 * the next chunk as fits. Under ASan only the received and unused bytes are
 * readable.
 *
 * Input: one byte n (mod 8), n chunk sizes (see fuzz_chunks), one mode
 * byte, the rest. Mode even: the rest is the stream; the requests, errors
 * and body bytes found must be the same delivered whole or in chunks, and
 * each request must agree with the bytes of its head, read again here in a
 * plainer way (its request line, its Content-Length, no Transfer-Encoding;
 * a body is dropped byte for byte). Mode odd: the rest describes requests
 * (method, path, version, fields, a body whose bytes may look like a
 * request), which are written out, pipelined and delivered in chunks:
 * every one must be found as written, its body dropped, nothing else.
 * The head limit is smaller than the server's (below), so that it is met.
 */
#define _GNU_SOURCE /* memmem */
#include <string.h>
#include <strings.h>

#include "fuzz.h"

/* The server's head limit, made small enough for inputs of a few KiB to
 * pass it (the code is the same). */
#define HTTP_HEAD_MAX 1024
#include "http_parse.h"

#define EVENTS_MAX 1024

/* What the reader found: a request (with offsets into the stream), body
 * bytes (merged while they follow each other), or an error. */
typedef struct event {
    http_event what;
    size_t at, len; /* in the stream: the head, or the body bytes */
    size_t method_at, method_len, path_at, path_len;
    int minor, keep, status;
    unsigned long long body;
} event;

typedef struct run {
    event ev[EVENTS_MAX];
    int n;
    size_t used; /* bytes of the stream used up */
} run;

static run whole, chunked;

static void add(run *r, const event *e)
{
    event *last = r->n > 0 ? &r->ev[(r->n - 1) % EVENTS_MAX] : NULL;

    if (e->what == HTTP_BODY && last != NULL && last->what == HTTP_BODY &&
        last->at + last->len == e->at) {
        last->len += e->len;
        return;
    }
    r->ev[r->n++ % EVENTS_MAX] = *e;
}

/* A request's head, stream[at, at + len), read again plainly: its request
 * line and its Content-Length agree with r, and it has no
 * Transfer-Encoding. */
static void check_head(const char *h, size_t len, const http_request *r)
{
    const char *end = h + len, *line, *next;
    unsigned long long cl = 0;
    size_t n;

    FUZZ_CHECK(len >= 4 && len <= HTTP_HEAD_MAX && memcmp(end - 4, "\r\n\r\n", 4) == 0);
    while (h[0] == '\r' && h[1] == '\n')
        h += 2;
    FUZZ_CHECK(memmem(h, (size_t)(end - h) - 1, "\r\n\r\n", 4) == NULL); /* the first end */
    /* method SP path SP HTTP/1.d CRLF */
    n = r->method_len;
    FUZZ_CHECK(n > 0 && r->method == h && h[n] == ' ');
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(strchr("!#$%&'*+-.^_`|~", h[i]) != NULL || (h[i] >= '0' && h[i] <= '9') ||
                   ((h[i] | 0x20) >= 'a' && (h[i] | 0x20) <= 'z'));
    FUZZ_CHECK(r->path == h + n + 1 && r->path_len > 0);
    for (size_t i = 0; i < r->path_len; i++)
        FUZZ_CHECK(r->path[i] > ' ' && r->path[i] < 0x7f);
    line = r->path + r->path_len;
    FUZZ_CHECK(memcmp(line, " HTTP/1.", 8) == 0 && line[8] - '0' == r->minor);
    FUZZ_CHECK(line[9] == '\r' && line[10] == '\n');
    /* the fields: name ":" value, CRLF each */
    for (line += 11; line < end - 2; line = next + 2) {
        const char *colon = memchr(line, ':', (size_t)(end - line)), *v;
        next = memmem(line, (size_t)(end - line), "\r\n", 2);
        FUZZ_CHECK(next != NULL && colon != NULL && colon < next && colon > line);
        FUZZ_CHECK(memchr(line, '\n', (size_t)(next - line)) == NULL);
        FUZZ_CHECK(memchr(line, '\r', (size_t)(next - line)) == NULL);
        FUZZ_CHECK(!(colon - line == 17 && strncasecmp(line, "transfer-encoding", 17) == 0));
        if (colon - line != 14 || strncasecmp(line, "content-length", 14) != 0)
            continue;
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
            continue;
        for (cl = 0; *v >= '0' && *v <= '9'; v++)
            cl = cl * 10 + (unsigned)(*v - '0'); /* small: larger is 413 */
        while (*v == ' ' || *v == '\t')
            v++;
        FUZZ_CHECK(v == next && cl == r->body);
    }
    FUZZ_CHECK(r->body <= HTTP_BODY_MAX && (cl == r->body));
    FUZZ_CHECK(r->keep == 0 || r->keep == 1);
}

/*
 * Delivers stream[0, n) in the chunks ch gives, as the server reads: into
 * an HTTP_HEAD_MAX buffer, after moving what is left to its front. Records
 * what http_next finds into *r, until an error or the end of the stream.
 */
static void deliver(const char *stream, size_t n, fuzz_chunks ch, run *r)
{
    char *buf = malloc(HTTP_HEAD_MAX);
    size_t have = 0, pos = 0, off = 0, got = 0; /* off: the stream's offset of buf[0] */
    http_reader rd = {0, 0};
    unsigned long long body = 0;

    FUZZ_CHECK(buf != NULL);
    r->n = 0;
    for (;;) {
        http_request q;
        size_t used;
        http_event e;
        event ev;

        memset(&q, 0, sizeof q); /* http_next fills what its answer needs */
        fuzz_window(buf, HTTP_HEAD_MAX, pos, have);
        e = http_next(&rd, buf + pos, have - pos, &used, &q);
        FUZZ_CHECK(used <= have - pos);
        memset(&ev, 0, sizeof ev);
        ev.what = e;
        ev.at = off + pos;
        ev.len = used;
        if (e == HTTP_REQUEST) {
            FUZZ_CHECK(body == 0 && used > 0);
            check_head(buf + pos, used, &q);
            ev.method_at = off + (size_t)(q.method - buf);
            ev.method_len = q.method_len;
            ev.path_at = off + (size_t)(q.path - buf);
            ev.path_len = q.path_len;
            ev.minor = q.minor;
            ev.keep = q.keep;
            ev.body = body = q.body;
            FUZZ_CHECK(rd.body == q.body);
        } else if (e == HTTP_BODY) {
            FUZZ_CHECK(used > 0 && used <= body && rd.body == body - used);
            body -= used;
        } else if (e == HTTP_ERROR) {
            FUZZ_CHECK(q.status == 400 || q.status == 413 || q.status == 431 || q.status == 501 ||
                       q.status == 505);
            FUZZ_CHECK(q.status != 431 || have - pos >= HTTP_HEAD_MAX || used > 0);
            ev.status = q.status;
        } else {
            FUZZ_CHECK(used == 0);
        }
        pos += used;
        if (e != HTTP_MORE)
            add(r, &ev);
        if (e == HTTP_ERROR)
            break;
        if (e != HTTP_MORE)
            continue;
        if (got == n)
            break;
        fuzz_window(buf, HTTP_HEAD_MAX, 0, HTTP_HEAD_MAX);
        memmove(buf, buf + pos, have - pos); /* as the server does before it reads */
        have -= pos;
        off += pos;
        pos = 0;
        {
            size_t k = fuzz_chunk(&ch, n - got);
            if (k > HTTP_HEAD_MAX - have)
                k = HTTP_HEAD_MAX - have;
            FUZZ_CHECK(k > 0); /* a full buffer holds a head's end, or is 431 */
            memcpy(buf + have, stream + got, k);
            have += k;
            got += k;
        }
    }
    r->used = off + pos;
    fuzz_window(buf, HTTP_HEAD_MAX, 0, HTTP_HEAD_MAX);
    free(buf);
}

static int same(const run *a, const run *b)
{
    if (a->n != b->n || a->used != b->used)
        return 0;
    for (int i = 0; i < a->n && i < EVENTS_MAX; i++) {
        const event *x = &a->ev[i], *y = &b->ev[i];
        if (x->what != y->what || x->at != y->at || x->len != y->len ||
            x->method_at != y->method_at || x->method_len != y->method_len ||
            x->path_at != y->path_at || x->path_len != y->path_len || x->minor != y->minor ||
            x->keep != y->keep || x->status != y->status || x->body != y->body)
            return 0;
    }
    return 1;
}

/* Mode even: any bytes. */
static void raw(const char *s, size_t n, fuzz_chunks ch)
{
    fuzz_chunks one = {NULL, 0, 0};

    deliver(s, n, one, &whole);
    deliver(s, n, ch, &chunked);
    FUZZ_CHECK(same(&whole, &chunked));
}

/* Mode odd: requests described by the input, written out and pipelined. */
static void pipeline(fuzz_in *in, fuzz_chunks ch)
{
    static const char *methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "M-SEARCH"};
    static const char *names[] = {"Host", "X-Fuzz", "Accept", "Connection"};
    static char stream[1 << 20];
    static struct {
        size_t method_at, path_at, path_len, body;
        int minor, keep;
    } want[EVENTS_MAX];
    size_t n = 0;
    int reqs = 0;

    while (fuzz_more(in) && reqs < 64 && n < sizeof stream - 3 * HTTP_HEAD_MAX) {
        const char *m = methods[fuzz_below(in, 6)];
        size_t plen = fuzz_below(in, 64), body = fuzz_below(in, 512);
        int fields = (int)fuzz_below(in, 6), close = 0, keep_alive = 0;

        for (int i = 0; i < 3 && fuzz_more(in) && fuzz_below(in, 4) == 0; i++)
            n += (size_t)sprintf(stream + n, "\r\n"); /* empty lines before it */
        want[reqs].method_at = n;
        n += (size_t)sprintf(stream + n, "%s /", m);
        want[reqs].path_at = n - 1;
        for (size_t i = 0; i < plen; i++)
            stream[n++] = (char)('!' + fuzz_below(in, 94)); /* visible ASCII */
        want[reqs].path_len = plen + 1;
        want[reqs].minor = (int)fuzz_below(in, 2);
        n += (size_t)sprintf(stream + n, " HTTP/1.%d\r\n", want[reqs].minor);
        for (int f = 0; f < fields; f++) {
            int which = (int)fuzz_below(in, 4);
            const char *value = which == 3 ? (fuzz_u8(in) & 1 ? "close" : "keep-alive") : "v";
            close |= which == 3 && value[0] == 'c';
            keep_alive |= which == 3 && value[0] == 'k';
            n += (size_t)sprintf(stream + n, "%s:%s%s\r\n", names[which],
                                 fuzz_u8(in) & 1 ? " " : "", value);
        }
        if (body > 0 || fuzz_u8(in) & 1)
            n += (size_t)sprintf(stream + n, "Content-Length: %zu\r\n", body);
        n += (size_t)sprintf(stream + n, "\r\n");
        for (size_t i = 0; i < body; i++) /* anything, requests too */
            stream[n++] = (char)fuzz_u8(in);
        want[reqs].body = body;
        want[reqs].keep = !close && (want[reqs].minor == 1 || keep_alive);
        reqs++;
    }
    deliver(stream, n, ch, &chunked);
    FUZZ_CHECK(chunked.used == n);
    for (int i = 0, e = 0; i < reqs; i++) {
        const event *ev = &chunked.ev[e++];
        FUZZ_CHECK(ev->what == HTTP_REQUEST && ev->method_at == want[i].method_at);
        FUZZ_CHECK(ev->path_at == want[i].path_at && ev->path_len == want[i].path_len);
        FUZZ_CHECK(ev->minor == want[i].minor && ev->keep == want[i].keep);
        FUZZ_CHECK(ev->body == want[i].body);
        if (want[i].body > 0)
            FUZZ_CHECK(chunked.ev[e++].what == HTTP_BODY && chunked.ev[e - 1].len == want[i].body);
        FUZZ_CHECK(i + 1 < reqs || e == chunked.n);
    }
}

/* The token table against RFC 9110's list. */
static void check_tokens(void)
{
    for (int c = 0; c < 256; c++) {
        int want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
        FUZZ_CHECK(http_tchar((unsigned char)c) == want);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = fuzz_start(data, size);
    fuzz_chunks ch;

    check_tokens();
    ch.n = fuzz_u8(&in) % 8;
    ch.p = in.p;
    ch.i = 0;
    for (size_t i = 0; i < ch.n; i++)
        (void)fuzz_u8(&in);
    if (ch.n > (size_t)(in.p - ch.p))
        ch.n = (size_t)(in.p - ch.p);
    if (fuzz_u8(&in) % 2 == 0)
        raw((const char *)in.p, (size_t)(in.end - in.p), ch);
    else
        pipeline(&in, ch);
    return 0;
}
