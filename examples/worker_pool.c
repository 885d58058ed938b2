/*
 * worker_pool.c - a pool of workers: N tasks take jobs from one channel
 * until it is closed, a wait group (coro_wg) tells when they are all done,
 * and the results are collected in an array indexed by job. A free worker
 * takes the next job, so long jobs do not hold up the short ones; on the
 * virtual clock the printed times are exact.
 */
#include <stdio.h>

#include <coro.h>

#define WORKERS 3
#define JOBS 8

struct job {
    int id;
    int n; /* compute fib(n), taking n * 10 ms */
};

struct pool {
    coro_chan *jobs;
    coro_wg wg;
    long results[JOBS];
    int done_by[JOBS];
};

struct worker {
    int id;
    struct pool *pool;
};

static long long ms(void)
{
    return coro_now() / CORO_MSEC(1);
}

static long fib(int n)
{
    long a = 0, b = 1, t;

    while (n-- > 0) {
        t = a + b;
        a = b;
        b = t;
    }
    return a;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct pool *p = w->pool;
    struct job j;

    while (coro_chan_recv(p->jobs, &j) == 0) {
        printf("[%3lld ms] worker %d takes job %d\n", ms(), w->id, j.id);
        if (coro_sleep(CORO_MSEC(10 * j.n)) != 0)
            break;
        p->results[j.id] = fib(j.n);
        p->done_by[j.id] = w->id;
    }
    coro_wg_done(&p->wg);
    return NULL;
}

static void *main_task(void *arg)
{
    static const int sizes[JOBS] = {9, 2, 3, 4, 12, 1, 5, 6};
    struct pool p = {NULL, CORO_WG_INIT, {0}, {0}};
    struct worker workers[WORKERS];
    int i, err;

    (void)arg;
    if ((err = coro_chan_open(&p.jobs, sizeof(struct job), 0)) != 0)
        coro_error("coro_chan_open: %s", coro_strerror(err));
    coro_wg_add(&p.wg, WORKERS);
    for (i = 0; i < WORKERS; i++) {
        workers[i].id = i + 1;
        workers[i].pool = &p;
        if (coro_spawn(NULL, work, &workers[i], NULL) != 0)
            coro_error("cannot spawn a worker");
    }

    for (i = 0; i < JOBS; i++) {
        struct job j = {i, sizes[i]};
        coro_chan_send(p.jobs, &j); /* waits for a free worker */
    }
    coro_chan_close(p.jobs);
    coro_wg_wait(&p.wg);
    printf("[%3lld ms] all workers done\n", ms());

    for (i = 0; i < JOBS; i++)
        printf("job %d: fib(%2d) = %3ld, by worker %d\n", i, sizes[i], p.results[i], p.done_by[i]);
    coro_chan_free(p.jobs);
    return NULL;
}

int main(void)
{
    coro_run_options opt = {.flags = CORO_RUN_VIRTUAL_CLOCK};
    int err = coro_run(main_task, NULL, NULL, &opt);

    if (err != 0) {
        fprintf(stderr, "coro_run: %s\n", coro_run_error(err));
        return 1;
    }
    return 0;
}
