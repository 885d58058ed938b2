/*
 * http_parse.h - the request side of HTTP/1.1 for http_server.c: finds
 * where each request's head ends in the bytes received so far, parses the
 * head, and drops the request's body (Content-Length bytes), so that a body
 * is never read as the next request. Static functions on bytes only (no
 * I/O, no coro), so that the fuzz target tests/fuzz/fuzz_http.c drives the
 * same code as the server.
 *
 * Strict wherever leniency would let a proxy in front and this server see
 * different requests in one stream (request smuggling, RFC 9112 section
 * 11.2): every line ends in CRLF (a bare LF or CR is refused); a field name
 * is a token directly followed by its colon (no obs-fold, no
 * "Content-Length :"); Content-Length is digits only, and several of them
 * must agree; a request with Transfer-Encoding, which this server does not
 * implement, is refused with 501 Not Implemented (RFC 9112 section 6.1: a
 * server SHOULD answer 501 to a transfer coding it does not understand),
 * whatever its Content-Length says (section 6.3: such a message "ought to be
 * handled as an error"). Every refusal closes the connection: after a bad
 * head, where the next request begins is unknown. Empty lines before a
 * request line are ignored (section 2.2).
 */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

/* The limits; the fuzz target makes the first smaller, to reach it. */
#ifndef HTTP_HEAD_MAX
#define HTTP_HEAD_MAX 8192 /* a head: request line and fields (more: 431) */
#endif
#define HTTP_BODY_MAX (1 << 20) /* a body (more: 413) */

typedef struct http_request {
    const char *method, *path; /* in the head, not NUL-terminated */
    size_t method_len, path_len;
    int minor;               /* HTTP/1.<minor> */
    int keep;                /* the connection stays open after the answer */
    unsigned long long body; /* Content-Length (0 without) */
    int status;              /* with HTTP_ERROR: the status to answer */
} http_request;

/* A connection's reading state; zero it for a new connection. */
typedef struct http_reader {
    size_t scanned;          /* the next head's first bytes, known to hold no end */
    unsigned long long body; /* the last request's body bytes still to drop */
} http_reader;

typedef enum http_event {
    HTTP_MORE,    /* nothing whole: more bytes are needed */
    HTTP_BODY,    /* body bytes dropped */
    HTTP_REQUEST, /* a request head, parsed: answer it */
    HTTP_ERROR    /* a bad or too large request: answer r->status and close */
} http_event;

/* Whether c may be in a token (a method, a field name: RFC 9110 5.6.2):
 * letters, digits and !#$%&'*+-.^_`|~ (tests/fuzz/fuzz_http.c checks the
 * table against that list). */
static int http_tchar(unsigned char c)
{
    static const char token[129] = "00000000000000000000000000000000"  /* 0-31: controls */
                                   "01011111001101101111111111000000"  /* 32-63 */
                                   "01111111111111111111111111100011"  /* 64-95 */
                                   "11111111111111111111111111101010"; /* 96-127 */

    return c < 128 && token[c] == '1';
}

/* Whether s[0, n) is lit, ignoring case. */
static int http_is(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && strncasecmp(s, lit, n) == 0;
}

/* The request line s[0, n) (without its CRLF): method SP target SP
 * HTTP/1.x, with single spaces. 0, or the status to refuse it with. */
static int http_request_line(http_request *r, const char *s, size_t n)
{
    const char *end = s + n, *p = s;

    while (p < end && http_tchar((unsigned char)*p))
        p++;
    if (p == s || p == end || *p != ' ')
        return 400;
    r->method = s;
    r->method_len = (size_t)(p - s);
    r->path = ++p;
    while (p < end && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f)
        p++;
    if (p == r->path || p == end || *p != ' ')
        return 400;
    r->path_len = (size_t)(p - r->path);
    p++;
    if (end - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' || p[6] != '.' ||
        p[7] < '0' || p[7] > '9')
        return 400;
    if (p[5] != '1')
        return 505;
    r->minor = p[7] - '0';
    return 0;
}

/* Content-Length's value v[0, n): one or more digits (saturating at the
 * largest number, which is too large anyway). 0 and *len, or -1. */
static int http_length(const char *v, size_t n, unsigned long long *len)
{
    unsigned long long x = 0;

    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)v[i] - '0';
        if (d > 9)
            return -1;
        x = x > (~0ULL - d) / 10 ? ~0ULL : x * 10 + d;
    }
    *len = x;
    return 0;
}

/* Connection's value v[0, n): its comma-separated options into *close and
 * *keep_alive. */
