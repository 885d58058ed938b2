/*
 * test_copytask.c - every blocking call from a copy-stack task while
 * another copy-stack task holds the shared stack: the call's records,
 * buffers and results must not live where the other task's frames now are.
 *
 * Each test runs a subject (a copy-stack task making one blocking call with
 * its buffers and results on its stack) and a scribbler (another
 * copy-stack task that fills most of the shared stack with a pattern, makes
 * the subject's call complete while its own frames are there, and checks
 * after every yield that nobody wrote into them). Whoever completes the
 * call (a pool thread, the kernel through io_uring, a waker task) works
 * while the subject's bytes are saved elsewhere and the scribbler's occupy
 * their addresses.
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "test.h"

#define JUNK (24 * 1024)

typedef struct scene scene;
struct scene {
    void (*trigger)(scene *s); /* makes the subject's call complete */
    int fds[2];                /* a pipe or socket pair, per test */
    int lfd;                   /* a listening socket */
    coro_chan *ch;
    coro_mutex mu;
    coro_sem sem;
    coro_wg wg;
    coro_event ev;
    long got;   /* what a trigger received from the subject */
    int done;   /* the subject has checked its results */
    int rounds; /* the scribbler's yields while the subject was parked */
};

static coro_task_options copy_opts = {NULL, 0, NULL, CORO_COPY_STACK, NULL};

static void *scribbler(void *arg)
{
    scene *s = arg;
    volatile unsigned char junk[JUNK];

    for (int round = 0; !s->done; round++) {
        unsigned char mark = (unsigned char)(0xa0 + round % 64);

        memset((unsigned char *)junk, mark, sizeof junk);
        if (round == 0 && s->trigger != NULL)
            s->trigger(s);
        CHECK_ERR(coro_yield(NULL, NULL), 0);
        for (size_t i = 0; i < sizeof junk; i++)
            if (junk[i] != mark)
                test_fail(__FILE__, __LINE__, "the scribbler's frame was written at byte %zu", i);
        s->rounds++;
    }
    return NULL;
}

struct stage {
    coro_fn subject;
    scene *s;
};

static void *stage_main(void *arg)
{
    struct stage *st = arg;
    coro_task *subject, *scrib;

    CHECK_ERR(coro_spawn(&subject, st->subject, st->s, &copy_opts), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* the subject runs and parks */
    CHECK_ERR(coro_spawn(&scrib, scribbler, st->s, &copy_opts), 0);
    CHECK_ERR(coro_await(subject, NULL), 0);
    CHECK_ERR(coro_await(scrib, NULL), 0);
    return NULL;
}

static void play(coro_fn subject, void (*trigger)(scene *), scene *s)
{
    struct stage st = {subject, s};

    s->trigger = trigger;
    s->done = 0;
    s->rounds = 0;
    CHECK_ERR(coro_run(stage_main, &st, NULL, NULL), 0);
    CHECK_INT(s->done, 1);
}

static void new_pipe(scene *s)
{
    CHECK_INT(pipe(s->fds), 0);
}

static void new_socketpair(scene *s)
{
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, s->fds), 0);
}

static void close_fds(scene *s)
{
    close(s->fds[0]);
    close(s->fds[1]);
}

/* The subject's stack buffer, recognisable. */
static void fill(char *buf, size_t n, int seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + (i * 7 + (size_t)seed) % 26);
}

static void write_hello(scene *s)
{
    CHECK_INT(write(s->fds[1], "hello", 5), 5);
}

/* ---- files: the pool and io_uring ---- */

