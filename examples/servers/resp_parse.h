/*
 * resp_parse.h - the request side of the Redis protocol (RESP2) for
 * redis_server.c: commands as arrays of bulk strings or as inline lines,
 * and the integer grammar Redis reads lengths and arguments with. Static
 * functions on bytes only (no I/O, no coro), so that the fuzz target
 * tests/fuzz/fuzz_redis.c drives the same code as the server.
 *
 * The parser looks at nothing past the n bytes it is given (an integer is
 * read from an explicit length, never by strtol, which would read on through
 * whitespace), checks every length before it trusts it (a command is at most
 * RESP_MAX bytes, a count or length line at most RESP_LINE_MAX), and finds
 * the same commands however the bytes are split: called again with more
 * bytes after "incomplete", it parses the command from its start (at most
 * RESP_ARGS_MAX short lines to walk), and an error it reports for some bytes
 * is the error for any bytes that begin with them.
 */
#ifndef RESP_PARSE_H
#define RESP_PARSE_H

#include <limits.h>
#include <stddef.h>
#include <string.h>

/* The limits; the fuzz target makes the first two smaller, to reach them. */
#ifndef RESP_MAX
#define RESP_MAX (1 << 20) /* a command's bytes, all told */
#endif
#ifndef RESP_INLINE_MAX
#define RESP_INLINE_MAX (64 << 10) /* an inline command's line (Redis's limit) */
#endif
#define RESP_LINE_MAX 32 /* "*<count>\r\n", "$<length>\r\n" */
#define RESP_ARGS_MAX 64

/* What resp_parse returns for a malformed command (the server answers
 * "-ERR Protocol error: " and the message, and closes the connection, as
 * Redis does). */
#define RESP_ECOUNT (-1)  /* invalid multibulk length */
#define RESP_EMANY (-2)   /* too many arguments (more than RESP_ARGS_MAX) */
#define RESP_EDOLLAR (-3) /* expected '$', got ... */
#define RESP_ELENGTH (-4) /* invalid bulk length (or the command passes RESP_MAX) */
#define RESP_ECRLF (-5)   /* a bulk string not followed by "\r\n" */
#define RESP_EINLINE (-6) /* an inline line longer than RESP_INLINE_MAX */

typedef struct resp_word {
    const char *p; /* in the caller's buffer, not NUL-terminated */
    size_t n;
} resp_word;

typedef struct resp_cmd {
    resp_word argv[RESP_ARGS_MAX];
    int argc; /* 0: an empty command (a blank line, "*0"): nothing to do */
    char got; /* with RESP_EDOLLAR: the byte found instead of '$' */
} resp_cmd;

/* Whether s[0, n) is a decimal long long as Redis reads one (string2ll): an
 * optional '-', then "0" alone or a digit 1-9 and more digits, in range; then
 * *v gets it. No spaces, no '+', no leading zeros, no "-0". */
static int resp_int(const char *s, size_t n, long long *v)
{
    const unsigned long long max = (unsigned long long)LLONG_MAX;
    unsigned long long u = 0, lim;
    size_t i;
    int neg;

    if (n == 0 || n > 20)
        return 0;
    neg = s[0] == '-';
    i = (size_t)neg;
    if (i == n || s[i] < '0' || s[i] > '9' || (s[i] == '0' && n > 1))
        return 0;
    lim = neg ? max + 1 : max;
    for (; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9 || u > (lim - d) / 10)
            return 0;
        u = u * 10 + d;
    }
    *v = !neg ? (long long)u : u == max + 1 ? LLONG_MIN : -(long long)u;
    return 1;
}

/* The integer on the line at p (before end) that ends in "\r\n" within
 * RESP_LINE_MAX bytes: 1 and *v, *next past the line; 0 if the bytes end
 * before the line can; -1 if it is not such a line. */
