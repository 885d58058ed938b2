/*
 * test_serve.c - coro_serve: a task per connection, the connection cap,
 * backing off without spinning when out of fds (EMFILE, with a lowered
 * RLIMIT_NOFILE, CPU time measured), errors in one handler, and shutting
 * the server down by canceling it.
 */
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sched.h"
#include "test.h"

struct served {
    int count, open, max_open, errors;
    coro_time hold;
};

static void echo_once(int fd, void *ctx)
{
    struct served *s = ctx;
    char buf[64];
    long n;

    s->open++;
    if (s->open > s->max_open)
        s->max_open = s->open;
    n = coro_read_until(fd, buf, sizeof buf, coro_after(CORO_SEC(10)));
    if (n > 0 && buf[0] == '!') {
        s->open--;
        coro_error("a bad request"); /* ends this connection only */
    }
    if (s->hold > 0)
        coro_sleep(s->hold);
    if (n > 0)
        coro_write_all(fd, buf, (size_t)n);
    s->open--;
    s->count++;
}

struct setup {
    struct served *s;
    int lfd, clients;
    coro_serve_options opt;
};

static void *serve_task(void *arg)
{
    struct setup *u = arg;

    return P(coro_serve(u->lfd, echo_once, u->s, &u->opt));
}

static void *client(void *arg)
{
    struct setup *u = arg;
    int fd = coro_tcp_connect("127.0.0.1", coro_socket_port(u->lfd));
    char buf[8];

    CHECK(fd >= 0);
    CHECK_ERR(coro_write_all(fd, "hi", 2), 0);
    CHECK_INT(coro_read_until(fd, buf, sizeof buf, coro_after(CORO_SEC(10))), 2);
    CHECK_ERR(coro_fd_close(fd), 0);
    return NULL;
}

static void *bad_client(void *arg)
{
    struct setup *u = arg;
    int fd = coro_tcp_connect("127.0.0.1", coro_socket_port(u->lfd));
    char buf[8];

    CHECK(fd >= 0);
    CHECK_ERR(coro_write_all(fd, "!", 1), 0);
    CHECK_INT(coro_read(fd, buf, sizeof buf), 0); /* closed by the server */
    CHECK_ERR(coro_fd_close(fd), 0);
    return NULL;
}

/* Cancels the server task: coro_serve ends with CORO_ECANCELED, which its
 * task returns; then closes the listener. */
static void stop_server(coro_task *server, int lfd)
{
    void *out;

    CHECK_ERR(coro_cancel(server), 0);
    CHECK_ERR(coro_await(server, &out), CORO_ETASKCANCELED);
    CHECK_ERR((int)N(out), CORO_ECANCELED);
    CHECK_ERR(coro_fd_close(lfd), 0);
}

static void *serve_main(void *arg)
{
    struct setup *u = arg;
    coro_task *server, *c[16];

    u->lfd = coro_tcp_listen("127.0.0.1", 0, 0);
    CHECK(u->lfd >= 0);
    CHECK_ERR(coro_spawn(&server, serve_task, u, NULL), 0);
    CHECK_ERR(coro_spawn(NULL, bad_client, u, NULL), 0);
    for (int i = 0; i < u->clients; i++)
        CHECK_ERR(coro_spawn(&c[i], client, u, NULL), 0);
    for (int i = 0; i < u->clients; i++)
        CHECK_ERR(coro_await(c[i], NULL), 0);
    stop_server(server, u->lfd);
    return NULL;
}

TEST(serve_runs_a_task_per_connection_and_stops_when_canceled)
{
    struct served s = {0, 0, 0, 0, CORO_MSEC(5)};
    struct setup u = {&s, -1, 12, {0}};

    CHECK_ERR(coro_run(serve_main, &u, NULL, NULL), 0);
    CHECK_INT(s.count, 12);
    CHECK(s.max_open > 1); /* concurrently */
}

TEST(serve_keeps_at_most_max_conns_open)
{
    struct served s = {0, 0, 0, 0, CORO_MSEC(5)};
    struct setup u = {&s, -1, 12, {3, 0}};

    CHECK_ERR(coro_run(serve_main, &u, NULL, NULL), 0);
    CHECK_INT(s.count, 12);
    CHECK(s.max_open <= 3);
}

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Clients in another process (their fds are not ours): n connections at
 * once, each sends a byte and waits for it back. */
static struct rlimit normal_limit;

static void run_clients(int port, int n)
{
    int fds[32];

    if (setrlimit(RLIMIT_NOFILE, &normal_limit) != 0) /* the parent's is low */
        _exit(1);
    for (int i = 0; i < n; i++) {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)port);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sin, sizeof sin) != 0 ||
            write(fds[i], "x", 1) != 1)
            _exit(2);
    }
    for (int i = 0; i < n; i++) {
        char c;
        if (read(fds[i], &c, 1) != 1)
            _exit(3);
        close(fds[i]);
    }
    _exit(0);
}