static void *file_read_subject(void *arg)
{
    scene *s = arg;
    char buf[64];

    memset(buf, 0, sizeof buf);
    /* An empty pipe: the pool's thread (or the ring) waits for the bytes. */
    CHECK_INT(coro_file_read(s->fds[0], buf, sizeof buf, -1), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    s->done = 1;
    return NULL;
}

static void on_both_file_backends(coro_fn subject, void (*trigger)(scene *), scene *s,
                                  void (*setup)(scene *), void (*teardown)(scene *))
{
    CHECK_INT(setenv("CORO_IO_URING", "0", 1), 0);
    setup(s);
    play(subject, trigger, s);
    teardown(s);
    CHECK_INT(unsetenv("CORO_IO_URING"), 0);
    setup(s);
    play(subject, trigger, s);
    teardown(s);
}

TEST(copy_task_file_read_completes_while_another_holds_the_stack)
{
    scene s;

    memset(&s, 0, sizeof s);
    on_both_file_backends(file_read_subject, write_hello, &s, new_pipe, close_fds);
}

#define FULL 4096 /* the pipe's capacity, set with F_SETPIPE_SZ */

static void new_full_pipe(scene *s)
{
    char pad[FULL];

    new_pipe(s);
    CHECK(fcntl(s->fds[1], F_SETPIPE_SZ, FULL) >= FULL);
    memset(pad, 'x', sizeof pad);
    CHECK_INT(fcntl(s->fds[1], F_GETPIPE_SZ), FULL);
    CHECK_INT(write(s->fds[1], pad, sizeof pad), FULL);
}

static void drain_pad(scene *s)
{
    char pad[FULL];

    CHECK_INT(read(s->fds[0], pad, sizeof pad), FULL);
}

static void *file_write_subject(void *arg)
{
    scene *s = arg;
    char buf[100], back[100];

    fill(buf, sizeof buf, 1);
    /* A full pipe: the write waits for room, and takes the bytes then. */
    CHECK_INT(coro_file_write(s->fds[1], buf, sizeof buf, -1), 100);
    CHECK_INT(read(s->fds[0], back, sizeof back), 100);
    CHECK(memcmp(back, buf, sizeof buf) == 0);
    s->done = 1;
    return NULL;
}

TEST(copy_task_file_write_completes_while_another_holds_the_stack)
{
    scene s;

    memset(&s, 0, sizeof s);
    on_both_file_backends(file_write_subject, drain_pad, &s, new_full_pipe, close_fds);
}

static char fifo[64];

static void new_fifo(scene *s)
{
    (void)s;
    snprintf(fifo, sizeof fifo, "/tmp/coro-copytask-%d", (int)getpid());
    unlink(fifo);
    CHECK_INT(mkfifo(fifo, 0600), 0);
}

static void remove_fifo(scene *s)
{
    close(s->fds[0]);
    unlink(fifo);
}

/* Opens the FIFO's other end once the subject's open waits on it (until
 * then a non-blocking open for writing fails with ENXIO). */
static void open_fifo_writer(scene *s)
{
    for (int i = 0; i < 5000; i++) {
        s->fds[0] = open(fifo, O_WRONLY | O_NONBLOCK);
        if (s->fds[0] >= 0)
            return;
        CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0);
    }
    CHECK(!"the subject never opened the FIFO");
}

static void *file_open_subject(void *arg)
{
    scene *s = arg;
    char path[64];
    int fd;

    memcpy(path, fifo, sizeof path);
    /* Opening a FIFO for reading waits for a writer. */
    fd = coro_file_open(path, O_RDONLY, 0);
    CHECK(fd >= 0);
    CHECK_INT(close(fd), 0);
    s->done = 1;
    return NULL;
}

TEST(copy_task_file_open_completes_while_another_holds_the_stack)
{
    scene s;

    memset(&s, 0, sizeof s);
    on_both_file_backends(file_open_subject, open_fifo_writer, &s, new_fifo, remove_fifo);
}

/* ---- offload and name resolution ---- */

static void *blocking_read(void *arg)
{
    int *fd = arg;
    char c;

    return read(*fd, &c, 1) == 1 ? (void *)(long)c : NULL;
}

static int offload_fd;

