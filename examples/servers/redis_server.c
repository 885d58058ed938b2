/*
 * redis_server.c - a Redis-protocol server: PING, ECHO, SET (EX / PX),
 * GET, DEL, INCR, EXPIRE, TTL, with pipelining, that redis-cli and
 * redis-benchmark talk to.
 *
 *   build/gcc/examples/servers/redis_server [port] [busy-poll us]   (default 6379, 0)
 *   redis-benchmark -p 6379 -t ping,set,get -P 16 -q
 *
 * With a busy-poll time (20 is a good start), the loop looks for the next
 * request that long before its thread sleeps (coro_run_options.busy_poll):
 * a client that waits for each answer then need not wake the server, which
 * buys requests/s for CPU time.
 *
 * Each connection is a task: it reads what the client sent, answers every
 * complete command in it, and writes the answers back in one write (so a
 * pipeline of 16 commands costs one read and one write). The store is a
 * chained hash table touched by one thread only: no locks. Keys expire
 * lazily, when next looked at; expiry times are milliseconds on the loop's
 * clock. resp_parse.h parses the protocol, and integers (lengths, counts,
 * arguments, values for INCR) with Redis's grammar and range checks, so that
 * an out-of-range argument gets Redis's answer, never a wrapped number.
 *
 * What a connection may hold, and for how long:
 *   input   one 1 MiB buffer (touched as used). A command of more than
 *           1 MiB (RESP_MAX), an inline line of more than 64 KiB or more
 *           than 64 arguments is a protocol error.
 *   output  answers collect until 64 KiB are pending (OUT_MAX); then they
 *           are written before the next command is run or read, so that
 *           a client that pipelines commands without reading the answers
 *           makes the server wait, not grow: at most 64 KiB plus one
 *           answer (a value: at most 1 MiB) is pending. Redis bounds it
 *           with its client output buffer limits too, but disconnects a
 *           client past them; here the client gets every answer as it
 *           reads.
 *   time    a command must arrive whole within 10 s of its first byte;
 *           a connection may wait 300 s for the next command; of answers
 *           that the socket cannot take at once, the client must take each
 *           64 KiB within 10 s. A client that trickles, goes quiet or
 *           stops reading is disconnected.
 * The environment variable SERVER_TIMEOUTS_MS="request idle write" sets the
 * three times in milliseconds (tests/check_servers.sh makes them short).
 * A protocol error is answered ("-ERR Protocol error: ..."), then the
 * connection is shut for writing and what the client still sends is dropped
 * for up to a second before it is closed: closing with unread input would
 * reset the connection and could destroy the answer before the client reads
 * it.
 */
#include <coro.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loops.h"
#include "resp_parse.h"

#define IN_MAX RESP_MAX
#define OUT_MAX (64 << 10)
#define WRITE_CHUNK (64 << 10)

static coro_time request_time = CORO_SEC(10), idle_time = CORO_SEC(300), write_time = CORO_SEC(10);

/* ---- the store ---- */

typedef struct entry {
    struct entry *next;
    char *key, *val;
    size_t klen, vlen;
    long long expires; /* in ms on the loop's clock (now_ms); 0: never */
} entry;

static entry **table;
static size_t buckets = 1024, entries;

/* The loop's clock in milliseconds, the unit of expiry times as in Redis
 * (so that any expiry Redis accepts fits: nanoseconds would overflow). */
static long long now_ms(void)
{
    return coro_now() / 1000000;
}