static void *emfile_main(void *arg)
{
    struct setup *u = arg;
    coro_task *server;
    int status;
    pid_t pid;

    u->lfd = coro_tcp_listen("127.0.0.1", 0, 64);
    CHECK(u->lfd >= 0);
    pid = fork();
    if (pid == 0)
        run_clients(coro_socket_port(u->lfd), u->clients);
    CHECK_ERR(coro_spawn(&server, serve_task, u, NULL), 0);
    while (u->s->count < u->clients)
        CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0);
    CHECK_ERR(coro_cancel(server), 0);
    coro_await(server, NULL);
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_ERR(coro_fd_close(u->lfd), 0);
    return NULL;
}

TEST(out_of_fds_the_server_backs_off_without_spinning)
{
    struct served s = {0, 0, 0, 0, CORO_MSEC(30)};
    struct setup u = {&s, -1, 10, {0}};
    struct rlimit old, low;
    int limit = 0, free_below = 0;
    double cpu0, wall0, cpu, wall;

    /* valgrind and qemu keep fds of their own inside the limit. */
    if (test_slow_env())
        return;
    /* The limit below which exactly four fds are free: the listener, the
     * poller, and two connections at a time. */
    while (free_below < 4)
        free_below += fcntl(limit++, F_GETFD) < 0;
    CHECK_INT(getrlimit(RLIMIT_NOFILE, &old), 0);
    normal_limit = old;
    low = old;
    low.rlim_cur = (rlim_t)limit;
    CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
    cpu0 = cpu_seconds();
    wall0 = test_seconds();
    CHECK_ERR(coro_run(emfile_main, &u, NULL, NULL), 0);
    cpu = cpu_seconds() - cpu0;
    wall = test_seconds() - wall0;
    CHECK_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
    CHECK_INT(s.count, 10);
    CHECK(s.max_open <= 3);
    /* Ten 30 ms connections, a few at a time: well over 100 ms of waiting
     * for fds. A spinning accept loop would burn all of it. */
    CHECK(wall > 0.1);
    if (!test_slow_env())
        CHECK(cpu < 0.5 * wall);
}

static void *serve_misuse(void *arg)
{
    coro_serve_options bad = {-1, 0};

    (void)arg;
    CHECK_ERR(coro_serve(-1, echo_once, NULL, NULL), CORO_EINVAL);
    CHECK_ERR(coro_serve(0, NULL, NULL, NULL), CORO_EINVAL);
    CHECK_ERR(coro_serve(0, echo_once, NULL, &bad), CORO_EINVAL);
    return NULL;
}

TEST(serve_misuse_is_refused)
{
    CHECK_ERR(coro_serve(0, echo_once, NULL, NULL), CORO_ENOLOOP);
    CHECK_ERR(coro_run(serve_misuse, NULL, NULL, NULL), 0);
}

/* ---- a slowloris client is shed at its deadline ---- */

/* Reads one line, which must arrive whole within 50 ms of the first try. */
static void line_echo(int fd, void *ctx)
{
    char buf[64];
    size_t have = 0;
    coro_time deadline = coro_after(CORO_MSEC(50));
    long n;

    (void)ctx;
    while (have < sizeof buf && (have == 0 || buf[have - 1] != '\n')) {
        n = coro_read_until(fd, buf + have, sizeof buf - have, deadline);
        if (n <= 0)
            return; /* closed, or too slow: shed */
        have += (size_t)n;
    }
    coro_write_all(fd, buf, have);
}

struct loris {
    int lfd;
    coro_time shed_at, normal_at;
};

static void *trickle(void *arg)
{
    struct loris *l = arg;
    coro_time t0 = coro_now(); /* before the server can start its deadline */
    int fd = coro_tcp_connect("127.0.0.1", coro_socket_port(l->lfd));
    char c;

    CHECK(fd >= 0);
    for (int i = 0; i < 20; i++) { /* a byte every 10 ms, never a newline */
        long n = coro_write(fd, "x", 1);

        if (n == 1)
            n = coro_read_until(fd, &c, 1, coro_after(CORO_MSEC(10)));
        if (n != CORO_ETIMEDOUT) {
            /* The server closed on it: an end of stream, or a reset when
               a byte was still unread at the close (seen under valgrind). */
            CHECK(n == 0 || n == CORO_ECONNRESET || n == CORO_EPIPE);
            l->shed_at = coro_now() - t0;
            break;
        }
    }
    CHECK_ERR(coro_fd_close(fd), 0);
    return NULL;
}