static void *offload_subject(void *arg)
{
    scene *s = arg;
    void *result = NULL;

    offload_fd = s->fds[0];
    /* An arg on its stack (the frame's address: under ASan's
     * use-after-return detection a local's is elsewhere) is refused. */
    CHECK_ERR(coro_offload(blocking_read, __builtin_frame_address(0), &result), CORO_EINVAL);
    CHECK_ERR(coro_offload(blocking_read, &offload_fd, &result), 0);
    CHECK_PTR(result, (void *)(long)'h');
    s->done = 1;
    return NULL;
}

TEST(copy_task_offload_completes_while_another_holds_the_stack)
{
    scene s;

    memset(&s, 0, sizeof s);
    new_pipe(&s);
    play(offload_subject, write_hello, &s);
    close_fds(&s);
}

static void *resolve_subject(void *arg)
{
    scene *s = arg;
    struct addrinfo hints, *res = NULL;
    char host[16] = "127.0.0.1", port[8] = "80";

    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    hints.ai_socktype = SOCK_STREAM;
    CHECK_ERR(coro_getaddrinfo(host, port, &hints, &res, CORO_NEVER), 0);
    CHECK(res != NULL && res->ai_family == AF_INET);
    freeaddrinfo(res);
    s->done = 1;
    return NULL;
}

TEST(copy_task_getaddrinfo_completes_while_another_holds_the_stack)
{
    scene s;

    memset(&s, 0, sizeof s);
    play(resolve_subject, NULL, &s);
}

/* ---- sockets ---- */

