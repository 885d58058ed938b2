/*
 * http_server.c - an HTTP/1.1 keep-alive server: "/" answers a fixed
 * "Hello, World!", "/file" the file given on the command line (read once
 * at start), anything else 404. Pipelined requests are answered in order.
 *
 *   build/gcc/examples/servers/http_server [port] [file]   (default 8080)
 *   wrk -c 50 -d 5s http://127.0.0.1:8080/
 *
 * Each connection is a task with a fixed 8 KiB request buffer (bounded
 * memory: a request head that does not fit is answered 431 and the
 * connection closed), and a request must arrive within 10 s of the
 * previous one's end (an idle or trickling client is shed). Answers to
 * pipelined requests go out together, in one write.
 */
#include <coro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEAD_MAX 8192
#define OUT_MAX 4096

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

static int flush(conn *c)
{
    int err = c->out_len > 0 ? coro_write_all(c->fd, c->out, c->out_len) : 0;

    c->out_len = 0;
    return err;
}

static int send_bytes(conn *c, const char *p, size_t n)
{
    if (c->out_len + n > sizeof c->out && flush(c) != 0)
        return -1;
    if (n > sizeof c->out)
        return coro_write_all(c->fd, p, n);
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

/* A request head, parsed in place: the request line's three words and
 * whether the connection stays open afterwards. */
typedef struct request {
    const char *method, *path, *version;
    size_t method_len, path_len, version_len;
    int keep;
} request;

/* Whether s[0, n) is the string lit. */
static int is(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

/* Parses the head buf[0, len), which ends with "\r\n": one pass, one
 * memchr per line. 0 if the request line is not three words. */
static int parse(request *r, const char *buf, size_t len)
{
    const char *end = buf + len, *eol = memchr(buf, '\n', len), *sp, *line;
    size_t n = (size_t)(eol - buf) - (eol > buf && eol[-1] == '\r');
    int close = 0, keep_alive = 0;

    if ((sp = memchr(buf, ' ', n)) == NULL)
        return 0;
    r->method = buf;
    r->method_len = (size_t)(sp - buf);
    r->path = sp + 1;
    if ((sp = memchr(r->path, ' ', (size_t)(buf + n - r->path))) == NULL)
        return 0;
    r->path_len = (size_t)(sp - r->path);
    r->version = sp + 1;
    r->version_len = (size_t)(buf + n - r->version);
    if (r->method_len == 0 || r->path_len == 0 || r->version_len == 0 ||
        memchr(r->version, ' ', r->version_len) != NULL)
        return 0;
    /* The first "Connection:" header decides, case-insensitively. */
    for (line = eol + 1; line < end; line = eol + 1) {
        eol = memchr(line, '\n', (size_t)(end - line));
        if ((*line | 0x20) == 'c' && eol - line > 11 && strncasecmp(line, "Connection:", 11) == 0) {
            const char *v = line + 11 + strspn(line + 11, " \t");
            size_t vn = (size_t)(eol - v);

            close = vn >= 5 && strncasecmp(v, "close", 5) == 0;
            keep_alive = vn >= 10 && strncasecmp(v, "keep-alive", 10) == 0;
            break;
        }
    }
    /* HTTP/1.1 keeps the connection unless told to close; 1.0 the reverse. */
    r->keep = is(r->version, r->version_len, "HTTP/1.1") ? !close : keep_alive;
    return 1;
}

/* Answers the request whose head is buf[0, len); 1 to keep the connection. */
static int answer(conn *c, const char *buf, size_t len)
{
    request r;

    if (!parse(&r, buf, len)) {
        reply(c, 400, "Bad Request", "bad request\n", 12, 1);
        return 0;
    }
    if (!is(r.method, r.method_len, "GET"))
        return reply(c, 405, "Method Not Allowed", "GET only\n", 9, !r.keep) == 0 && r.keep;
    if (is(r.path, r.path_len, "/") && r.keep) /* the hot path: prepared bytes */
        return send_bytes(c, hello, sizeof hello - 1) == 0;
    if (is(r.path, r.path_len, "/")) {
        reply(c, 200, "OK", "Hello, World!\n", 14, 1);
        return 0;
    }
    if (is(r.path, r.path_len, "/file") && file_body != NULL)
        return reply(c, 200, "OK", file_body, file_len, !r.keep) == 0 && r.keep;
    return reply(c, 404, "Not Found", "not found\n", 10, !r.keep) == 0 && r.keep;
}

/* The end of the first request head in buf[from, have) ("\r\n\r\n"), or NULL. */
static char *head_end(char *buf, size_t from, size_t have)
{
    char *p = buf + from, *end = buf + have;

    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        if (p - buf >= 3 && memcmp(p - 3, "\r\n\r\n", 4) == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

static void serve_http(int fd, void *ctx)
{
    char buf[HEAD_MAX + 1];
    size_t have = 0, scanned = 0;
    conn c;

    (void)ctx;
    c.fd = fd;
    c.out_len = 0;
    for (;;) {
        char *end = head_end(buf, scanned, have);
        long n;

        if (end != NULL) { /* a whole head: answer it, keep what follows */
            size_t used = (size_t)(end - buf);
            if (!answer(&c, buf, used - 2))
                break;
            memmove(buf, buf + used, have - used);
            have -= used;
            scanned = 0;
            continue;
        }
        scanned = have;
        if (have == HEAD_MAX) {
            reply(&c, 431, "Request Header Fields Too Large", "", 0, 1);
            break;
        }
        if (flush(&c) != 0)
            return;
        n = coro_read_until(fd, buf + have, HEAD_MAX - have, coro_after(CORO_SEC(10)));
        if (n <= 0)
            return; /* closed, reset, or idle too long */
        have += (size_t)n;
    }
    flush(&c); /* the last answer, before the connection closes */
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

static void *server(void *arg)
{
    int port = *(int *)arg, lfd = coro_tcp_listen("127.0.0.1", port, 0);
    coro_serve_options opt = {10000};

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
    int port = argc > 1 ? atoi(argv[1]) : 8080, err;
    coro_run_options opt = {.flags = CORO_RUN_READ_AHEAD}; /* requests come without a read() */

    if (argc > 2)
        load(argv[2]);
    err = coro_run(server, &port, NULL, &opt);
    free(file_body);
    if (err != 0) {
        fprintf(stderr, "http_server: %s\n", coro_strerror(err));
        return 1;
    }
    return 0;
}