static size_t hash(const char *s, size_t n)
{
    size_t h = 14695981039346656037ULL;

    while (n-- > 0)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

static void drop(entry **pp)
{
    entry *e = *pp;

    *pp = e->next;
    free(e->key);
    free(e->val);
    free(e);
    entries--;
}

/* The live entry for key, its link in *link; NULL if none. */
static entry *find(const char *key, size_t n, entry ***link)
{
    entry **pp = &table[hash(key, n) % buckets];

    for (; *pp != NULL; pp = &(*pp)->next) {
        entry *e = *pp;
        if (e->klen != n || memcmp(e->key, key, n) != 0)
            continue;
        if (e->expires != 0 && now_ms() >= e->expires) {
            drop(pp);
            return NULL;
        }
        *link = pp;
        return e;
    }
    *link = pp;
    return NULL;
}

static void grow(void)
{
    size_t nb = buckets * 2;
    entry **t = calloc(nb, sizeof *t);

    if (t == NULL)
        return;
    for (size_t i = 0; i < buckets; i++)
        while (table[i] != NULL) {
            entry *e = table[i];
            table[i] = e->next;
            e->next = t[hash(e->key, e->klen) % nb];
            t[hash(e->key, e->klen) % nb] = e;
        }
    free(table);
    table = t;
    buckets = nb;
}

static char *copy(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Sets key to val; 0, or -1 without memory. */
static int set(const char *key, size_t kn, const char *val, size_t vn, long long expires)
{
    entry **link, *e = find(key, kn, &link);
    char *v = copy(val, vn);

    if (v == NULL)
        return -1;
    if (e == NULL) {
        if (entries >= buckets) { /* keep chains short: the link moves */
            grow();
            (void)find(key, kn, &link);
        }
        if ((e = calloc(1, sizeof *e)) == NULL || (e->key = copy(key, kn)) == NULL) {
            free(e);
            free(v);
            return -1;
        }
        e->klen = kn;
        e->next = *link;
        *link = e;
        entries++;
    }
    free(e->val);
    e->val = v;
    e->vlen = vn;
    e->expires = expires;
    return 0;
}

/* ---- replies ---- */

/* A connection's pending answers. */
typedef struct out {
    char *buf;
    size_t len, cap;
    int failed; /* an answer found no memory: the connection ends unanswered */
} out;

static void put(out *o, const void *p, size_t n)
{
    if (o->failed)
        return;
    if (n > o->cap - o->len) {
        size_t cap = o->cap ? o->cap : 4096;
        char *b;
        while (cap - o->len < n)
            cap *= 2;
        if ((b = realloc(o->buf, cap)) == NULL) {
            o->failed = 1;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void puts_(out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void bulk(out *o, const char *s, size_t n)
{
    char head[32];

    put(o, head, (size_t)snprintf(head, sizeof head, "$%zu\r\n", n));
    put(o, s, n);
    put(o, "\r\n", 2);
}

static void integer(out *o, long long v)
{
    char s[32];

    put(o, s, (size_t)snprintf(s, sizeof s, ":%lld\r\n", v));
}

/* ---- commands ---- */

#define NOT_INTEGER "-ERR value is not an integer or out of range\r\n"
#define NO_MEMORY "-ERR out of memory\r\n"

static int is(const resp_word *a, const char *name)
{
    return a->n == strlen(name) && strncasecmp(a->p, name, a->n) == 0;
}

/* SET key value [EX seconds | PX milliseconds], checked as Redis checks it:
 * the option's name, then an integer, then a time that is positive and
 * whose deadline does not overflow. */
static void cmd_set(out *o, const resp_word *a, int argc)
{
    long long v, ms, now, expires = 0;
    int ex = argc == 5 && is(&a[3], "EX");

    if (argc != 3 && !(argc == 5 && (ex || is(&a[3], "PX")))) {
        puts_(o, "-ERR syntax error\r\n");
        return;
    }
    if (argc == 5) {
        if (!resp_int(a[4].p, a[4].n, &v)) {
            puts_(o, NOT_INTEGER);
            return;
        }
        now = now_ms();
        if (v <= 0 || (ex && v > LLONG_MAX / 1000) || (ms = ex ? v * 1000 : v) > LLONG_MAX - now) {
            puts_(o, "-ERR invalid expire time in 'set' command\r\n");
            return;
        }
        expires = now + ms;
    }
    puts_(o, set(a[1].p, a[1].n, a[2].p, a[2].n, expires) == 0 ? "+OK\r\n" : NO_MEMORY);
}

/* INCR key: a missing key counts as 0; the value must be an integer as
 * Redis reads one, and may not pass LLONG_MAX. The key keeps its expiry. */
static void cmd_incr(out *o, const resp_word *key)
{
    entry **link, *e = find(key->p, key->n, &link);
    long long v = 0;
    char s[32];

    if (e != NULL && !resp_int(e->val, e->vlen, &v)) {
        puts_(o, NOT_INTEGER);
        return;
    }
    if (v == LLONG_MAX) {
        puts_(o, "-ERR increment or decrement would overflow\r\n");
        return;
    }
    snprintf(s, sizeof s, "%lld", ++v);
    if (set(key->p, key->n, s, strlen(s), e != NULL ? e->expires : 0) != 0)
        puts_(o, NO_MEMORY);
    else
        integer(o, v);
}

/* EXPIRE key seconds: as in Redis, a time whose deadline would overflow is
 * an error (checked before the key is looked up), and one not in the
 * future deletes the key. */
static void cmd_expire(out *o, const resp_word *key, const resp_word *secs)
{
    long long s, now = now_ms();
    entry **link, *e;

    if (!resp_int(secs->p, secs->n, &s)) {
        puts_(o, NOT_INTEGER);
        return;
    }
    if (s > LLONG_MAX / 1000 || s < LLONG_MIN / 1000 || s * 1000 > LLONG_MAX - now) {
        puts_(o, "-ERR invalid expire time in 'expire' command\r\n");
        return;
    }
    if ((e = find(key->p, key->n, &link)) == NULL) {
        integer(o, 0);
        return;
    }
    if (s * 1000 <= 0)
        drop(link);
    else
        e->expires = now + s * 1000;
    integer(o, 1);
}

/* TTL key: seconds left, rounded as Redis rounds them; -2 for no key, -1
 * for a key that does not expire. */
static void cmd_ttl(out *o, const resp_word *key)
{
    entry **link, *e = find(key->p, key->n, &link);
    long long left;

    if (e == NULL || e->expires == 0) {
        integer(o, e == NULL ? -2 : -1);
        return;
    }
    left = e->expires - now_ms();
    integer(o, left > 0 ? (left + 500) / 1000 : 0);
}

static void command_locked(out *o, const resp_word *a, int argc);

/* The store is shared by the loops (SERVER_LOOPS): a command holds the
 * lock for its whole run, which never suspends (a task that suspended
 * holding it would block its whole loop's thread on the next command). */
static pthread_mutex_t store_mu = PTHREAD_MUTEX_INITIALIZER;
static int shared;

static void command(out *o, const resp_word *a, int argc)
{
    if (shared)
        pthread_mutex_lock(&store_mu);
    command_locked(o, a, argc);
    if (shared)
        pthread_mutex_unlock(&store_mu);
}

static void command_locked(out *o, const resp_word *a, int argc)
{
    entry **link, *e;

    if (is(&a[0], "PING"))
        argc > 1 ? bulk(o, a[1].p, a[1].n) : puts_(o, "+PONG\r\n");
    else if (is(&a[0], "ECHO") && argc == 2)
        bulk(o, a[1].p, a[1].n);
    else if (is(&a[0], "GET") && argc == 2)
        (e = find(a[1].p, a[1].n, &link)) ? bulk(o, e->val, e->vlen) : puts_(o, "$-1\r\n");
    else if (is(&a[0], "SET") && argc >= 3)
        cmd_set(o, a, argc);
    else if (is(&a[0], "DEL") && argc >= 2) {
        long long n = 0;
        for (int i = 1; i < argc; i++)
            if (find(a[i].p, a[i].n, &link) != NULL) {
                drop(link);
                n++;
            }
        integer(o, n);
    } else if (is(&a[0], "INCR") && argc == 2)
        cmd_incr(o, &a[1]);
    else if (is(&a[0], "EXPIRE") && argc == 3)
        cmd_expire(o, &a[1], &a[2]);
    else if (is(&a[0], "TTL") && argc == 2)
        cmd_ttl(o, &a[1]);
    else if (is(&a[0], "CONFIG") && argc == 3 && is(&a[1], "GET")) {
        puts_(o, "*2\r\n"); /* redis-benchmark asks for "save" and "appendonly" */
        bulk(o, a[2].p, a[2].n);
        bulk(o, "", 0);
    } else if (is(&a[0], "COMMAND"))
        puts_(o, "*0\r\n"); /* redis-cli's start-up question: no docs here */
    else
        puts_(o, "-ERR unknown command or wrong number of arguments\r\n");
}

/* ---- the connection ---- */

/* Writes p[0, n). What the socket takes at once goes without a clock read
 * (the deadline 0 has passed); then the client must take each WRITE_CHUNK
 * bytes of the rest within write_time. 0 or an error. */
static int send_all(int fd, const char *p, size_t n)
{
    size_t done;
    int err = coro_write_all_until(fd, p, n, 0, &done);

    while (err == CORO_ETIMEDOUT) {
        size_t k = n - done < WRITE_CHUNK ? n - done : WRITE_CHUNK;

        p += done;
        n -= done;
        if ((err = coro_write_all_until(fd, p, k, coro_after(write_time), NULL)) != 0)
            break;
        err = coro_write_all_until(fd, p += k, n -= k, 0, &done);
    }
    return err;
}

/* Writes the pending answers. 0, or an error (the client is not reading,
 * or an answer found no memory). */
static int flush(int fd, out *o)
{
    int err = o->failed ? CORO_ENOMEM : send_all(fd, o->buf, o->len);

    o->len = 0;
    return err;
}

/* Answers a protocol error and ends the connection gracefully (see the top
 * of the file): end-of-file first, then the client's input dropped for up
 * to a second, in buf[0, n). */
static void refuse(int fd, out *o, long code, const resp_cmd *c, char *buf, size_t n)
{
    char msg[96];
    coro_time until;

    if (code == RESP_EDOLLAR) /* the byte as Redis shows it, a control byte as a space */
        snprintf(msg, sizeof msg, "-ERR Protocol error: expected '$', got '%c'\r\n",
                 (unsigned char)c->got < ' ' ? ' ' : c->got);
    else
        snprintf(msg, sizeof msg, "-ERR Protocol error: %s\r\n", resp_strerror(code));
    puts_(o, msg);
    if (flush(fd, o) != 0 || coro_shutdown(fd, CORO_SHUT_WR) != 0)
        return;
    until = coro_after(CORO_SEC(1));
    while (coro_read_until(fd, buf, n, until) > 0)
        continue;
}

/* Runs the whole commands at the start of in[0, *have) and keeps the rest
 * (the start of the next command) at in's start; *ran says whether a
 * command ended. Answers are written whenever OUT_MAX of them are pending:
 * the commands after wait meanwhile. 0; a RESP_E* code (details in *c) for
 * a protocol error; 1 when an answer could not be written. */
static int run(int fd, char *in, size_t *have, out *o, resp_cmd *c, int *ran)
{
    size_t used = 0;
    long k;

    while ((k = resp_parse(in + used, *have - used, c)) > 0) {
        used += (size_t)k;
        *ran = 1;
        if (c->argc > 0)
            command(o, c->argv, c->argc);
        if (o->len >= OUT_MAX && flush(fd, o) != 0)
            return 1;
    }
    memmove(in, in + used, *have - used);
    *have -= used;
    return (int)k;
}

static void serve_redis(int fd, void *ctx)
{
    char *in = malloc(IN_MAX);
    size_t have = 0;
    coro_time deadline = 0; /* the command begun in in[0, have) must be whole by then */
    out o = {NULL, 0, 0, 0};
    resp_cmd c;

    (void)ctx;
    /* in never fills: resp_parse refuses a command that would not fit. */
    while (in != NULL && have < IN_MAX) {
        int ran = 0, rc;
        long n;

        if (have == 0 && o.cap > OUT_MAX) { /* waiting: give back a big answer's buffer */
            free(o.buf);
            o.buf = NULL;
            o.cap = 0;
        }
        n = coro_read_until(fd, in + have, IN_MAX - have,
                            have == 0 ? coro_after(idle_time) : deadline);
        if (n <= 0)
            break; /* closed, reset, idle too long, or the command too slow */
        have += (size_t)n;
        if ((rc = run(fd, in, &have, &o, &c, &ran)) != 0) {
            if (rc < 0)
                refuse(fd, &o, rc, &c, in, IN_MAX);
            break;
        }
        if (o.len > 0 && flush(fd, &o) != 0)
            break;
        if (ran)
            deadline = 0; /* what is left began after the last whole command */
        if (have > 0 && deadline == 0)
            deadline = coro_after(request_time);
    }
    free(o.buf);
    free(in);
}

/* ---- start-up ---- */

/* A whole decimal number in [lo, hi] from s: 0 and *v, or -1. */
static int number_arg(const char *s, long long lo, long long hi, long long *v)
{
    return resp_int(s, strlen(s), v) && *v >= lo && *v <= hi ? 0 : -1;
}

/* SERVER_TIMEOUTS_MS="request idle write", each 1 to 10^9 ms. 0 or -1. */
static int timeouts(const char *s)
{
    coro_time *t[3] = {&request_time, &idle_time, &write_time};
    long long ms;
    char *end;

    for (int i = 0; i < 3; i++) {
        errno = 0;
        ms = strtoll(s, &end, 10);
        if (end == s || errno != 0 || ms < 1 || ms > 1000000000)
            return -1;
        *t[i] = CORO_MSEC(ms);
        s = end;
    }
    return *s == '\0' ? 0 : -1;
}

static void *server(void *arg)
{
    int port = *(int *)arg, lfd = coro_tcp_listen("127.0.0.1", port, 0);
    coro_serve_options opt = {10000, CORO_SERVE_EVERY_LOOP}; /* per loop */

    if (lfd < 0) {
        fprintf(stderr, "redis_server: port %d: %s\n", port, coro_strerror(lfd));
        return NULL;
    }
    printf("redis_server: listening on 127.0.0.1:%d\n", coro_socket_port(lfd));
    fflush(stdout);
    coro_serve(lfd, serve_redis, NULL, &opt);
    coro_fd_close(lfd);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *env = getenv("SERVER_TIMEOUTS_MS");
    long long port = 6379, busy_us = 0;
    coro_run_options opt = {.flags = CORO_RUN_READ_AHEAD}; /* requests come without a read() */
    int p, err;

    if (argc > 1 && number_arg(argv[1], 0, 65535, &port) != 0) {
        fprintf(stderr, "redis_server: port %s: not 0 to 65535\n", argv[1]);
        return 2;
    }
    if (argc > 2 && number_arg(argv[2], 0, 1000000, &busy_us) != 0) {
        fprintf(stderr, "redis_server: busy-poll time %s: not 0 to 1000000 us\n", argv[2]);
        return 2;
    }
    if (env != NULL && timeouts(env) != 0) {
        fprintf(stderr, "redis_server: SERVER_TIMEOUTS_MS=\"%s\": not three times in ms\n", env);
        return 2;
    }
    if (server_loops("redis_server", &opt) != 0)
        return 2;
    shared = opt.loops != 0 && opt.loops != 1;
    opt.busy_poll = CORO_USEC(busy_us);
    if ((table = calloc(buckets, sizeof *table)) == NULL)
        return 1;
    p = (int)port;
    err = coro_run(server, &p, NULL, &opt);
    for (size_t i = 0; i < buckets; i++)
        while (table[i] != NULL)
            drop(&table[i]);
    free(table);
    if (err != 0) {
        fprintf(stderr, "redis_server: %s\n", coro_strerror(err));
        return 1;
    }
    return 0;
}