static void *read_subject(void *arg)
{
    scene *s = arg;
    char buf[64];
    char a[2], b[8];
    struct iovec iov[2] = {{a, sizeof a}, {b, sizeof b}};

    memset(buf, 0, sizeof buf);
    CHECK_INT(coro_read(s->fds[0], buf, sizeof buf), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_INT(coro_readv(s->fds[0], iov, 2), 5); /* the trigger wrote it twice */
    CHECK(memcmp(a, "he", 2) == 0 && memcmp(b, "llo", 3) == 0);
    CHECK_ERR(coro_fd_close(s->fds[0]), 0);
    s->done = 1;
    return NULL;
}

static void write_hello_twice(scene *s)
{
    write_hello(s);
    CHECK_ERR(coro_sleep(CORO_MSEC(2)), 0); /* the subject reads the first alone */
    write_hello(s);
}

TEST(copy_task_read_and_readv_complete_while_another_holds_the_stack)
{
    scene s;

    memset(&s, 0, sizeof s);
    new_socketpair(&s);
    play(read_subject, write_hello_twice, &s);
    close(s.fds[1]);
}

#define SOCKBUF 4096

static void new_full_socketpair(scene *s)
{
    int size = SOCKBUF;
    char pad[SOCKBUF];
    long n;

    new_socketpair(s);
    CHECK_INT(setsockopt(s->fds[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
    CHECK_INT(fcntl(s->fds[0], F_SETFL, O_NONBLOCK), 0);
    memset(pad, 'x', sizeof pad);
    while ((n = write(s->fds[0], pad, sizeof pad)) > 0)
        s->got += n;
}

static void drain_socket(scene *s)
{
    char pad[SOCKBUF];

    while (s->got > 0) {
        long n = read(s->fds[1], pad, sizeof pad);
        CHECK(n > 0);
        s->got -= n;
    }
}

static void *write_subject(void *arg)
{
    scene *s = arg;
    char buf[300], back[300], a[100], b[200];
    struct iovec iov[2] = {{a, sizeof a}, {b, sizeof b}};
    long n = 0;

    fill(buf, sizeof buf, 2);
    memcpy(a, buf, sizeof a);
    memcpy(b, buf + sizeof a, sizeof b);
    /* A full socket: the write waits for room. */
    CHECK_ERR(coro_write_all(s->fds[0], buf, sizeof buf), 0);
    while (n < (long)sizeof back)
        n += read(s->fds[1], back + n, sizeof back - (size_t)n);
    CHECK(memcmp(back, buf, sizeof buf) == 0);
    CHECK_INT(coro_writev(s->fds[0], iov, 2), 300);
    for (n = 0; n < (long)sizeof back;)
        n += read(s->fds[1], back + n, sizeof back - (size_t)n);
    CHECK(memcmp(back, buf, sizeof buf) == 0);
    CHECK_ERR(coro_fd_close(s->fds[0]), 0);
    s->done = 1;
    return NULL;
}

TEST(copy_task_write_and_writev_complete_while_another_holds_the_stack)
{
    scene s;

    memset(&s, 0, sizeof s);
    new_full_socketpair(&s);
    play(write_subject, drain_socket, &s);
    close(s.fds[1]);
}

static void *accept_subject(void *arg)
{
    scene *s = arg;
    int fd = coro_accept(s->lfd);

    CHECK(fd >= 0);
    CHECK_ERR(coro_fd_close(fd), 0);
    s->done = 1;
    return NULL;
}

static void connect_plain(scene *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    CHECK_INT(getsockname(s->lfd, (struct sockaddr *)&ss, &len), 0);
    s->fds[1] = socket(ss.ss_family, SOCK_STREAM, 0);
    CHECK(s->fds[1] >= 0);
    CHECK_INT(connect(s->fds[1], (struct sockaddr *)&ss, len), 0);
}

static void *connect_subject(void *arg)
{
    scene *s = arg;
    char host[16] = "127.0.0.1";
    int fd = coro_tcp_connect(host, coro_socket_port(s->lfd));

    CHECK(fd >= 0);
    CHECK_ERR(coro_fd_close(fd), 0);
    s->done = 1;
    return NULL;
}

TEST(copy_task_accept_and_connect_complete_while_another_holds_the_stack)
{
    scene s;

    memset(&s, 0, sizeof s);
    s.lfd = coro_tcp_listen("127.0.0.1", 0, 0);
    CHECK(s.lfd >= 0);
    play(accept_subject, connect_plain, &s);
    close(s.fds[1]);
    play(connect_subject, NULL, &s);
    close(s.lfd);
}

static void *udp_subject(void *arg)
{
    scene *s = arg;
    char buf[32], host[64];
    int port = 0;

    memset(buf, 0, sizeof buf);
    CHECK_INT(coro_udp_recv(s->fds[0], buf, sizeof buf, host, sizeof host, &port), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK(port > 0);
    CHECK_ERR(coro_fd_close(s->fds[0]), 0);
    s->done = 1;
    return NULL;
}

static void send_datagram(scene *s)
{
    int fd = coro_udp_bind("127.0.0.1", 0);

    CHECK(fd >= 0);
    CHECK_INT(coro_udp_send(fd, "hello", 5, "127.0.0.1", coro_socket_port(s->fds[0])), 5);
    CHECK_ERR(coro_fd_close(fd), 0);
}

TEST(copy_task_udp_recv_completes_while_another_holds_the_stack)
{
    scene s;

    memset(&s, 0, sizeof s);
    s.fds[0] = coro_udp_bind("127.0.0.1", 0);
    CHECK(s.fds[0] >= 0);
    play(udp_subject, send_datagram, &s);
}

static void *sendfile_subject(void *arg)
{
    scene *s = arg;
    char name[64], want[300], back[300];
    long long off = 0;
    long n = 0;
    int in;

    snprintf(name, sizeof name, "/tmp/coro-copytask-sf-%d", (int)getpid());
    in = open(name, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(in >= 0);
    fill(want, sizeof want, 3);
    CHECK_INT(write(in, want, sizeof want), 300);
    /* A full socket: sendfile waits for room; its offset is on the stack. */
    while (off < (long long)sizeof want)
        CHECK(coro_sendfile(s->fds[0], in, &off, sizeof want - (size_t)off) > 0);
    CHECK_INT(off, 300);
    while (n < (long)sizeof back)
        n += read(s->fds[1], back + n, sizeof back - (size_t)n);
    CHECK(memcmp(back, want, sizeof want) == 0);
    close(in);
    unlink(name);
    CHECK_ERR(coro_fd_close(s->fds[0]), 0);
    s->done = 1;
    return NULL;
}

TEST(copy_task_sendfile_completes_while_another_holds_the_stack)
{
    scene s;

    memset(&s, 0, sizeof s);
    new_full_socketpair(&s);
    play(sendfile_subject, drain_socket, &s);
    close(s.fds[1]);
}

/* ---- channels and select ---- */

static void *recv_subject(void *arg)
{
    scene *s = arg;
    long v = 0;

    CHECK_ERR(coro_chan_recv(s->ch, &v), 0);
    CHECK_INT(v, 42);
    s->done = 1;
    return NULL;
}

static void send_42(scene *s)
{
    long v = 42;

    CHECK_ERR(coro_chan_send(s->ch, &v), 0);
}

static void *send_subject(void *arg)
{
    scene *s = arg;
    long v = 7;

    CHECK_ERR(coro_chan_send(s->ch, &v), 0);
    s->done = 1;
    return NULL;
}

static void recv_into_got(scene *s)
{
    CHECK_ERR(coro_chan_recv(s->ch, &s->got), 0);
    CHECK_INT(s->got, 7);
}

static void *select_recv_subject(void *arg)
{
    scene *s = arg;
    long v = 0, other = 0;
    coro_chan *idle;
    coro_case cases[2];

    CHECK_ERR(coro_chan_open(&idle, sizeof(long), 0), 0);
    cases[0] = (coro_case)CORO_CASE_RECV(idle, &other);
    cases[1] = (coro_case)CORO_CASE_RECV(s->ch, &v);
    CHECK_INT(coro_select(cases, 2), 1);
    CHECK_ERR(cases[1].result, 0);
    CHECK_INT(v, 42);
    CHECK_ERR(coro_chan_free(idle), 0);
    s->done = 1;
    return NULL;
}

static void *select_send_subject(void *arg)
{
    scene *s = arg;
    long v = 7, other = 0;
    coro_chan *idle;
    coro_case cases[2];

    CHECK_ERR(coro_chan_open(&idle, sizeof(long), 0), 0);
    cases[0] = (coro_case)CORO_CASE_RECV(idle, &other);
    cases[1] = (coro_case)CORO_CASE_SEND(s->ch, &v);
    CHECK_INT(coro_select(cases, 2), 1);
    CHECK_ERR(cases[1].result, 0);
    CHECK_ERR(coro_chan_free(idle), 0);
    s->done = 1;
    return NULL;
}

static void *chan_stage(void *arg)
{
    scene *s = arg;
    struct {
        coro_fn subject;
        void (*trigger)(scene *);
    } cases[] = {{recv_subject, send_42},
                 {send_subject, recv_into_got},
                 {select_recv_subject, send_42},
                 {select_send_subject, recv_into_got}};

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        coro_task *subject, *scrib;

        s->trigger = cases[i].trigger;
        s->done = 0;
        s->got = 0;
        CHECK_ERR(coro_spawn(&subject, cases[i].subject, s, &copy_opts), 0);
        CHECK_ERR(coro_yield(NULL, NULL), 0);
        CHECK_ERR(coro_spawn(&scrib, scribbler, s, &copy_opts), 0);
        CHECK_ERR(coro_await(subject, NULL), 0);
        CHECK_ERR(coro_await(scrib, NULL), 0);
        CHECK_INT(s->done, 1);
    }
    return NULL;
}

static void *open_chan_then_stage(void *arg)
{
    scene *s = arg;

    CHECK_ERR(coro_chan_open(&s->ch, sizeof(long), 0), 0);
    chan_stage(s);
    CHECK_ERR(coro_chan_free(s->ch), 0);
    return NULL;
}

TEST(copy_task_channel_calls_complete_while_another_holds_the_stack)
{
    scene s;

    memset(&s, 0, sizeof s);
    CHECK_ERR(coro_run(open_chan_then_stage, &s, NULL, NULL), 0);
}

/* ---- locks, semaphores, wait groups, events, sleep ---- */

static void *sync_subject(void *arg)
{
    scene *s = arg;
    coro_time t0 = coro_now();

    CHECK_ERR(coro_mutex_lock(&s->mu), 0); /* held by the stage until the trigger */
    CHECK_ERR(coro_mutex_unlock(&s->mu), 0);
    CHECK_ERR(coro_sem_acquire(&s->sem), 0);
    CHECK_ERR(coro_wg_wait(&s->wg), 0);
    CHECK_ERR(coro_event_wait(&s->ev), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0);
    CHECK(coro_now() - t0 >= CORO_MSEC(1));
    s->done = 1;
    return NULL;
}

static void release_all(scene *s)
{
    CHECK_ERR(coro_mutex_unlock(&s->mu), CORO_EPERM); /* not the holder: the stage is */
    CHECK_ERR(coro_sem_release(&s->sem), 0);
    CHECK_ERR(coro_wg_done(&s->wg), 0);
    CHECK_ERR(coro_event_set(&s->ev), 0);
}

static void *sync_stage(void *arg)
{
    scene *s = arg;
    coro_task *subject, *scrib;

    CHECK_ERR(coro_mutex_lock(&s->mu), 0);
    CHECK_ERR(coro_wg_add(&s->wg, 1), 0);
    CHECK_ERR(coro_spawn(&subject, sync_subject, s, &copy_opts), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* parked on the mutex */
    CHECK_ERR(coro_spawn(&scrib, scribbler, s, &copy_opts), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* the scribbler's frames are there */
    CHECK_ERR(coro_mutex_unlock(&s->mu), 0);
    CHECK_ERR(coro_await(subject, NULL), 0);
    CHECK_ERR(coro_await(scrib, NULL), 0);
    return NULL;
}

TEST(copy_task_sync_calls_and_sleep_complete_while_another_holds_the_stack)
{
    scene s;

    memset(&s, 0, sizeof s);
    coro_mutex_init(&s.mu);
    CHECK_ERR(coro_sem_init(&s.sem, 0), 0);
    coro_wg_init(&s.wg);
    coro_event_init(&s.ev);
    s.trigger = release_all;
    CHECK_ERR(coro_run(sync_stage, &s, NULL, NULL), 0);
    CHECK_INT(s.done, 1);
}

/* ---- await and groups ---- */

static void *wait_event_return_5(void *arg)
{
    scene *s = arg;

    CHECK_ERR(coro_event_wait(&s->ev), 0);
    return P(5);
}

static void *await_subject(void *arg)
{
    scene *s = arg;
    coro_task *t;
    coro_group *g;
    void *result = NULL;

    CHECK_ERR(coro_spawn(&t, wait_event_return_5, s, NULL), 0);
    CHECK_ERR(coro_await(t, &result), 0);
    CHECK_PTR(result, P(5));
    CHECK_ERR(coro_group_open(&g), 0);
    {
        coro_task_options in_group = {NULL, 0, g, CORO_COPY_STACK, NULL};
        CHECK_ERR(coro_spawn(NULL, wait_event_return_5, s, &in_group), 0);
    }
    CHECK_ERR(coro_group_wait(g), 0);
    s->done = 1;
    return NULL;
}

static void set_event(scene *s)
{
    CHECK_ERR(coro_event_set(&s->ev), 0);
}

TEST(copy_task_await_and_group_wait_complete_while_another_holds_the_stack)
{
    scene s;

    memset(&s, 0, sizeof s);
    coro_event_init(&s.ev);
    play(await_subject, set_event, &s);
}
