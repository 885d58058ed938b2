/*
 * echo_load.c - the echo load generator of the network benchmark: one thread,
 * epoll, CONNS connections each keeping exactly one SIZE-byte message in
 * flight (write it, wait for all of it back, check the bytes, write the next).
 *
 *   echo_load HOST PORT CONNS SECONDS [SIZE]      (SIZE default 64)
 *
 * Connects everything first, then runs SECONDS and prints one line:
 *   round_trips <N> seconds <S> rps <R> errors <E>
 * E counts failed connections, resets and wrong bytes; the exit status is
 * nonzero if E > 0 or N == 0. Message k of connection i is a window into a
 * fixed byte pattern starting at (i * 7 + k) mod 256, so a server that
 * mixes up, drops or repeats bytes is caught without filling each message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define CONNECT_TIMEOUT_S 10.0

struct conn {
    int fd;          /* -1 once failed */
    unsigned seq;    /* the message in flight */
    size_t sent;     /* bytes of it written */
    size_t got;      /* bytes of it read back, into buf */
    int waiting_out; /* EPOLLOUT in the interest: sent < size */
    char *buf;
};

static struct conn *conns;
static int nconns, ep;
static size_t size;
static unsigned char *pattern; /* size + 256 bytes: pattern[j] = j mod 256 */
static long errors, round_trips;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const unsigned char *message(int i)
{
    return pattern + ((unsigned)i * 7 + conns[i].seq) % 256;
}

static void watch(int op, int i, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.u32 = (unsigned)i};

    if (epoll_ctl(ep, op, conns[i].fd, &ev) != 0) {
        perror("echo_load: epoll_ctl");
        exit(1);
    }
}

static void fail(int i)
{
    errors++;
    close(conns[i].fd);
    conns[i].fd = -1;
}

/* Writes what is left of the message in flight; EPOLLOUT while some is. */
static void send_rest(int i)
{
    struct conn *c = &conns[i];

    while (c->sent < size) {
        ssize_t n = write(c->fd, message(i) + c->sent, size - c->sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN) {
            fail(i);
            return;
        }
        if (n < 0)
            break;
        c->sent += (size_t)n;
    }
    if ((c->sent < size) != c->waiting_out) {
        c->waiting_out = c->sent < size;
        watch(EPOLL_CTL_MOD, i, c->waiting_out ? EPOLLIN | EPOLLOUT : EPOLLIN);
    }
}

/* Reads the reply; when it is complete, checks it and sends the next. */
static void receive(int i)
{
    struct conn *c = &conns[i];
    ssize_t n = read(c->fd, c->buf + c->got, size - c->got);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        fail(i); /* reset, or closed by the server */
        return;
    }
    c->got += (size_t)n;
    if (c->got < size)
        return;
    if (c->sent < size || memcmp(c->buf, message(i), size) != 0) {
        fail(i); /* more than was sent, or other bytes */
        return;
    }
    round_trips++;
    c->seq++;
    c->sent = c->got = 0;
    send_rest(i);
}

static int open_all(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    int i, one = 1, err = getaddrinfo(host, port, &hints, &ai);

    if (err != 0) {
        fprintf(stderr, "echo_load: %s:%s: %s\n", host, port, gai_strerror(err));
        return -1;
    }
    for (i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];

        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || (c->buf = malloc(size)) == NULL) {
            perror("echo_load: socket");
            return -1;
        }
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
            fail(i);
        else
            watch(EPOLL_CTL_ADD, i, EPOLLOUT);
    }
    freeaddrinfo(ai);
    return 0;
}

/* Waits until every connection is established or has failed. */
static int wait_connected(void)
{
    struct epoll_event evs[MAX_EVENTS];
    double deadline = now() + CONNECT_TIMEOUT_S;
    int left = nconns - (int)errors;

    while (left > 0) {
        int k, n = epoll_wait(ep, evs, MAX_EVENTS, 100);

        if (n < 0 && errno != EINTR)
            return -1;
        for (k = 0; k < n; k++) {
            int i = (int)evs[k].data.u32, soerr = 0;
            socklen_t len = sizeof soerr;

            left--;
            if (getsockopt(conns[i].fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0)
                fail(i);
            else
                watch(EPOLL_CTL_MOD, i, EPOLLIN);
        }
        if (now() > deadline) {
            fprintf(stderr, "echo_load: %d connections still pending\n", left);
            return -1;
        }
    }
    return 0;
}

static double run(double seconds)
{
    struct epoll_event evs[MAX_EVENTS];
    double start = now(), end = start + seconds, t = start;
    int i;

    for (i = 0; i < nconns; i++)
        if (conns[i].fd >= 0)
            send_rest(i);
    while (t < end && errors < nconns) { /* each failure takes one connection */
        int k, n = epoll_wait(ep, evs, MAX_EVENTS, (int)((end - t) * 1000) + 1);

        if (n < 0 && errno != EINTR) {
            perror("echo_load: epoll_wait");
            exit(1);
        }
        for (k = 0; k < n; k++) {
            i = (int)evs[k].data.u32;
            if (conns[i].fd >= 0 && (evs[k].events & EPOLLOUT))
                send_rest(i);
            if (conns[i].fd >= 0 && (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                receive(i);
        }
        t = now();
    }
    return t - start;
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    double seconds, took;
    size_t j;
    int i;

    if (argc < 5 || argc > 6 || (nconns = atoi(argv[3])) <= 0 || (seconds = atof(argv[4])) <= 0 ||
        (size = argc > 5 ? (size_t)atol(argv[5]) : 64) == 0) {
        fprintf(stderr, "usage: echo_load HOST PORT CONNS SECONDS [SIZE=64]\n");
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    conns = calloc((size_t)nconns, sizeof *conns);
    pattern = malloc(size + 256);
    if (conns == NULL || pattern == NULL || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        perror("echo_load");
        return 1;
    }
    for (j = 0; j < size + 256; j++)
        pattern[j] = (unsigned char)j;
    if (open_all(argv[1], argv[2]) != 0 || wait_connected() != 0)
        return 1;
    took = run(seconds);
    printf("round_trips %ld seconds %.3f rps %.0f errors %ld\n", round_trips, took,
           took > 0 ? (double)round_trips / took : 0.0, errors);
    for (i = 0; i < nconns; i++) {
        if (conns[i].fd >= 0)
            close(conns[i].fd);
        free(conns[i].buf);
    }
    free(conns);
    free(pattern);
    close(ep);
    return errors > 0 || round_trips == 0;
}
