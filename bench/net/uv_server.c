/*
 * uv_server.c - the libuv reference of the network benchmark: the same two
 * servers as epoll_server.c, written the way libuv is meant to be used.
 *
 *   uv_server http|echo PORT      (PORT 0: any free port; link with -luv)
 *
 * Prints "listening on 127.0.0.1:<port>" once listening, serves until
 * SIGTERM or SIGINT, then closes every handle and exits 0. http: HTTP/1.1
 * keep-alive, every complete request head answers a fixed "Hello, World!"
 * (pipelined heads answered in order, coalesced into one write). echo:
 * writes back whatever it reads.
 *
 * Reads go straight into the connection's buffer (the alloc callback hands
 * it out); answers go out with uv_try_write, and only what it leaves is
 * queued with uv_write, reading stopped until that write completes (bounded
 * memory, and the buffer stays untouched while libuv owns it).
 */
#define _GNU_SOURCE /* memmem */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "hello.h"



struct conn {
    uv_tcp_t tcp;   /* tcp.data points back here */
    uv_write_t req; /* the uv_write in progress, if writing */
    int writing;    /* reading is stopped while libuv owns out[] */
    size_t in_len;  /* http: bytes of in[] not yet answered (a partial head) */
    size_t out_len; /* out[0, out_len) is to be sent */
    char in[BUF_SIZE];
    char out[BUF_SIZE]; /* echo: also the read buffer */
};

static int http_mode;
static uv_tcp_t server;
static uv_signal_t sigterm, sigint;

static void on_close(uv_handle_t *h)
{
    free(h->data); /* the conn, or NULL for the listener and signals */
}

static void drop(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void answer(struct conn *c)
{
    answer_heads(c->in, &c->in_len, c->out, &c->out_len);
}

static void on_written(uv_write_t *req, int status);

/* Sends base[0, len): 0 when it all went out now, 1 when the rest was queued
 * (reading stops until it is written), -1 on error. */
static int send_out(struct conn *c, char *base, size_t len)
{
    uv_buf_t b = uv_buf_init(base, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);

    if (n == (int)len)
        return 0;
    if (n < 0 && n != UV_EAGAIN)
        return -1;
    if (n > 0)
        b = uv_buf_init(base + n, (unsigned)(len - (size_t)n));
    if (uv_write(&c->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
        return -1;
    c->writing = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    return 1;
}

/* http: answers and sends until the input holds no complete head or a write
 * is queued. 0, or -1 when the connection is to be closed. */
static int progress(struct conn *c)
{
    int r = 0;

    for (answer(c); c->out_len > 0 && r == 0; answer(c)) {
        r = send_out(c, c->out, c->out_len);
        if (r == 0)
            c->out_len = 0;
    }
    return r < 0 ? -1 : 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;

    (void)suggested;
    if (http_mode)
        *buf = uv_buf_init(c->in + c->in_len, (unsigned)(BUF_SIZE - c->in_len));
    else
        *buf = uv_buf_init(c->out, BUF_SIZE);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;

    (void)buf;
    if (n == 0)
        return; /* EAGAIN */
    if (n < 0) {
        drop(c); /* EOF, an error, or UV_ENOBUFS: a head larger than in[] */
        return;
    }
    if (!http_mode) {
        c->out_len = (size_t)n;
        if (send_out(c, c->out, c->out_len) < 0)
            drop(c);
        return;
    }
    c->in_len += (size_t)n;
    if (progress(c) != 0)
        drop(c);
}

static void on_written(uv_write_t *req, int status)
{
    struct conn *c = req->handle->data;

    c->writing = 0;
    c->out_len = 0;
    if (status < 0 || (http_mode && progress(c) != 0)) {
        drop(c);
        return;
    }
    if (!c->writing && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        drop(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct conn *c;

    if (status < 0 || (c = malloc(sizeof *c)) == NULL)
        return;
    c->writing = 0;
    c->in_len = c->out_len = 0;
    uv_tcp_init(listener->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0 || uv_tcp_nodelay(&c->tcp, 1) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        drop(c);
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, on_close);
}

/* SIGTERM / SIGINT: close every handle, so uv_run returns. */
static void on_signal(uv_signal_t *sig, int signum)
{
    (void)signum;
    uv_walk(sig->loop, close_any, NULL);
}

static int listen_on(uv_loop_t *loop, int port)
{
    struct sockaddr_in a;
    int len = sizeof a, err;

    uv_tcp_init(loop, &server);
    server.data = NULL;
    if ((err = uv_ip4_addr("127.0.0.1", port, &a)) != 0 ||
        (err = uv_tcp_bind(&server, (struct sockaddr *)&a, 0)) != 0 ||
        (err = uv_listen((uv_stream_t *)&server, 4096, on_connection)) != 0 ||
        (err = uv_tcp_getsockname(&server, (struct sockaddr *)&a, &len)) != 0) {
        fprintf(stderr, "uv_server: port %d: %s\n", port, uv_strerror(err));
        return -1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();

    if ((http_mode = serve_mode(argc, argv, "uv_server")) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN); /* libuv leaves SIGPIPE to the application */
    if (listen_on(loop, atoi(argv[2])) != 0)
        return 1;
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    sigterm.data = sigint.data = NULL;
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