static void http_connection(const char *v, size_t n, int *close, int *keep_alive)
{
    const char *end = v + n, *comma;

    for (; v < end; v = comma + 1) {
        const char *e;
        if ((comma = memchr(v, ',', (size_t)(end - v))) == NULL)
            comma = end;
        for (e = comma; e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
            continue;
        while (v < e && (*v == ' ' || *v == '\t'))
            v++;
        *close |= http_is(v, (size_t)(e - v), "close");
        *keep_alive |= http_is(v, (size_t)(e - v), "keep-alive");
    }
}

/* What the fields of a head say. */
typedef struct http_fields {
    int close, keep_alive, chunked, lengths;
    unsigned long long length;
} http_fields;

/* The field line s[0, n) (without its CRLF) into *f: 0, or 400. */
static int http_field(http_fields *f, const char *s, size_t n)
{
    const char *v = s, *e = s + n;
    size_t name;
    unsigned long long len;

    while (v < e && http_tchar((unsigned char)*v))
        v++;
    if (v == s || v == e || *v != ':')
        return 400;
    name = (size_t)(v - s);
    for (v++; v < e && (*v == ' ' || *v == '\t'); v++)
        continue;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (memchr(v, '\r', (size_t)(e - v)) != NULL)
        return 400; /* a bare CR: another parser may end the line there */
    if (http_is(s, name, "Content-Length")) {
        if (http_length(v, (size_t)(e - v), &len) != 0 || (f->lengths++ > 0 && len != f->length))
            return 400;
        f->length = len;
    } else if (http_is(s, name, "Transfer-Encoding")) {
        f->chunked = 1; /* any transfer coding: none is implemented */
    } else if (http_is(s, name, "Connection")) {
        http_connection(v, (size_t)(e - v), &f->close, &f->keep_alive);
    }
    return 0;
}

/* Parses the head s[0, n), which begins with its request line and ends
 * with the empty line's CRLF. 0, or the status to refuse it with. */
static int http_parse_head(http_request *r, const char *s, size_t n)
{
    const char *end = s + n, *line = s, *lf;
    http_fields f = {0, 0, 0, 0, 0};
    int status = 0;

    r->method = r->path = s;
    r->method_len = r->path_len = 0;
    r->minor = 0;

    for (; (lf = memchr(line, '\n', (size_t)(end - line))) != NULL; line = lf + 1) {
        size_t len = (size_t)(lf - line);
        if (len == 0 || line[len - 1] != '\r')
            return 400; /* a bare LF */
        if (--len == 0)
            break; /* the empty line: the head's end */
        status = line == s ? http_request_line(r, line, len) : http_field(&f, line, len);
        if (status != 0)
            return status;
    }
    if (f.chunked)
        return 501;
    if (f.length > HTTP_BODY_MAX)
        return 413;
    r->body = f.length;
    /* HTTP/1.1 keeps the connection unless told to close; 1.0 the reverse. */
    r->keep = !f.close && (r->minor >= 1 || f.keep_alive);
    return 0;
}

/* The end of the head that begins buf[0, have) (past its empty line), or
 * NULL. Empty lines before it are skipped; buf[0, from) holds no end. */
static const char *http_head_end(const char *buf, size_t from, size_t have)
{
    const char *start = buf, *end = buf + have, *p;

    while (end - start >= 2 && start[0] == '\r' && start[1] == '\n')
        start += 2;
    for (p = buf + from > start ? buf + from : start;
         (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
        if (p - start >= 3 && memcmp(p - 3, "\r\n\r\n", 4) == 0)
            return p + 1;
    return NULL;
}

/*
 * The next thing in buf[0, have), the bytes received and not yet used:
 * body bytes of the last request to drop, or the next request's head. Sets
 * *used to the bytes it used up (drop them from the buffer's front) and, for
 * HTTP_REQUEST and HTTP_ERROR, fills *r. A head that does not end within
 * HTTP_HEAD_MAX bytes is HTTP_ERROR 431: a buffer of HTTP_HEAD_MAX bytes is
 * enough. Looks at buf[0, have) only.
 */
static http_event http_next(http_reader *rd, const char *buf, size_t have, size_t *used,
                            http_request *r)
{
    const char *end, *start = buf;

    *used = 0;
    if (rd->body > 0) {
        *used = have < rd->body ? have : (size_t)rd->body;
        rd->body -= *used;
        return *used > 0 ? HTTP_BODY : HTTP_MORE;
    }
    if ((end = http_head_end(buf, rd->scanned, have)) == NULL) {
        rd->scanned = have;
        r->status = 431;
        return have >= HTTP_HEAD_MAX ? HTTP_ERROR : HTTP_MORE;
    }
    rd->scanned = 0;
    *used = (size_t)(end - buf);
    if (*used > HTTP_HEAD_MAX) {
        r->status = 431;
        return HTTP_ERROR;
    }
    while (end - start >= 2 && start[0] == '\r' && start[1] == '\n')
        start += 2;
    if ((r->status = http_parse_head(r, start, (size_t)(end - start))) != 0)
        return HTTP_ERROR;
    rd->body = r->body;
    return HTTP_REQUEST;
}

#endif
