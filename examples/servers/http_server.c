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
 * previous one's end (an idle or trickling client is shed).
 */
#define _GNU_SOURCE /* memmem, strcasestr */
#include <coro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEAD_MAX 8192

static char *file_body;
static size_t file_len;

static const char hello[] = "HTTP/1.1 200 OK\r\nServer: coro\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 14\r\n\r\nHello, World!\n";

static int reply(int fd, int status, const char *reason, const char *body, size_t len,
                 int close_after)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nServer: coro\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     status, reason, len, close_after ? "Connection: close\r\n" : "");

    if (coro_write_all(fd, head, (size_t)n) != 0)
        return -1;
    return len > 0 ? coro_write_all(fd, body, len) : 0;
}

/* Answers the request whose head is buf[0, len); 1 to keep the connection. */
static int answer(int fd, char *buf, size_t len)
{
    char method[8], path[256], version[16];
    int keep;

    buf[len] = '\0';
    if (sscanf(buf, "%7s %255s %15s", method, path, version) != 3) {
        reply(fd, 400, "Bad Request", "bad request\n", 12, 1);
        return 0;
    }
    /* HTTP/1.1 keeps the connection unless told to close; 1.0 the reverse. */
    keep = strcmp(version, "HTTP/1.1") == 0 ? strcasestr(buf, "\nConnection: close") == NULL
                                            : strcasestr(buf, "\nConnection: keep-alive") != NULL;
    if (strcmp(method, "GET") != 0)
        return reply(fd, 405, "Method Not Allowed", "GET only\n", 9, !keep) == 0 && keep;
    if (strcmp(path, "/") == 0 && keep) /* the hot path: one prepared write */
        return coro_write_all(fd, hello, sizeof hello - 1) == 0;
    if (strcmp(path, "/") == 0) {
        reply(fd, 200, "OK", "Hello, World!\n", 14, 1);
        return 0;
    }
    if (strcmp(path, "/file") == 0 && file_body != NULL)
        return reply(fd, 200, "OK", file_body, file_len, !keep) == 0 && keep;
    return reply(fd, 404, "Not Found", "not found\n", 10, !keep) == 0 && keep;
}

static void serve_http(int fd, void *ctx)
{
    char buf[HEAD_MAX + 1];
    size_t have = 0;

    (void)ctx;
    for (;;) {
        char *end = have > 0 ? memmem(buf, have, "\r\n\r\n", 4) : NULL;
        long n;

        if (end != NULL) { /* a whole head: answer it, keep what follows */
            size_t used = (size_t)(end - buf) + 4;
            if (!answer(fd, buf, used - 2))
                return;
            memmove(buf, buf + used, have - used);
            have -= used;
            continue;
        }
        if (have == HEAD_MAX) {
            reply(fd, 431, "Request Header Fields Too Large", "", 0, 1);
            return;
        }
        n = coro_read_until(fd, buf + have, HEAD_MAX - have, coro_after(CORO_SEC(10)));
        if (n <= 0)
            return; /* closed, reset, or idle too long */
        have += (size_t)n;
    }
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

    if (argc > 2)
        load(argv[2]);
    err = coro_run(server, &port, NULL, NULL);
    free(file_body);
    if (err != 0) {
        fprintf(stderr, "http_server: %s\n", coro_strerror(err));
        return 1;
    }
    return 0;
}
