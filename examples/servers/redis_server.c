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
 * lazily, when next looked at. A request larger than 1 MiB is refused and
 * the connection closed: memory per connection is bounded.
 */
#define _GNU_SOURCE /* memmem */
#include <coro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IN_MAX (1 << 20)
#define ARGS_MAX 64

/* ---- the store ---- */

typedef struct entry {
    struct entry *next;
    char *key, *val;
    size_t klen, vlen;
    coro_time expires; /* 0: never */
} entry;

static entry **table;
static size_t buckets = 1024, entries;

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
        if (e->expires != 0 && coro_now() >= e->expires) {
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
static int set(const char *key, size_t kn, const char *val, size_t vn, coro_time expires)
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

typedef struct out {
    char *buf;
    size_t len, cap;
} out;

static void put(out *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4096;
        char *b;
        while (cap < o->len + n)
            cap *= 2;
        if ((b = realloc(o->buf, cap)) == NULL)
            return; /* the reply is cut short: the client sees a protocol error */
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

typedef struct word {
    const char *p;
    size_t n;
} word;

static int is(const word *a, const char *name)
{
    return a->n == strlen(name) && strncasecmp(a->p, name, a->n) == 0;
}

static long long number(const word *a, int *ok)
{
    char tmp[32], *end;
    long long v;

    *ok = a->n > 0 && a->n < sizeof tmp;
    if (!*ok)
        return 0;
    memcpy(tmp, a->p, a->n);
    tmp[a->n] = '\0';
    v = strtoll(tmp, &end, 10);
    *ok = *end == '\0';
    return v;
}

static void command(out *o, word *a, int argc)
{
    entry **link, *e;
    int ok = 1;

    if (is(&a[0], "PING"))
        argc > 1 ? bulk(o, a[1].p, a[1].n) : puts_(o, "+PONG\r\n");
    else if (is(&a[0], "ECHO") && argc == 2)
        bulk(o, a[1].p, a[1].n);
    else if (is(&a[0], "GET") && argc == 2)
        (e = find(a[1].p, a[1].n, &link)) ? bulk(o, e->val, e->vlen) : puts_(o, "$-1\r\n");
    else if (is(&a[0], "SET") && (argc == 3 || argc == 5)) {
        coro_time exp = 0;
        if (argc == 5) {
            long long v = number(&a[4], &ok);
            exp = is(&a[3], "EX")   ? coro_after(CORO_SEC(v))
                  : is(&a[3], "PX") ? coro_after(CORO_MSEC(v))
                                    : 0;
            ok = ok && v > 0 && exp != 0;
        }
        if (!ok)
            puts_(o, "-ERR syntax error\r\n");
        else
            puts_(o, set(a[1].p, a[1].n, a[2].p, a[2].n, exp) == 0 ? "+OK\r\n"
                                                                   : "-ERR out of memory\r\n");
    } else if (is(&a[0], "DEL") && argc >= 2) {
        long long n = 0;
        for (int i = 1; i < argc; i++)
            if (find(a[i].p, a[i].n, &link) != NULL) {
                drop(link);
                n++;
            }
        integer(o, n);
    } else if (is(&a[0], "INCR") && argc == 2) {
        char s[32];
        long long v = 0;
        word cur;
        if ((e = find(a[1].p, a[1].n, &link)) != NULL) {
            cur.p = e->val;
            cur.n = e->vlen;
            v = number(&cur, &ok);
        }
        if (!ok)
            puts_(o, "-ERR value is not an integer or out of range\r\n");
        else {
            snprintf(s, sizeof s, "%lld", v + 1);
            set(a[1].p, a[1].n, s, strlen(s), e != NULL ? e->expires : 0) == 0
                ? integer(o, v + 1)
                : puts_(o, "-ERR out of memory\r\n");
        }
    } else if (is(&a[0], "EXPIRE") && argc == 3) {
        long long secs = number(&a[2], &ok);
        e = ok ? find(a[1].p, a[1].n, &link) : NULL;
        if (!ok)
            puts_(o, "-ERR value is not an integer or out of range\r\n");
        else if (e == NULL)
            integer(o, 0);
        else {
            secs > 0 ? (void)(e->expires = coro_after(CORO_SEC(secs))) : drop(link);
            integer(o, 1);
        }
    } else if (is(&a[0], "TTL") && argc == 2) {
        e = find(a[1].p, a[1].n, &link);
        integer(o, e == NULL         ? -2
                   : e->expires == 0 ? -1
                                     : (e->expires - coro_now() + CORO_SEC(1) - 1) / CORO_SEC(1));
    } else if (is(&a[0], "CONFIG") && argc == 3 && is(&a[1], "GET")) {
        puts_(o, "*2\r\n"); /* redis-benchmark asks for "save" and "appendonly" */
        bulk(o, a[2].p, a[2].n);
        bulk(o, "", 0);
    } else if (is(&a[0], "COMMAND"))
        puts_(o, "*0\r\n"); /* redis-cli's start-up question: no docs here */
    else
        puts_(o, "-ERR unknown command or wrong number of arguments\r\n");
}

/* ---- the protocol ---- */

/* Parses one command at in[0, n): its length, 0 if incomplete, -1 if
 * malformed. Arrays of bulk strings, and inline commands. */
static long parse(const char *in, size_t n, word *a, int *argc)
{
    const char *p = in, *end = in + n, *eol;
    long count, len;

    *argc = 0;
    if (n == 0)
        return 0;
    if (*p != '*') { /* inline: words on one line */
        if ((eol = memmem(p, n, "\r\n", 2)) == NULL)
            return n > 4096 ? -1 : 0;
        for (const char *q = p; q < eol && *argc < ARGS_MAX;) {
            while (q < eol && *q == ' ')
                q++;
            if (q == eol)
                break;
            a[*argc].p = q;
            while (q < eol && *q != ' ')
                q++;
            a[*argc].n = (size_t)(q - a[*argc].p);
            (*argc)++;
        }
        return *argc > 0 ? eol + 2 - in : -1;
    }
    if ((eol = memmem(p, n, "\r\n", 2)) == NULL)
        return 0;
    count = strtol(p + 1, NULL, 10);
    if (count < 1 || count > ARGS_MAX)
        return -1;
    p = eol + 2;
    for (long i = 0; i < count; i++) {
        if (p >= end)
            return 0;
        if (*p != '$' || (eol = memmem(p, (size_t)(end - p), "\r\n", 2)) == NULL)
            return *p != '$' ? -1 : 0;
        len = strtol(p + 1, NULL, 10);
        if (len < 0 || len > IN_MAX)
            return -1;
        p = eol + 2;
        if (end - p < len + 2)
            return 0;
        a[i].p = p;
        a[i].n = (size_t)len;
        p += len + 2;
    }
    *argc = (int)count;
    return p - in;
}

static void serve_redis(int fd, void *ctx)
{
    char *in = malloc(IN_MAX);
    size_t have = 0;
    out o = {NULL, 0, 0};
    word a[ARGS_MAX];
    int argc;

    (void)ctx;
    while (in != NULL) {
        long n = coro_read(fd, in + have, IN_MAX - have), used = 0, k;

        if (n <= 0)
            break;
        have += (size_t)n;
        while ((k = parse(in + used, have - (size_t)used, a, &argc)) > 0) {
            command(&o, a, argc);
            used += k;
        }
        if (k < 0 || (used == 0 && have == IN_MAX)) {
            puts_(&o, "-ERR protocol error\r\n");
            coro_write_all(fd, o.buf, o.len);
            break;
        }
        memmove(in, in + used, have - (size_t)used);
        have -= (size_t)used;
        if (o.len > 0 && coro_write_all(fd, o.buf, o.len) != 0)
            break;
        o.len = 0;
    }
    free(o.buf);
    free(in);
}

static void *server(void *arg)
{
    int port = *(int *)arg, lfd = coro_tcp_listen("127.0.0.1", port, 0);
    coro_serve_options opt = {10000};

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
    int port = argc > 1 ? atoi(argv[1]) : 6379, err;
    long busy_us = argc > 2 ? atol(argv[2]) : 0;
    coro_run_options opt = {.flags = CORO_RUN_READ_AHEAD}; /* requests come without a read() */

    if (busy_us < 0 || busy_us > 1000000) {
        fprintf(stderr, "redis_server: busy-poll time %s: not 0 to 1000000 us\n", argv[2]);
        return 2;
    }
    opt.busy_poll = CORO_USEC(busy_us);
    if ((table = calloc(buckets, sizeof *table)) == NULL)
        return 1;
    err = coro_run(server, &port, NULL, &opt);
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
