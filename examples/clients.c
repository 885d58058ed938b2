/*
 * clients.c - many concurrent connections, each with its own deadline: an
 * echo server and 200 clients in one program. Each client sends a line
 * and must have it back before its deadline (10 s); one connection the
 * server answers slowly, with a client that waits only 200 ms, shows a
 * deadline expiring without holding up the others.
 */
#include <coro.h>
#include <stdio.h>
#include <string.h>

#define CLIENTS 200

struct tally {
    int port;
    int started, echoed, timed_out, failed;
};

static void echo(int fd, void *ctx)
{
    char buf[256];
    long n;

    (void)ctx;
    while ((n = coro_read_until(fd, buf, sizeof buf, coro_after(CORO_SEC(5)))) > 0) {
        if (strncmp(buf, "slow", 4) == 0)
            coro_sleep(CORO_SEC(1)); /* longer than that client waits */
        if (coro_write_all(fd, buf, (size_t)n) != 0)
            break;
    }
}

static void *client(void *arg)
{
    struct tally *t = arg;
    int id = t->started++;
    coro_time deadline = coro_after(id == 0 ? CORO_MSEC(200) : CORO_SEC(10));
    char line[64], back[64];
    size_t len, got = 0;
    int fd = coro_tcp_connect_until("127.0.0.1", t->port, deadline);
    long n = 0;

    if (fd < 0) {
        t->failed++;
        return NULL;
    }
    len = (size_t)snprintf(line, sizeof line, "%s %d\n", id == 0 ? "slow" : "hello", id);
    if (coro_write_all_until(fd, line, len, deadline, NULL) == 0)
        while (got < len && (n = coro_read_until(fd, back + got, len - got, deadline)) > 0)
            got += (size_t)n;
    if (got == len && memcmp(line, back, len) == 0)
        t->echoed++;
    else if (n == CORO_ETIMEDOUT)
        t->timed_out++;
    else
        t->failed++;
    coro_fd_close(fd);
    return NULL;
}

static void *serve(void *arg)
{
    return (void *)(long)coro_serve(*(int *)arg, echo, NULL, NULL);
}

static void *main_task(void *arg)
{
    struct tally *t = arg;
    int lfd = coro_tcp_listen("127.0.0.1", 0, 0);
    coro_task *server, *c[CLIENTS];

    if (lfd < 0)
        coro_error("listen: %s", coro_strerror(lfd));
    t->port = coro_socket_port(lfd);
    coro_spawn(&server, serve, &lfd, NULL);
    for (int i = 0; i < CLIENTS; i++)
        coro_spawn(&c[i], client, t, NULL);
    for (int i = 0; i < CLIENTS; i++)
        coro_await(c[i], NULL);
    coro_cancel(server); /* stops accepting, closes its connections */
    coro_await(server, NULL);
    coro_fd_close(lfd);
    return NULL;
}

int main(void)
{
    struct tally t = {0, 0, 0, 0, 0};
    int err = coro_run(main_task, &t, NULL, NULL);

    if (err != 0) {
        fprintf(stderr, "clients: %s\n", coro_strerror(err));
        return 1;
    }
    printf("%d clients: %d echoed before their deadline, %d timed out, %d failed\n", CLIENTS,
           t.echoed, t.timed_out, t.failed);
    return 0;
}
