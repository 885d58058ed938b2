/*
 * test_rx.c - receiving ahead (CORO_RUN_READ_AHEAD): bytes arrive in order
 * through small reads, readv and paused receives; a reset is reported once,
 * then the end; closing a socket under its reader wakes it, really closes
 * the connection, and nothing of it reaches the next socket with that
 * number; a socket waited on before coro reads it is left to read();
 * several readers share the bytes; a loop that runs out of buffers goes
 * back to read() without losing any. Where the kernel cannot receive ahead
 * (or CORO_READ_AHEAD=0 / CORO_IO_URING=0) the same tests run on read().
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"
#include "hooks.h"

static coro_run_options ahead = {CORO_RUN_READ_AHEAD, 0, 0, 0, 0, 0};

/* Whether this machine and environment receive ahead: then a socket that
 * coro accepted must be received ahead. Found out once per process (the
 * runner may give each test its own). */
static int expected, known;

static void find_out(void);

static void run_ahead(coro_fn fn)
{
    if (!known)
        find_out();
    CHECK_ERR(coro_run(fn, NULL, NULL, &ahead), 0);
}

static void tcp_pair(int *lfd, int *client, int *server)
{
    *lfd = coro_tcp_listen("127.0.0.1", 0, 0);
    CHECK(*lfd >= 0);
    *client = coro_tcp_connect("127.0.0.1", coro_socket_port(*lfd));
    CHECK(*client >= 0);
    *server = coro_accept(*lfd);
    CHECK(*server >= 0);
    if (expected)
        CHECK(coro__fd_read_ahead(*server));
}

static void *probe(void *arg)
{
    int lfd, c, s;

    (void)arg;
    expected = 1;
    lfd = coro_tcp_listen("127.0.0.1", 0, 0);
    c = coro_tcp_connect("127.0.0.1", coro_socket_port(lfd));
    s = coro_accept(lfd);
    CHECK(lfd >= 0 && c >= 0 && s >= 0);
    expected = coro__fd_read_ahead(s);
    coro_fd_close(s);
    coro_fd_close(c);
    coro_fd_close(lfd);
    return NULL;
}

/* Sets `expected` from a first connection; says so when it is off. */
static void find_out(void)
{
    const char *env = getenv("CORO_READ_AHEAD"), *uring = getenv("CORO_IO_URING");

    known = 1;
    run_ahead(probe);
    if ((env != NULL && strcmp(env, "0") == 0) || (uring != NULL && strcmp(uring, "0") == 0))
        CHECK(!expected);
    else if (!expected)
        printf("# receiving ahead is not available here: the tests run on read()\n");
}

/* ---- order through small reads, readv and pauses ---- */

#define STREAM_LEN (1 << 20)

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + i / 251);
}

static void *stream_writer(void *arg)
{
    int fd = (int)N(arg);
    static unsigned char buf[3001];
    size_t sent = 0;

    while (sent < STREAM_LEN) {
        size_t n = STREAM_LEN - sent < sizeof buf ? STREAM_LEN - sent : sizeof buf;

        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(sent + i);
        CHECK_ERR(coro_write_all(fd, buf, n), 0);
        sent += n;
    }
    CHECK_ERR(coro_shutdown(fd, CORO_SHUT_WR), 0);
    return NULL;
}

static void *in_order(void *arg)
{
    static const size_t sizes[] = {1, 100, 4096, 10000, 2048, 3};
    static unsigned char buf[10000];
    int lfd, c, s;
    size_t got = 0, reads = 0;
    coro_task *w;

    (void)arg;
    tcp_pair(&lfd, &c, &s);
    CHECK_ERR(coro_spawn(&w, stream_writer, P(c), NULL), 0);
    for (;;) {
        long n;

        if (reads % 5 == 4) { /* readv across three pieces */
            struct iovec iov[3] = {{buf, 10}, {buf + 10, 0}, {buf + 10, 5000}};
            n = coro_readv(s, iov, 3);
        } else {
            n = coro_read(s, buf, sizes[reads % 6]);
        }
        CHECK(n >= 0);
        if (n <= 0)
            break;
        for (long i = 0; i < n; i++)
            if (buf[i] != pattern(got + (size_t)i)) {
                CHECK_INT(buf[i], pattern(got + (size_t)i));
                return NULL;
            }
        got += (size_t)n;
        if (++reads % 64 == 0) /* let the kernel fill and pause the receive */
            CHECK_ERR(coro_sleep(CORO_USEC(200)), 0);
    }
    CHECK_INT(got, STREAM_LEN);
    CHECK_INT(coro_read(s, buf, 1), 0); /* the end stays */
    CHECK_ERR(coro_await(w, NULL), 0);
    close_all(s, c, lfd, -1);
    return NULL;
}

