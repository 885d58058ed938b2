/*
 * offload.c - running blocking functions on a thread pool while only the
 * calling task waits; getaddrinfo with a deadline on top of it.
 *
 * Design. Each loop has, once first used, a pool of threads taking jobs
 * from a queue (a mutex and a condition variable: the only locks in the
 * runtime, and only the pool's threads and the loop's thread take them).
 * It starts with one thread and grows by one whenever a job is queued and
 * no thread is free to take it, up to CORO_OFFLOAD_THREADS from the
 * environment (1 to 1024; OFFLOAD_MAX by default): a job that blocks for
 * long, or one its caller gave up on at a deadline, holds its own thread
 * and no other job waits behind it. (A fixed pool of four, as libuv's,
 * let four abandoned jobs stall every file read for as long as they ran.)
 * Threads stay until the loop ends. A finished job is marked done and an eventfd is
 * written; the loop watches that eventfd like any other fd, so a task
 * waiting for its job is an ordinary fd waiter: woken when some job ends,
 * it looks at its own job's flag and waits again if that is not done yet
 * (an eventfd write always produces a new edge). The eventfd is drained by
 * whichever waiter runs first.
 *
 * A job belongs to the pool from submission to the loop's end or its
 * collection, never to the task: a task that gives up (deadline, cancel)
 * or is closed by the deadlock shutdown leaves the job to finish on its
 * thread, and the pool frees it once it is done and uncollected. So a
 * worker thread never writes into freed memory. What it cannot protect is
 * the caller's own arg: see coro_offload's contract.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "sched.h"
#include "hooks.h"

#define OFFLOAD_MAX 64                    /* the most threads, unless the environment says */
#define OFFLOAD_LIMIT CORO__OFFLOAD_LIMIT /* the most CORO_OFFLOAD_THREADS may say */

typedef struct job {
    struct job *next;     /* the queue */
    struct job *all_next; /* every job the pool still holds */
    coro_fn fn;
    void *arg;
    void *result;
    int done;      /* set by the thread (atomic) */
    int collected; /* the task took the result, or gave up */
} job;

struct coro__offload {
    coro_waitq waiters; /* tasks waiting for their job (the loop's side) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail; /* waiting to run */
    job *all;
    int stop;
    int efd;
    int nthreads, max; /* threads started, and the most there may be */
    int idle;          /* threads waiting for a job */
    int queued;        /* jobs no thread has taken yet */
    pthread_t *threads;
};

