/*
 * every_core.c - one program on every core: a run of two loops, one per
 * thread. First a parallel word count (map-reduce): the text is cut into
 * chunks, each counted by a task placed on a loop in turn, and the counts
 * are awaited and merged on loop 0, as sequential code. Then an HTTP
 * server accepting on both loops (CORO_SERVE_EVERY_LOOP: each loop its own
 * SO_REUSEPORT listener, the kernel spreading connections), tested by 100
 * clients of its own.
 *
 * What crosses between the loops is only what a task is given and what it
 * returns: a chunk goes out, a malloc'd count comes back. Each loop runs
 * its tasks on its own thread, from start to end.
 */
#include <coro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOPS 2
#define CHUNKS 8
#define WORDS 8
#define CLIENTS 100

static const char *const vocabulary[WORDS] = {"coroutine", "yield", "resume", "task",
                                              "loop",      "core",  "await",  "channel"};

/* The text: 80,000 words of the vocabulary, in an order a seed fixes. */
static char *make_text(size_t *len)
{
    unsigned long long x = 42;
    size_t cap = 80000 * 12, n = 0;
    char *s = malloc(cap);

    if (s == NULL)
        return NULL;
    for (int i = 0; i < 80000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        n += (size_t)sprintf(s + n, "%s ", vocabulary[(x >> 20) % WORDS]);
    }
    *len = n;
    return s;
}

typedef struct chunk {
    const char *p;
    size_t n;
} chunk;

/* The map: counts one chunk's words, on whichever loop it was placed. */
static void *count(void *arg)
{
    const chunk *c = arg;
    long *counts = calloc(WORDS, sizeof *counts);
    size_t i = 0;

    if (counts == NULL)
        coro_error("no memory for the counts");
    while (i < c->n) {
        size_t start = i;
        while (i < c->n && c->p[i] != ' ')
            i++;
        for (int w = 0; w < WORDS; w++)
            if (i - start == strlen(vocabulary[w]) &&
                memcmp(c->p + start, vocabulary[w], i - start) == 0)
                counts[w]++;
        i++;
    }
    return counts;
}

static int word_count(void)
{
    static chunk chunks[CHUNKS]; /* read by the other loop: not on this stack */
    coro_task *t[CHUNKS];
    long total[WORDS] = {0}, sum = 0;
    size_t len, at = 0;
    char *text = make_text(&len);

    if (text == NULL)
        return -1;
    for (int i = 0; i < CHUNKS; i++) { /* cut at a space */
        size_t end = i == CHUNKS - 1 ? len : len / CHUNKS * (size_t)(i + 1);
        while (end < len && text[end] != ' ')
            end++;
        chunks[i] = (chunk){text + at, end - at};
        at = end;
    }
    for (int i = 0; i < CHUNKS; i++) {
        coro_task_options o = {NULL, 0, NULL, 0, coro_loop_at(i % coro_loop_count())};
        coro_spawn(&t[i], count, &chunks[i], &o);
    }
    for (int i = 0; i < CHUNKS; i++) {
        long *c;
        if (coro_await(t[i], (void **)&c) != 0) {
            printf("chunk %d failed: %s\n", i, coro_errmsg(coro_running(NULL)));
            continue;
        }
        for (int w = 0; w < WORDS; w++)
            total[w] += c[w];
        free(c);
    }
    free(text);
    printf("word count over %d chunks on %d loops:\n", CHUNKS, coro_loop_count());
    for (int w = 0; w < WORDS; w++) {
        printf("  %-10s %ld\n", vocabulary[w], total[w]);
        sum += total[w];
    }
    printf("  %-10s %ld\n", "(all)", sum);
    return 0;
}

/* ---- a server on every loop ---- */

static int served[LOOPS]; /* per loop, by the handlers (atomic) */
static int port;

static void hello(int fd, void *ctx)
{
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n"
                                 "Connection: close\r\n\r\nhello\n";
    char buf[512];

    (void)ctx;
    if (coro_read_until(fd, buf, sizeof buf, coro_after(CORO_SEC(5))) > 0 &&
        coro_write_all_until(fd, answer, sizeof answer - 1, coro_after(CORO_SEC(5)), NULL) == 0)
        __atomic_add_fetch(&served[coro_loop_index(coro_loop_self())], 1, __ATOMIC_RELAXED);
}

static void *server(void *arg)
{
    coro_serve_options o = {0, CORO_SERVE_EVERY_LOOP};

    return (void *)(long)coro_serve((int)(long)arg, hello, NULL, &o);
}

static void *client(void *arg)
{
    int fd = coro_tcp_connect("127.0.0.1", port);
    char buf[256];
    long n = 0, got;

    (void)arg;
    if (fd < 0)
        return (void *)0L;
    if (coro_write_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27) == 0)
        while ((got = coro_read_until(fd, buf + n, sizeof buf - 1 - (size_t)n,
                                      coro_after(CORO_SEC(5)))) > 0)
            n += got;
    coro_fd_close(fd);
    buf[n] = '\0';
    return (void *)(long)(strstr(buf, "\r\n\r\nhello\n") != NULL);
}

static int http_self_test(void)
{
    int lfd = coro_tcp_listen("127.0.0.1", 0, 0), ok = 0;
    coro_task *srv, *c[CLIENTS];

    if (lfd < 0)
        return -1;
    port = coro_socket_port(lfd);
    coro_spawn(&srv, server, (void *)(long)lfd, NULL);
    coro_sleep(CORO_MSEC(20)); /* every loop listens */
    for (int i = 0; i < CLIENTS; i++)
        coro_spawn(&c[i], client, NULL, NULL);
    for (int i = 0; i < CLIENTS; i++) {
        void *r = NULL;
        coro_await(c[i], &r);
        ok += r != NULL;
    }
    coro_cancel(srv);
    coro_await(srv, NULL);
    coro_fd_close(lfd);
    printf("HTTP on every loop: %d of %d clients answered; every loop served some: %s\n", ok,
           CLIENTS, served[0] > 0 && served[1] > 0 ? "yes" : "no");
    return 0;
}

static void *main_task(void *arg)
{
    (void)arg;
    if (word_count() != 0 || http_self_test() != 0)
        coro_error("no memory or no socket");
    return NULL;
}

int main(void)
{
    coro_run_options opt = {0, 0, 0, 0, LOOPS, 0};
    int rc = coro_run(main_task, NULL, NULL, &opt);

    if (rc != 0) {
        fprintf(stderr, "every_core: %s\n", coro_run_error(rc));
        return 1;
    }
    return 0;
}
