/*
 * echo_server.c - a TCP echo server: every connection is a task that reads
 * and writes back, as if it had the machine to itself.
 *
 *   build/gcc/examples/servers/echo_server [port]     (default 7000)
 *
 * SERVER_LOOPS=n (or "cpus") serves on n loops, one per thread (loops.h).
 *
 * Idle or trickling clients are shed: each round trip, reading a message
 * and writing it back, has 10 s. At most 10,000 connections are open at
 * once, and running out of fds backs off instead of spinning (coro_serve
 * does both). Ctrl-C stops it.
 */
#include <coro.h>
#include <stdio.h>
#include <stdlib.h>

#include "loops.h"

static void echo(int fd, void *ctx)
{
    char buf[4096];

    (void)ctx;
    for (;;) { /* each round trip, the read and the echo, has 10 s */
        coro_time deadline = coro_after(CORO_SEC(10));
        long n = coro_read_until(fd, buf, sizeof buf, deadline);

        if (n <= 0 || coro_write_all_until(fd, buf, (size_t)n, deadline, NULL) != 0)
            break;
    }
}

static void *server(void *arg)
{
    int port = *(int *)arg;
    int lfd = coro_tcp_listen("127.0.0.1", port, 0);
    coro_serve_options opt = {10000, CORO_SERVE_EVERY_LOOP}; /* per loop */

    if (lfd < 0) {
        fprintf(stderr, "echo_server: port %d: %s\n", port, coro_strerror(lfd));
        return NULL;
    }
    printf("echo_server: listening on 127.0.0.1:%d\n", coro_socket_port(lfd));
    fflush(stdout);
    coro_serve(lfd, echo, NULL, &opt);
    coro_fd_close(lfd);
    return NULL;
}

int main(int argc, char **argv)
{
    coro_run_options opt = {.flags = CORO_RUN_READ_AHEAD}; /* messages come without a read() */
    long port = 7000;
    char *end = NULL;
    int p, err;

    if (argc > 1 && ((errno = 0, port = strtol(argv[1], &end, 10)),
                     end == argv[1] || *end != '\0' || errno != 0 || port < 0 || port > 65535)) {
        fprintf(stderr, "echo_server: port %s: not 0 to 65535\n", argv[1]);
        return 2;
    }
    if (server_loops("echo_server", &opt) != 0)
        return 2;
    p = (int)port;
    err = coro_run(server, &p, NULL, &opt);
    if (err != 0) {
        fprintf(stderr, "echo_server: %s\n", coro_strerror(err));
        return 1;
    }
    return 0;
}