static void *thread_main(void *arg)
{
    struct coro__offload *p = arg;
    uint64_t one = 1;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        job *j;

        while (p->head == NULL && !p->stop) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        if (p->head == NULL)
            break; /* stopping, queue empty */
        j = p->head;
        p->queued--;
        p->head = j->next;
        if (p->head == NULL)
            p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        j->result = j->fn(j->arg);
        __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
        if (write(p->efd, &one, sizeof one) < 0) {
            /* eventfd at its maximum: readers are behind, the edge is there */
        }
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Lets the threads finish what they run and what is queued, and joins them. */
static void stop_threads(struct coro__offload *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
}

/* The eventfd is readable: some jobs ended. It is drained and every
 * waiting task woken in one step, in the loop; each looks at its own job. */
static void reaped(coro__loop *l)
{
    struct coro__offload *p = l->offload;
    uint64_t n;

    if (p == NULL)
        return;
    if (read(p->efd, &n, sizeof n) < 0) {
        /* nothing to drain */
    }
    coro__waitq_fire_all(&p->waiters, 0);
}

/* Parks the running task until the next batch of job ends (or its
 * deadline, or, if cancelable, its cancellation). */
static int wait_jobs(coro_task *self, struct coro__offload *p, coro_time deadline, int cancelable)
{
    return coro__wait(self, &p->waiters, NULL, 1, "offload", p, deadline,
                      CORO__WAIT_OUTSIDE | (cancelable ? CORO__WAIT_CANCEL : 0));
}

/* The most threads a pool may have: CORO_OFFLOAD_THREADS if it is a
 * number from 1 to OFFLOAD_LIMIT, else OFFLOAD_MAX. */
static int max_threads(void)
{
    const char *env = getenv("CORO_OFFLOAD_THREADS");
    char *end;
    long n;

    if (env == NULL)
        return OFFLOAD_MAX;
    errno = 0;
    n = strtol(env, &end, 10);
    if (errno != 0 || end == env || *end != '\0' || n < 1 || n > OFFLOAD_LIMIT)
        return OFFLOAD_MAX;
    return (int)n;
}

/* One more thread; 0, or -1 when none could be started. */
static int grow(struct coro__offload *p)
{
    if (CORO__UNLIKELY(coro__sys_armed) && coro__sys_fail(CORO__SYS_THREAD))
        return -1;
    if (pthread_create(&p->threads[p->nthreads], NULL, thread_main, p) != 0)
        return -1;
    p->nthreads++;
    return 0;
}

static struct coro__offload *pool(coro__loop *l, int *err)
{
    struct coro__offload *p = l->offload;

    if (p != NULL)
        return p;
    *err = CORO_ENOMEM;
    if ((p = coro__malloc(sizeof *p)) == NULL)
        return NULL;
    memset(p, 0, sizeof *p);
    p->max = l->offload_threads > 0 ? l->offload_threads : max_threads();
    if ((p->threads = coro__malloc((size_t)p->max * sizeof *p->threads)) == NULL) {
        coro__free(p);
        return NULL;
    }
    p->efd = CORO__SYSCALL(CORO__SYS_EVENTFD, eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (p->efd < 0) {
        *err = -errno;
        coro__free(p->threads);
        coro__free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (grow(p) != 0 || (*err = coro__io_hook(l, p->efd, reaped)) != 0) {
        if (p->nthreads == 0)
            *err = CORO_ENOMEM;
        stop_threads(p);
        close(p->efd);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        coro__free(p->threads);
        coro__free(p);
        return NULL;
    }
    l->offload = p;
    return p;
}

/* Frees the jobs that are done and collected (or abandoned). Under mu. */
static void reap(struct coro__offload *p)
{
    job **pp = &p->all;

    while (*pp != NULL) {
        job *j = *pp;
        if (j->collected && __atomic_load_n(&j->done, __ATOMIC_ACQUIRE)) {
            *pp = j->all_next;
            coro__free(j);
        } else {
            pp = &j->all_next;
        }
    }
}

/* Queues fn(arg) on the running task's loop: the job, or NULL with *err. */
static job *submit(coro_task *self, coro_fn fn, void *arg, int *err)
{
    struct coro__offload *p = pool(self->loop, err);
    job *j;

    if (p == NULL)
        return NULL;
    if ((j = coro__malloc(sizeof *j)) == NULL) {
        *err = CORO_ENOMEM;
        return NULL;
    }
    memset(j, 0, sizeof *j);
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&p->mu);
    reap(p);
    j->all_next = p->all;
    p->all = j;
    if (p->tail != NULL)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    if (p->queued > p->idle && p->nthreads < p->max)
        (void)grow(p); /* or a busy thread takes it when it is done */
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return j;
}

/* Waits for j; either way the pool frees it afterwards. */
static int collect(coro_task *self, job *j, void **result, coro_time deadline)
{
    struct coro__offload *p = self->loop->offload;
    int rc = 0;

    while (!__atomic_load_n(&j->done, __ATOMIC_ACQUIRE))
        if ((rc = wait_jobs(self, p, deadline, 1)) != 0)
            break;
    if (rc == 0 && result != NULL)
        *result = j->result;
    j->collected = 1; /* done, or left to finish: the pool frees it */
    return rc;
}

int coro_offload_until(coro_fn fn, void *arg, void **result, coro_time deadline)
{
    int err;
    coro_task *self = coro__blocking_begin(&err);
    job *j;

    if (self == NULL)
        return err;
    /* fn reads arg on its thread while the task is parked: a copy-stack
     * task's stack is not its own then. */
    if (fn == NULL || coro__task_on_shared_stack(self, arg, 1))
        return CORO_EINVAL;
    if (err != 0)
        return err;
    if (!coro__can_wait(self)) { /* a cleanup at the loop's shutdown */
        void *r;

        if (deadline <= coro_now())
            return CORO_ETIMEDOUT;
        r = fn(arg);

        if (result != NULL)
            *result = r;
        return 0;
    }
    if ((j = submit(self, fn, arg, &err)) == NULL)
        return err;
    return collect(self, j, result, deadline);
}

int coro__offload_all(coro_task *self, coro_fn fn, void *arg, void **result)
{
    struct coro__offload *p;
    int err = 0;
    job *j = submit(self, fn, arg, &err);

    if (j == NULL)
        return err;
    p = self->loop->offload;
    while (!__atomic_load_n(&j->done, __ATOMIC_ACQUIRE))
        if (wait_jobs(self, p, CORO_NEVER, 0) != 0) {
            /* The switch failed (no memory to save a copy-stack task's
             * frames; its caller checked that self can wait otherwise):
             * the job holds the caller's buffer, so wait for it here. */
            struct timespec pause = {0, 100000};

            nanosleep(&pause, NULL);
        }
    if (result != NULL)
        *result = j->result;
    j->collected = 1;
    return 0;
}

int coro_offload(coro_fn fn, void *arg, void **result)
{
    return coro_offload_until(fn, arg, result, CORO_NEVER);
}

/* The loop is done: the threads finish what they run and what is queued,
 * then every job goes. */
void coro__offload_free(coro__loop *l)
{
    struct coro__offload *p = l->offload;

    if (p == NULL)
        return;
    stop_threads(p);
    while (p->all != NULL) {
        job *j = p->all;
        p->all = j->all_next;
        coro__free(j);
    }
    coro_fd_close(p->efd);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    coro__free(p->threads);
    coro__free(p);
    l->offload = NULL;
}

/* ---- name resolution ---- */

typedef struct lookup {
    char *host, *service;
    struct addrinfo hints;
    int has_hints;
    struct addrinfo *res;
    int gai;
} lookup;

static void *resolve(void *arg)
{
    lookup *q = arg;

    q->gai = getaddrinfo(q->host, q->service, q->has_hints ? &q->hints : NULL, &q->res);
    return NULL;
}

/* A lookup outlives a caller that gives up: two references, the thread's
 * and the caller's; whoever lets go last frees it. */
typedef struct owned_lookup {
    lookup q;
    int refs; /* atomic */
} owned_lookup;

static void free_lookup(lookup *q)
{
    if (q->res != NULL)
        freeaddrinfo(q->res);
    coro__free(q->host);
    coro__free(q->service);
}

static void unref(owned_lookup *o)
{
    if (__atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        free_lookup(&o->q);
        coro__free(o);
    }
}

static void *resolve_owned(void *arg)
{
    owned_lookup *o = arg;

    resolve(&o->q);
    unref(o);
    return NULL;
}

static int gai_error(int gai)
{
    switch (gai) {
    case 0:
        return 0;
    case EAI_MEMORY:
        return CORO_ENOMEM;
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
        return CORO_ENOENT;
    default:
        return CORO_EIO;
    }
}

int coro_getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                     struct addrinfo **res, coro_time deadline)
{
    int err, rc;
    coro_task *self = coro__blocking_begin(&err);
    owned_lookup *o;
    job *j;

    if (res != NULL)
        *res = NULL;
    if (self == NULL)
        return err;
    if (res == NULL || (host == NULL && service == NULL))
        return CORO_EINVAL;
    if (err != 0)
        return err;
    if (!coro__can_wait(self)) /* a cleanup at the loop's shutdown */
        return deadline <= coro_now() ? CORO_ETIMEDOUT
                                      : gai_error(getaddrinfo(host, service, hints, res));
    if ((o = coro__malloc(sizeof *o)) == NULL)
        return CORO_ENOMEM;
    memset(o, 0, sizeof *o);
    o->refs = 2;
    if ((host != NULL && (o->q.host = coro__strdup(host)) == NULL) ||
        (service != NULL && (o->q.service = coro__strdup(service)) == NULL)) {
        free_lookup(&o->q);
        coro__free(o);
        return CORO_ENOMEM;
    }
    if (hints != NULL) {
        o->q.hints = *hints;
        o->q.has_hints = 1;
    }
    if ((j = submit(self, resolve_owned, o, &err)) == NULL) {
        free_lookup(&o->q);
        coro__free(o);
        return err;
    }
    rc = collect(self, j, NULL, deadline);
    if (rc == 0) {
        rc = gai_error(o->q.gai);
        *res = o->q.res;
        o->q.res = NULL;
    }
    unref(o); /* after a deadline, the thread frees it when it ends */
    return rc;
}
