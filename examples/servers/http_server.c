/*
 * http_server.c - an HTTP/1.1 keep-alive server: "/" answers a fixed
 * "Hello, World!", "/file" the file given on the command line (read once
 * at start), anything else 404; methods other than GET 405. Pipelined
 * requests are answered in order; a request body (Content-Length) is read
 * and dropped.
 *
 *   build/gcc/examples/servers/http_server [port] [file]   (default 8080)
 *   wrk -c 50 -d 5s http://127.0.0.1:8080/
 *
 * http_parse.h finds and parses the requests (and says what it refuses
 * and why: Transfer-Encoding is answered 501). Answers to pipelined requests
 * go out together, in one write.
 *
 * What a connection may hold, and for how long:
 *   memory  an 8 KiB request buffer and a 4 KiB answer buffer, fixed. A
 *           head that does not fit is answered 431, a body of more than
 *           1 MiB 413 (it would be dropped anyway, but not forever).
 *   time    a request, from its first byte to the last byte of its body,
 *           must arrive within 10 s (then 408); a connection may wait 60 s
 *           for its next request; of answers that the socket cannot take
 *           at once, the client must take each 64 KiB within 10 s. A
 *           client that trickles, goes quiet or stops reading its answers
 *           is disconnected, so that, out of fds, slow clients cannot keep
 *           the others out for long.
 * The environment variable SERVER_TIMEOUTS_MS="request idle write" sets the
 * three times in milliseconds (tests/check_servers.sh makes them short).
 * A connection closed after an answer (an error, Connection: close) is
 * shut for writing first and what the client still sends is dropped for up
 * to a second: closing with unread input would reset the connection and
 * could destroy the answer before the client reads it.
 */
#include <coro.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "loops.h"

#define OUT_MAX 4096
#define WRITE_CHUNK (64 << 10)

static coro_time request_time = CORO_SEC(10), idle_time = CORO_SEC(60), write_time = CORO_SEC(10);

static char *file_body;
static size_t file_len;

static const char hello[] = "HTTP/1.1 200 OK\r\nServer: coro\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 14\r\n\r\nHello, World!\n";

/* A connection: its answers collect in out and go in one write when no
 * whole request is left to answer (pipelined requests, one system call). */
typedef struct conn {
    int fd;
    size_t out_len;
    char out[OUT_MAX];
} conn;

/* Writes p[0, n). What the socket takes at once goes without a clock read
 * (the deadline 0 has passed); then the client must take each WRITE_CHUNK
 * bytes of the rest within write_time. 0 or an error. */
static int send_all(int fd, const char *p, size_t n)
{
    size_t done;
    int err = coro_write_all_until(fd, p, n, 0, &done);

    while (err == CORO_ETIMEDOUT) {
        size_t k = n - done < WRITE_CHUNK ? n - done : WRITE_CHUNK;

        p += done;
        n -= done;
        if ((err = coro_write_all_until(fd, p, k, coro_after(write_time), NULL)) != 0)
            break;
        err = coro_write_all_until(fd, p += k, n -= k, 0, &done);
    }
    return err;
}

static int flush(conn *c)
{
    int err = c->out_len > 0 ? send_all(c->fd, c->out, c->out_len) : 0;

    c->out_len = 0;
    return err;
}

static int send_bytes(conn *c, const char *p, size_t n)
{
    if (c->out_len + n > sizeof c->out && flush(c) != 0)
        return -1;
    if (n > sizeof c->out)
        return send_all(c->fd, p, n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

static int reply(conn *c, int status, const char *reason, const char *body, size_t len,
                 int close_after)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nServer: coro\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     status, reason, len, close_after ? "Connection: close\r\n" : "");

    if (send_bytes(c, head, (size_t)n) != 0)
        return -1;
    return len > 0 ? send_bytes(c, body, len) : 0;
}