static void *normal(void *arg)
{
    struct loris *l = arg;
    coro_time t0;
    int fd;
    char buf[16];

    CHECK_ERR(coro_sleep(CORO_MSEC(20)), 0); /* while the slow one trickles */
    t0 = coro_now();
    fd = coro_tcp_connect("127.0.0.1", coro_socket_port(l->lfd));
    CHECK(fd >= 0);
    CHECK_ERR(coro_write_all(fd, "hi\n", 3), 0);
    CHECK_INT(coro_read_until(fd, buf, sizeof buf, coro_after(CORO_SEC(5))), 3);
    l->normal_at = coro_now() - t0;
    CHECK_ERR(coro_fd_close(fd), 0);
    return NULL;
}

static void *serve_lines(void *arg)
{
    struct loris *l = arg;

    return P(coro_serve(l->lfd, line_echo, NULL, NULL));
}

static void *loris_main(void *arg)
{
    struct loris *l = arg;
    coro_task *server, *a, *b;

    l->lfd = coro_tcp_listen("127.0.0.1", 0, 0);
    CHECK(l->lfd >= 0);
    CHECK_ERR(coro_spawn(&server, serve_lines, l, NULL), 0);
    CHECK_ERR(coro_spawn(&a, trickle, l, NULL), 0);
    CHECK_ERR(coro_spawn(&b, normal, l, NULL), 0);
    CHECK_ERR(coro_await(a, NULL), 0);
    CHECK_ERR(coro_await(b, NULL), 0);
    CHECK_ERR(coro_cancel(server), 0);
    coro_await(server, NULL);
    CHECK_ERR(coro_fd_close(l->lfd), 0);
    return NULL;
}

TEST(a_trickling_client_is_shed_at_its_deadline_while_others_are_served)
{
    struct loris l = {-1, -1, -1};

    CHECK_ERR(coro_run(loris_main, &l, NULL, NULL), 0);
    CHECK(l.shed_at >= CORO_MSEC(40)); /* shed at its 50 ms deadline, not before */
    CHECK(l.shed_at < CORO_MSEC(150) || test_slow_env());
    CHECK(l.normal_at >= 0); /* served meanwhile */
    CHECK(l.normal_at < CORO_MSEC(40) || test_slow_env());
}

/* ---- a connection accepted in a burst whose task cannot get a stack ---- */

static int burst_stop, burst_armed, burst_connected;

static void *burst_yielder(void *arg)
{
    (void)arg;
    while (!burst_stop) {
        /* the connection's task is queued without a worker: its bind is
         * the next allocation, and it fails */
        if (!burst_armed && burst_connected && coro__loop_tls->unbound > 0) {
            burst_armed = 1;
            coro__fail_after(1);
        }
        coro_yield(NULL, NULL);
    }
    return NULL;
}

static void *burst_client(void *arg)
{
    struct setup *u = arg;
    int fd = coro_tcp_connect("127.0.0.1", coro_socket_port(u->lfd));
    char buf[8];
    long n;

    CHECK(fd >= 0);
    burst_connected = 1;
    CHECK_ERR(coro_write_all(fd, "hi", 2), 0);
    n = coro_read_until(fd, buf, sizeof buf, coro_after(CORO_MSEC(300)));
    CHECK_ERR(coro_fd_close(fd), 0);
    return P(n);
}

static void *serve_burst_main(void *arg)
{
    struct setup *u = arg;
    coro_task *server, *c;
    void *out;

    u->lfd = coro_tcp_listen("127.0.0.1", 0, 0);
    CHECK(u->lfd >= 0);
    CHECK_ERR(coro_spawn(&server, serve_task, u, NULL), 0);
    for (int i = 0; i < 70; i++)
        CHECK_ERR(coro_spawn(NULL, burst_yielder, NULL, NULL), 0);
    CHECK_ERR(coro_spawn(&c, burst_client, u, NULL), 0);
    CHECK_ERR(coro_await(c, &out), 0);
    CHECK(N(out) == 2 || N(out) == 0); /* served, or dropped and closed */
    burst_stop = 1;
    CHECK_ERR(coro_spawn(&c, burst_client, u, NULL), 0); /* the server goes on */
    CHECK_ERR(coro_await(c, &out), 0);
    CHECK_INT(N(out), 2);
    stop_server(server, u->lfd);
    return NULL;
}

TEST(serve_drops_only_the_connection_whose_task_cannot_start)
{
    struct served s = {0, 0, 0, 0, 0};
    struct setup u = {&s, -1, 0, {0}};

    CHECK_ERR(coro_run(serve_burst_main, &u, NULL, NULL), 0);
}
