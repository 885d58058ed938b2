/*
 * sieve_cores.c - a pipeline across cores: the concurrent prime sieve (as
 * in Go's tour and Hoare's CSP paper), its stages spread over two loops,
 * one per thread.
 *
 * A generator sends 2, 3, 4, ... down a bounded channel. Each prime found
 * gets a filter stage that passes on the numbers it does not divide; the
 * stages are chained by bounded channels, and each new one is placed on
 * the other loop than the one before, so that every number crosses from
 * core to core at each stage. The code is the single-loop program's: a
 * channel shared by tasks of two loops is used the same way (order, close,
 * backpressure), only each task's placement differs.
 *
 * The end: once main has its primes it cancels the stages' group, and each
 * stage ends at its next send or receive (Go's version leaves its
 * goroutines blocked for good; here the group owns them and waits).
 */
#include <coro.h>
#include <stdio.h>

#define PRIMES 60
#define DEPTH 4 /* each channel's buffer: backpressure between stages */

typedef struct stage {
    coro_chan *in, *out;
    long prime; /* the filter's; 0 for the generator */
} stage;

static stage stages[PRIMES + 1];
static int placed[2]; /* stages per loop */

static void *generate(void *arg)
{
    stage *s = arg;

    for (long n = 2;; n++)
        if (coro_chan_send(s->out, &n) != 0)
            return NULL; /* canceled: the pipeline is done */
}

static void *filter(void *arg)
{
    stage *s = arg;
    long n;

    while (coro_chan_recv(s->in, &n) == 0)
        if (n % s->prime != 0 && coro_chan_send(s->out, &n) != 0)
            break;
    return NULL;
}

/* Starts fn(s) in group g on loop `at`. */
static int start(coro_group *g, int at, coro_fn fn, stage *s)
{
    coro_task_options o = {NULL, 0, NULL, 0, NULL};

    o.group = g;
    o.loop = coro_loop_at(at);
    placed[at]++;
    return coro_spawn(NULL, fn, s, &o);
}

static void *sieve(void *arg)
{
    coro_group *g;
    coro_chan *ch;
    long p;
    int rc;

    (void)arg;
    if (coro_group_open(&g) != 0 || coro_chan_open(&ch, sizeof(long), DEPTH) != 0)
        return "setup failed";
    stages[0].out = ch;
    if (start(g, 1, generate, &stages[0]) != 0)
        return "spawn failed";
    printf("the first %d primes, each a filter stage; stages alternate between 2 loops:\n", PRIMES);
    for (int i = 1; i <= PRIMES; i++) {
        if ((rc = coro_chan_recv(ch, &p)) != 0)
            return (void *)coro_strerror(rc);
        printf("%4ld%s", p, i % 15 == 0 ? "\n" : "");
        stages[i].in = ch;
        stages[i].prime = p;
        if (coro_chan_open(&stages[i].out, sizeof(long), DEPTH) != 0 ||
            start(g, i % 2, filter, &stages[i]) != 0)
            return "stage failed";
        ch = stages[i].out;
    }
    coro_group_cancel(g);                     /* every stage ends at its next send or receive */
    if (coro_group_wait(g) != CORO_ECANCELED) /* canceled, and none failed */
        return "a stage failed";
    for (int i = 0; i <= PRIMES; i++)
        coro_chan_free(stages[i].out);
    printf("stages on loop 0: %d, on loop 1: %d\n", placed[0], placed[1]);
    return NULL;
}

int main(void)
{
    coro_run_options two = {0, 0, 0, 0, 2, 0};
    void *err = NULL;
    int rc = coro_run(sieve, NULL, &err, &two);

    if (rc != 0 || err != NULL) {
        fprintf(stderr, "sieve_cores: %s\n", rc != 0 ? coro_run_error(rc) : (const char *)err);
        return 1;
    }
    return 0;
}