static int resp_line_int(const char *p, const char *end, long long *v, const char **next)
{
    size_t room = (size_t)(end - p), look = room < RESP_LINE_MAX ? room : RESP_LINE_MAX;
    const char *cr = memchr(p, '\r', look);

    if (cr == NULL)
        return room < RESP_LINE_MAX ? 0 : -1;
    if (cr + 1 == end)
        return 0;
    if (cr[1] != '\n' || !resp_int(p, (size_t)(cr - p), v))
        return -1;
    *next = cr + 2;
    return 1;
}

/* Whether c separates inline words (Redis: isspace). */
static int resp_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* An inline command: words on one line ending in "\n" (or "\r\n"). */
static long resp_inline(const char *in, size_t n, resp_cmd *c)
{
    const char *nl = memchr(in, '\n', n < RESP_INLINE_MAX ? n : RESP_INLINE_MAX), *q;

    if (nl == NULL)
        return n >= RESP_INLINE_MAX ? RESP_EINLINE : 0;
    for (q = in; q < nl;) {
        while (q < nl && resp_space(*q))
            q++;
        if (q == nl)
            break;
        if (c->argc == RESP_ARGS_MAX)
            return RESP_EMANY;
        c->argv[c->argc].p = q;
        while (q < nl && !resp_space(*q))
            q++;
        c->argv[c->argc].n = (size_t)(q - c->argv[c->argc].p);
        c->argc++;
    }
    return nl + 1 - in;
}

/* An array of bulk strings: "*<count>\r\n" then "$<length>\r\n<bytes>\r\n"
 * count times. A count of 0 or less is an empty command, as in Redis. Only
 * the first RESP_MAX bytes are looked at: a command not whole in them is
 * too long, whatever follows. */
static long resp_multibulk(const char *in, size_t n, resp_cmd *c)
{
    const char *p, *end = in + (n < RESP_MAX ? n : RESP_MAX);
    const long more = n < RESP_MAX ? 0 : RESP_ELENGTH; /* for "incomplete" */
    long long count, len;
    int r = resp_line_int(in + 1, end, &count, &p);

    if (r <= 0)
        return r == 0 ? more : RESP_ECOUNT;
    if (count > RESP_ARGS_MAX)
        return RESP_EMANY;
    for (long long i = 0; i < count; i++) {
        if (p == end)
            return more;
        if (*p != '$') {
            c->got = *p;
            return RESP_EDOLLAR;
        }
        if ((r = resp_line_int(p + 1, end, &len, &p)) <= 0)
            return r == 0 ? more : RESP_ELENGTH;
        if (len < 0 || len > RESP_MAX - 2 - (p - in))
            return RESP_ELENGTH;
        if (end - p < len + 2)
            return more;
        if (p[len] != '\r' || p[len + 1] != '\n')
            return RESP_ECRLF;
        c->argv[i].p = p;
        c->argv[i].n = (size_t)len;
        p += len + 2;
    }
    c->argc = count > 0 ? (int)count : 0;
    return p - in;
}

/*
 * Parses the command that begins in[0, n): its length in bytes (> 0) with
 * its words in *c; 0 if the bytes end before it does (call again with more);
 * a negative RESP_E* if it is malformed (the connection cannot be resynced).
 * Looks at in[0, n) only.
 */
static long resp_parse(const char *in, size_t n, resp_cmd *c)
{
    c->argc = 0;
    c->got = 0;
    if (n == 0)
        return 0;
    return in[0] == '*' ? resp_multibulk(in, n, c) : resp_inline(in, n, c);
}

/* The message for a RESP_E* code, after "Protocol error: " (for
 * RESP_EDOLLAR the server adds the byte found, as Redis does). */
static const char *resp_strerror(long code)
{
    switch (code) {
    case RESP_ECOUNT:
        return "invalid multibulk length";
    case RESP_EMANY:
        return "too many arguments";
    case RESP_EDOLLAR:
        return "expected '$'";
    case RESP_ELENGTH:
        return "invalid bulk length";
    case RESP_ECRLF:
        return "bulk string not followed by CRLF";
    case RESP_EINLINE:
        return "too big inline request";
    default:
        return "unknown";
    }
}

#endif