/* Whether s[0, n) is the string lit. */
static int is(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

/* Answers request r; 1 to keep the connection. */
static int answer(conn *c, const http_request *r)
{
    if (!is(r->method, r->method_len, "GET"))
        return reply(c, 405, "Method Not Allowed", "GET only\n", 9, !r->keep) == 0 && r->keep;
    if (is(r->path, r->path_len, "/") && r->keep) /* the hot path: prepared bytes */
        return send_bytes(c, hello, sizeof hello - 1) == 0;
    if (is(r->path, r->path_len, "/")) {
        reply(c, 200, "OK", "Hello, World!\n", 14, 1);
        return 0;
    }
    if (is(r->path, r->path_len, "/file") && file_body != NULL)
        return reply(c, 200, "OK", file_body, file_len, !r->keep) == 0 && r->keep;
    return reply(c, 404, "Not Found", "not found\n", 10, !r->keep) == 0 && r->keep;
}

/* Answers a request refused with status (then the connection closes). */
static void refuse(conn *c, int status)
{
    const char *reason = status == 400   ? "Bad Request"
                         : status == 408 ? "Request Timeout"
                         : status == 413 ? "Content Too Large"
                         : status == 431 ? "Request Header Fields Too Large"
                         : status == 501 ? "Not Implemented"
                                         : "HTTP Version Not Supported";

    reply(c, status, reason, "", 0, 1);
}

/* Ends a connection the server closes after its last answer (see the top
 * of the file), with buf[0, n) to drop the client's input into. */
static void linger(conn *c, char *buf, size_t n)
{
    coro_time until;

    if (flush(c) != 0 || coro_shutdown(c->fd, CORO_SHUT_WR) != 0)
        return;
    until = coro_after(CORO_SEC(1));
    while (coro_read_until(c->fd, buf, n, until) > 0)
        continue;
}

static void serve_http(int fd, void *ctx)
{
    char buf[HTTP_HEAD_MAX];
    size_t have = 0, pos = 0; /* buf[pos, have): received, not yet used */
    http_reader rd = {0, 0};
    coro_time deadline = 0; /* the request begun: whole by then (0: none begun) */
    conn c;

    (void)ctx;
    c.fd = fd;
    c.out_len = 0;
    for (;;) {
        http_request r;
        size_t used;
        http_event ev = http_next(&rd, buf + pos, have - pos, &used, &r);
        long n;

        pos += used;
        if (ev == HTTP_ERROR) {
            refuse(&c, r.status);
            break;
        }
        if (ev == HTTP_REQUEST && !answer(&c, &r))
            break;
        if (ev != HTTP_MORE) {
            if (rd.body == 0)
                deadline = 0; /* that request is whole */
            continue;
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
        pos = 0;
        if (flush(&c) != 0)
            return;
        if ((have > 0 || rd.body > 0) && deadline == 0)
            deadline = coro_after(request_time);
        n = coro_read_until(fd, buf + have, sizeof buf - have,
                            deadline != 0 ? deadline : coro_after(idle_time));
        if (n == CORO_ETIMEDOUT && deadline != 0) {
            refuse(&c, 408);
            flush(&c);
            return;
        }
        if (n <= 0)
            return; /* closed, reset, or idle too long */
        have += (size_t)n;
    }
    linger(&c, buf, sizeof buf);
}

static void load(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (file_body = malloc((size_t)n + 1)) == NULL ||
        fread(file_body, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "http_server: cannot read %s\n", path);
        exit(1);
    }
    file_len = (size_t)n;
    fclose(f);
}

/* A whole decimal number in [lo, hi] from s, ending at *end (NULL: at the
 * string's end): 0 and *v, or -1. */
static int number(const char *s, char **end, long long lo, long long hi, long long *v)
{
    char *e;

    errno = 0;
    *v = strtoll(s, &e, 10);
    if (e == s || errno != 0 || *v < lo || *v > hi || (end == NULL && *e != '\0'))
        return -1;
    if (end != NULL)
        *end = e;
    return 0;
}

/* SERVER_TIMEOUTS_MS="request idle write", each 1 to 10^9 ms. 0 or -1. */
static int timeouts(const char *s)
{
    coro_time *t[3] = {&request_time, &idle_time, &write_time};
    char *end = (char *)s;
    long long ms;

    for (int i = 0; i < 3; i++) {
        if (number(end, &end, 1, 1000000000, &ms) != 0)
            return -1;
        *t[i] = CORO_MSEC(ms);
    }
    return *end == '\0' ? 0 : -1;
}

static void *server(void *arg)
{
    int port = *(int *)arg, lfd = coro_tcp_listen("127.0.0.1", port, 0);
    coro_serve_options opt = {10000, CORO_SERVE_EVERY_LOOP}; /* per loop */

    if (lfd < 0) {
        fprintf(stderr, "http_server: port %d: %s\n", port, coro_strerror(lfd));
        return NULL;
    }
    printf("http_server: listening on 127.0.0.1:%d\n", coro_socket_port(lfd));
    fflush(stdout);
    coro_serve(lfd, serve_http, NULL, &opt);
    coro_fd_close(lfd);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *env = getenv("SERVER_TIMEOUTS_MS");
    coro_run_options opt = {.flags = CORO_RUN_READ_AHEAD}; /* requests come without a read() */
    long long port = 8080;
    int p, err;

    if (argc > 1 && number(argv[1], NULL, 0, 65535, &port) != 0) {
        fprintf(stderr, "http_server: port %s: not 0 to 65535\n", argv[1]);
        return 2;
    }
    if (env != NULL && timeouts(env) != 0) {
        fprintf(stderr, "http_server: SERVER_TIMEOUTS_MS=\"%s\": not three times in ms\n", env);
        return 2;
    }
    if (server_loops("http_server", &opt) != 0)
        return 2;
    if (argc > 2)
        load(argv[2]);
    p = (int)port;
    err = coro_run(server, &p, NULL, &opt);
    free(file_body);
    if (err != 0) {
        fprintf(stderr, "http_server: %s\n", coro_strerror(err));
        return 1;
    }
    return 0;
}