TEST(bytes_received_ahead_arrive_in_order_through_small_reads_readv_and_pauses)
{
    run_ahead(in_order);
}

/* ---- a reset, deadlines, cancellation, one-byte reads ---- */

static void *reset(void *arg)
{
    int lfd, c, s;
    char buf[8];
    struct linger lg = {1, 0};

    (void)arg;
    tcp_pair(&lfd, &c, &s);
    CHECK_INT(coro_read_until(s, buf, 1, coro_after(CORO_MSEC(10))), CORO_ETIMEDOUT);
    CHECK_INT(coro_write(c, "ab", 2), 2);
    CHECK_INT(coro_read(s, buf, sizeof buf), 2);
    CHECK_INT(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    CHECK_ERR(coro_fd_close(c), 0); /* RST */
    CHECK_INT(coro_read(s, buf, sizeof buf), CORO_ECONNRESET);
    CHECK_INT(coro_read(s, buf, sizeof buf), 0);
    close_all(s, lfd, -1);
    return NULL;
}

TEST(a_reset_is_reported_once_then_the_end_and_deadlines_hold)
{
    run_ahead(reset);
}

static void *reader_of(void *arg)
{
    char c;

    return P(coro_read((int)N(arg), &c, 1));
}

static void *one_bytes(void *arg)
{
    int lfd, c, s;
    char buf[8];
    coro_task *t;
    void *out;

    (void)arg;
    tcp_pair(&lfd, &c, &s);
    CHECK_ERR(coro_spawn(&t, reader_of, P(s), NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0);
    CHECK_ERR(coro_cancel(t), 0);
    CHECK_ERR(coro_await(t, &out), CORO_ETASKCANCELED);
    CHECK_ERR((int)N(out), CORO_ECANCELED);
    CHECK_INT(coro_write(c, "hello", 5), 5);
    coro__io_inject(1);
    for (int i = 0; i < 5; i++) {
        CHECK_INT(coro_read(s, buf, sizeof buf), 1);
        CHECK_INT(buf[0], "hello"[i]);
    }
    coro__io_inject(0);
    close_all(s, c, lfd, -1);
    return NULL;
}

TEST(a_canceled_reader_wakes_and_one_byte_reads_take_one_byte)
{
    run_ahead(one_bytes);
}

/* ---- closing under a reader, and the fd number reused ---- */

static void *close_and_reuse(void *arg)
{
    int lfd, c, s, c2, s2;
    long r;
    char buf[16];
    coro_task *t;
    void *out;

    (void)arg;
    tcp_pair(&lfd, &c, &s);
    CHECK_INT(coro_write(c, "x", 1), 1);
    CHECK_INT(coro_read(s, buf, 1), 1);    /* armed */
    CHECK_INT(coro_write(c, "old", 3), 3); /* received, never read */
    CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0);
    CHECK_ERR(coro_fd_close(s), 0);
    {
        /* The connection is closed at once, before this loop waits on
         * anything again (a poll(2) that blocks the whole thread). */
        struct pollfd p = {c, POLLIN, 0};

        CHECK_INT(poll(&p, 1, 5000), 1);
    }
    /* The peer sees its end (or, on read(), a reset for the bytes left
     * unread), not a timeout. */
    r = coro_read_until(c, buf, sizeof buf, coro_after(CORO_SEC(5)));
    CHECK(r == 0 || r == CORO_ECONNRESET);
    c2 = coro_tcp_connect("127.0.0.1", coro_socket_port(lfd));
    CHECK(c2 >= 0);
    s2 = coro_accept(lfd);
    CHECK(s2 >= 0); /* most likely s's number again */
    CHECK_INT(coro_write(c2, "new", 3), 3);
    CHECK_INT(coro_read(s2, buf, sizeof buf), 3); /* nothing of the old one */
    CHECK(memcmp(buf, "new", 3) == 0);
    CHECK_ERR(coro_spawn(&t, reader_of, P(s2), NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0);
    CHECK_ERR(coro_fd_close(s2), 0); /* under its reader */
    CHECK_ERR(coro_await(t, &out), 0);
    CHECK_ERR((int)N(out), CORO_EBADF);
    close_all(c2, c, lfd, -1);
    return NULL;
}

TEST(closing_under_a_reader_wakes_it_closes_the_connection_and_nothing_reaches_the_next)
{
    run_ahead(close_and_reuse);
}

/* ---- a socket waited on first is left to read() ---- */

static void *wait_then_read(void *arg)
{
    int lfd, c, s, lfd2;
    char buf[8];

    (void)arg;
    tcp_pair(&lfd, &c, &s);
    CHECK_INT(coro_write(c, "raw", 3), 3);
    CHECK_ERR(coro_fd_wait(s, CORO_READ), 0);
    CHECK(!coro__fd_read_ahead(s));
    CHECK_INT(read(s, buf, sizeof buf), 3); /* the bytes are in the socket */
    CHECK(memcmp(buf, "raw", 3) == 0);
    CHECK_INT(coro_write(c, "co", 2), 2);
    CHECK_INT(coro_read(s, buf, sizeof buf), 2);
    close_all(s, c, -1);
    tcp_pair(&lfd2, &c, &s); /* read by coro first: waits leave it ahead */
    CHECK_INT(coro_write(c, "a", 1), 1);
    CHECK_INT(coro_read(s, buf, 1), 1);
    CHECK_INT(coro_write(c, "b", 1), 1);
    CHECK_ERR(coro_fd_wait(s, CORO_READ), 0);
    CHECK_INT(coro__fd_read_ahead(s), expected);
    CHECK_INT(coro_read(s, buf, sizeof buf), 1);
    CHECK_INT(buf[0], 'b');
    {
        struct iovec huge[2] = {{buf, SSIZE_MAX}, {buf, SSIZE_MAX}};

        CHECK_INT(coro_readv(s, huge, 2), CORO_EINVAL); /* as readv(2) */
    }
    close_all(lfd2, s, c, lfd, -1);
    return NULL;
}

TEST(a_socket_waited_on_before_coro_reads_it_is_left_to_read_and_after_it_stays_ahead)
{
    run_ahead(wait_then_read);
}

/* ---- several readers ---- */

static char shared[16];
static int nshared;

static void *byte_reader(void *arg)
{
    char b;

    while (coro_read((int)N(arg), &b, 1) == 1)
        shared[nshared++] = b;
    return NULL;
}

static void *several(void *arg)
{
    int lfd, c, s;
    coro_task *t[3];

    (void)arg;
    nshared = 0;
    tcp_pair(&lfd, &c, &s);
    for (int i = 0; i < 3; i++)
        CHECK_ERR(coro_spawn(&t[i], byte_reader, P(s), NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0);
    CHECK_INT(coro_write(c, "abcde", 5), 5);
    CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0);
    CHECK_INT(coro_write(c, "fghij", 5), 5);
    CHECK_ERR(coro_shutdown(c, CORO_SHUT_WR), 0);
    for (int i = 0; i < 3; i++)
        CHECK_ERR(coro_await(t[i], NULL), 0);
    CHECK_INT(nshared, 10);
    CHECK(memcmp(shared, "abcdefghij", 10) == 0);
    close_all(s, c, lfd, -1);
    return NULL;
}

TEST(several_readers_of_a_socket_received_ahead_share_its_bytes_in_order)
{
    run_ahead(several);
}

/* ---- running out of buffers ---- */

static void *starved(void *arg)
{
    int lfd, c1, s1, c2, s2;
    static char big[20000], buf[20000];
    size_t got;

    (void)arg;
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)pattern(i);
    tcp_pair(&lfd, &c1, &s1);
    CHECK_INT(coro_write(c1, "a", 1), 1);
    CHECK_INT(coro_read(s1, buf, 1), 1);               /* armed */
    CHECK_ERR(coro_write_all(c1, big, sizeof big), 0); /* more than the 4 buffers */
    CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0);
    c2 = coro_tcp_connect("127.0.0.1", coro_socket_port(lfd));
    s2 = coro_accept(lfd);
    CHECK(c2 >= 0 && s2 >= 0);
    CHECK_INT(coro_write(c2, "second", 6), 6);
    CHECK_INT(coro_read(s2, buf, sizeof buf), 6); /* no buffer free: read() */
    CHECK(memcmp(buf, "second", 6) == 0);
    if (expected)
        CHECK(!coro__fd_read_ahead(s2) && !coro__fd_read_ahead(s1));
    for (got = 0; got < sizeof big;) {
        long n = coro_read(s1, buf + got, sizeof buf - got);

        CHECK(n > 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    CHECK(memcmp(buf, big, sizeof big) == 0);
    /* Its buffers back, a socket that went to read() comes back. */
    CHECK_INT(coro_write(c2, "third", 5), 5);
    CHECK_INT(coro_read(s2, buf, sizeof buf), 5);
    CHECK(memcmp(buf, "third", 5) == 0);
    CHECK_INT(coro__fd_read_ahead(s2), expected);
    CHECK_INT(coro_write(c2, "fourth", 6), 6);
    CHECK_INT(coro_read(s2, buf, sizeof buf), 6);
    CHECK(memcmp(buf, "fourth", 6) == 0);
    close_all(s1, c1, s2, c2, lfd, -1);
    return NULL;
}

TEST(a_loop_out_of_buffers_goes_to_read_for_a_while_and_loses_nothing)
{
    coro__rx_inject(4);
    run_ahead(starved);
    coro__rx_inject(0);
    coro__sys_inject(CORO__SYS_URING_SQE, 0, 0, 0);
}

/* ---- the ring refusing requests ---- */

static void *refused(void *arg)
{
    int lfd, c, s, c2, s2;
    char buf[8];

    (void)arg;
    tcp_pair(&lfd, &c, &s);
    CHECK_INT(coro_write(c, "a", 1), 1);
    CHECK_INT(coro_read(s, buf, 1), 1); /* armed */
    coro__sys_inject(CORO__SYS_URING_SQE, 1, 1, EBUSY);
    CHECK_ERR(coro_fd_close(s), 0); /* its cancellation waits for room */
    /* The loop's next wait sends it: the connection closes. */
    CHECK_INT(coro_read_until(c, buf, sizeof buf, coro_after(CORO_SEC(5))), 0);
    c2 = coro_tcp_connect("127.0.0.1", coro_socket_port(lfd));
    s2 = coro_accept(lfd);
    CHECK(c2 >= 0 && s2 >= 0);
    coro__sys_inject(CORO__SYS_URING_SQE, 1, 1, EBUSY);
    CHECK_INT(coro_write(c2, "bc", 2), 2);
    CHECK_INT(coro_read(s2, buf, sizeof buf), 2); /* no room to arm: read() */
    CHECK(memcmp(buf, "bc", 2) == 0);
    CHECK(!coro__fd_read_ahead(s2));
    close_all(s2, c2, c, lfd, -1);
    return NULL;
}

TEST(requests_the_ring_refuses_fall_back_or_wait_for_room)
{
    run_ahead(refused);
    coro__rx_inject(0);
    coro__sys_inject(CORO__SYS_URING_SQE, 0, 0, 0);
}

/* ---- the ring's watch on epoll lost ---- */

static int pipe_fds[2];

static void *pipe_writer(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0);
    CHECK_INT(coro_write(pipe_fds[1], "y", 1), 1);
    return NULL;
}

static void *poll_lost(void *arg)
{
    int lfd, c, s;
    char b;
    coro_task *w;

    (void)arg;
    tcp_pair(&lfd, &c, &s);
    CHECK_INT(coro_write(c, "x", 1), 1);
    CHECK_INT(coro_read(s, &b, 1), 1); /* the loop waits in the ring */
    CHECK_INT(pipe(pipe_fds), 0);
    if (expected) {
        CHECK_ERR(coro__rx_test_end_poll(), 0);
        coro__sys_inject(CORO__SYS_URING_SQE, 1, 2,
                         EBUSY); /* and watching epoll again is refused twice */
    }
    for (int i = 0; i < 3; i++) { /* epoll's events still reach the loop */
        CHECK_ERR(coro_spawn(&w, pipe_writer, NULL, NULL), 0);
        CHECK_INT(coro_read(pipe_fds[0], &b, 1), 1);
        CHECK_ERR(coro_await(w, NULL), 0);
    }
    CHECK_INT(coro_write(c, "z", 1), 1); /* and the ring's completions too */
    CHECK_INT(coro_read(s, &b, 1), 1);
    CHECK_INT(b, 'z');
    close_all(pipe_fds[0], pipe_fds[1], s, c, lfd, -1);
    return NULL;
}

TEST(a_loop_whose_ring_stops_watching_epoll_waits_in_epoll_until_it_can_again)
{
    run_ahead(poll_lost);
    coro__rx_inject(0);
    coro__sys_inject(CORO__SYS_URING_SQE, 0, 0, 0);
}
