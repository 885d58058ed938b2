/*
 * serve.c - the accept loop every server needs, with the overload answers
 * built in: a task per connection in a group the server owns, a cap on
 * open connections, and a back-off when the process runs out of fds.
 *
 * Out of fds (EMFILE / ENFILE), accept fails while the connection stays in
 * the kernel's backlog and the listening socket stays readable: a server
 * that retries at once spins the CPU at 100%. Here the server instead waits
 * until one of its own connections closes (an fd comes back) or, if it has
 * none, for a back-off that doubles from 1 ms to 1 s. At the connection cap
 * it waits for a connection to close before accepting again, so excess
 * clients queue in the backlog instead of costing memory.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sched.h"

typedef struct server {
    coro_serve_fn handler;
    void *ctx;
    int max_conns;
    int open;          /* connections being handled */
    coro_event closed; /* set when one closes */
} server;

typedef struct conn {
    server *s;
    int fd;
} conn;

static void *call_handler(void *arg)
{
    conn *c = arg;

    c->s->handler(c->fd, c->s->ctx);
    return NULL;
}

/* A connection's task. An error raised by the handler ends that
 * connection only: a server outlives its bad requests. */
static void *handle(void *arg)
{
    conn c = *(conn *)arg;

    coro__free(arg);
    (void)coro_pcall(call_handler, &c, NULL);
    coro_fd_close(c.fd);
    c.s->open--;
    coro_event_set(&c.s->closed);
    return NULL;
}

/* Out of fds or at the cap: waits for a connection of ours to close, or
 * for `backoff` when there is none to wait for. */
static int wait_room(server *s, coro_time backoff)
{
    int rc;

    coro_event_clear(&s->closed);
    rc = s->open > 0 ? coro_event_wait(&s->closed) : coro_sleep(backoff);
    return rc == CORO_ETIMEDOUT ? 0 : rc;
}

/* One loop's accept loop on lfd. */
static int serve_here(int lfd, coro_serve_fn handler, void *ctx, int max_conns)
{
    server s = {handler, ctx, max_conns, 0, CORO_EVENT_INIT};
    /* each connection's task gets its worker at the spawn: it must run,
     * since it owns the fd and the record it is given */
    coro_task_options in_group = {"connection", 0, NULL, CORO__SPAWN_NOW, NULL};
    coro_time backoff = CORO_MSEC(1);
    coro_group *g;
    int rc, fd;

    if ((rc = coro_group_open(&g)) != 0)
        return rc;
    in_group.group = g;
    for (;;) {
        conn *c;

        if (s.max_conns > 0 && s.open >= s.max_conns) {
            if ((rc = wait_room(&s, backoff)) != 0)
                break;
            continue;
        }
        fd = coro_accept(lfd);
        if (fd == CORO_EMFILE || fd == CORO_ENFILE) {
            if ((rc = wait_room(&s, backoff)) != 0)
                break;
            backoff = backoff < CORO_SEC(1) ? backoff * 2 : CORO_SEC(1);
            continue;
        }
        if (fd < 0) {
            rc = fd; /* canceled, the listener closed, ... */
            break;
        }
        backoff = CORO_MSEC(1);
        if ((c = coro__malloc(sizeof *c)) == NULL ||
            (c->s = &s, c->fd = fd, coro_spawn(NULL, handle, c, &in_group)) != 0) {
            coro__free(c); /* no memory for this one: it is dropped, the server goes on */
            coro_fd_close(fd);
        } else {
            s.open++;
        }
    }
    coro_group_cancel(g); /* the connections end with the server */
    coro_group_wait(g);
    return rc;
}

/* ---- every loop ---- */

/* What another loop serves: its own listener (closed when it ends), or
 * lfd itself (own 0). On the heap: it crosses to that loop's thread. */
typedef struct shard {
    int lfd, own;
    coro_serve_fn handler;
    void *ctx;
    int max_conns;
} shard;

static void *serve_shard(void *arg)
{
    shard sh = *(shard *)arg;
    int rc;

    coro__free(arg);
    rc = serve_here(sh.lfd, sh.handler, sh.ctx, sh.max_conns);
    if (sh.own)
        coro_fd_close(sh.lfd);
    return (void *)(intptr_t)rc;
}

/* A listener of its own on lfd's address, in lfd's SO_REUSEPORT group;
 * -1 when the kernel refuses one. */
static int sibling(const struct sockaddr_storage *ss, socklen_t len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, SOMAXCONN) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int coro_serve(int lfd, coro_serve_fn handler, void *ctx, const coro_serve_options *opt)
{
    int max_conns = opt != NULL ? opt->max_conns : 0, n = coro_loop_count(), here, rc, one = 1;
    int type = 0, listening = 0;
    socklen_t tlen = sizeof type, llen = sizeof listening, len = sizeof(struct sockaddr_storage);
    struct sockaddr_storage ss;
    coro_group *g;

    if (handler == NULL || lfd < 0 || max_conns < 0)
        return CORO_EINVAL;
    if (opt == NULL || !(opt->flags & CORO_SERVE_EVERY_LOOP) || n <= 1)
        return serve_here(lfd, handler, ctx, max_conns);
    if (getsockopt(lfd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM ||
        getsockopt(lfd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &llen) != 0 || !listening ||
        getsockname(lfd, (struct sockaddr *)&ss, &len) != 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
        return CORO_EINVAL;
    (void)setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if ((rc = coro_group_open(&g)) != 0)
        return rc;
    here = coro_loop_index(coro_loop_self());
    for (int i = 0; i < n; i++) {
        coro_task_options o = {"server", 0, g, 0, coro_loop_at(i)};
        shard *sh;
        int fd;

        if (i == here)
            continue;
        if ((sh = coro__malloc(sizeof *sh)) == NULL)
            break; /* fewer loops serve: the others still do */
        fd = sibling(&ss, len);
        *sh = (shard){fd >= 0 ? fd : lfd, fd >= 0, handler, ctx, max_conns};
        if (coro_spawn(NULL, serve_shard, sh, &o) != 0) {
            if (fd >= 0)
                close(fd);
            coro__free(sh);
        }
    }
    rc = serve_here(lfd, handler, ctx, max_conns);
    coro_group_cancel(g); /* every loop's server ends with this one */
    coro_group_wait(g);
    return rc;
}
