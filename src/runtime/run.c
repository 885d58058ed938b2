/*
 * run.c - coro_run: one loop on the calling thread, or several, each on a
 * thread of its own (thread per core); placing tasks on them; the run's
 * verdict (its end, or a deadlock of every loop); the loop handles.
 *
 * Design. Each loop of a run is a loop as with one: its own tasks, run
 * queue, timers, poller and offload pool, touched by its thread only. They
 * meet only through their inboxes (remote.c): tasks spawned onto another
 * loop (cross.c), stop requests, failures. Loop 0 runs the main task on
 * the calling thread; every other loop runs a root task, which owns what
 * remotes post to it and waits until loop 0's main task is done.
 *
 * The end, and deadlocks. A loop cannot tell alone whether it is done: a
 * task of another loop may still spawn onto it. A loop with nothing ready,
 * no timer, no wait outside the loop and no open remote can be woken by a
 * message only; it counts itself idle and sleeps on its inbox. The loop
 * whose count makes every loop idle looks at every inbox: when none holds a
 * message, and no loop woke meanwhile (the count's word also counts the
 * wake-ups), nothing can happen anywhere any more (only a loop sends
 * messages, and none runs; threads outside need a remote, and a loop with
 * one open is not idle). Messages are not counted one by one: that would
 * put two atomic operations on one shared word into every message, every
 * wake-up of a task of another loop among them. Then the run is over if no loop has a task left,
 * and deadlocked otherwise; that loop reports every loop's tasks (the
 * others sleep, and their count's release orders what they wrote before
 * it), sets the verdict and wakes them all. So a deadlock spanning loops is
 * reported as one on a single loop is, and the run's end needs no message
 * of its own: it is the state in which every loop is idle and empty.
 *
 * Rejected: ending each loop when its own tasks are done (a task of
 * another loop may spawn onto it later); a global lock around placement
 * and ends (every spawn across loops would take it).
 */
#define _GNU_SOURCE 1 /* sched_getaffinity, pthread_setaffinity_np */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "group.h"

#define LOOPS_MAX 1024

typedef struct coro__run {
    int n;
    coro__loop **loops;
    struct coro_remote **inboxes; /* the run's refs: an inbox outlives its loop's end */
    pthread_t *threads;
    coro_event *stops;   /* loop i's root waits on stops[i] (loop i's) */
    coro__msg *stop_msg; /* loop 0 sends stop_msg[i] to loop i once */
    int stop_sent;       /* loop 0's */
    /* Loops that wait for a message (the low half), and how many times an
     * idle loop woke (the high half), in one word (atomic): see
     * coro__run_idle. */
    unsigned long long idle;
    int verdict; /* 0, CORO__RUN_END, CORO__RUN_DEADLOCK (atomic) */
    coro_run_options opt;
    pthread_mutex_t mu; /* the start: each loop's thread reports whether it is up */
    pthread_cond_t cv;
    int reported;
    char *up; /* loop i's thread started and has its state (1), or not */
    int pin;
    int spin;       /* as many CPUs as loops: an idle loop may spin (loop.c) */
    cpu_set_t cpus; /* the calling thread's affinity, to pin to and restore */
} coro__run;

/* ---- the handles ---- */

coro_loop *coro_loop_self(void)
{
    coro__loop *l = coro__loop_tls;

    return l != NULL && l->current != NULL ? l : NULL;
}

coro_loop *coro_loop_at(int i)
{
    coro__loop *l = coro_loop_self();

    if (l == NULL || i < 0)
        return NULL;
    if (l->run == NULL)
        return i == 0 ? l : NULL;
    return i < l->run->n ? l->run->loops[i] : NULL;
}

int coro_loop_count(void)
{
    coro__loop *l = coro_loop_self();

    return l == NULL ? 0 : l->run != NULL ? l->run->n : 1;
}

int coro_loop_index(const coro_loop *l)
{
    return l != NULL ? l->index : -1;
}

/* ---- placement ---- */

coro__loop *coro__run_place(coro__loop *l, const coro_task_options *opt, int *err)
{
    coro__run *r = l->run;

    if (opt->flags & CORO_ANY_LOOP) { /* the fewest tasks running or about to start */
        coro__loop *best = l;
        size_t least = l->ntasks - l->nproxies + __atomic_load_n(&l->incoming, __ATOMIC_RELAXED);

        for (int i = 0; r != NULL && i < r->n; i++) {
            coro__loop *o = r->loops[i];
            size_t load = __atomic_load_n(&o->load, __ATOMIC_RELAXED) +
                          __atomic_load_n(&o->incoming, __ATOMIC_RELAXED);
            if (o != l && r->up[i] && load < least) {
                least = load;
                best = o;
            }
        }
        return best;
    }
    if (opt->loop == l)
        return l;
    for (int i = 0; r != NULL && i < r->n; i++) /* no dereference of a stranger */
        if (r->loops[i] == opt->loop)
            return opt->loop;
    *err = CORO_EINVAL; /* a loop of another run, or of one that ended */
    return NULL;
}

/* ---- stop, failures ---- */

static void deliver_stop(coro__loop *l, coro__msg *m)
{
    (void)m;
    (void)coro_event_set(&l->run->stops[l->index]);
}

void coro__run_stop(coro__loop *l)
{
    coro__run *r = l->run;

    if (r->stop_sent)
        return;
    r->stop_sent = 1;
    for (int i = 1; i < r->n; i++)
        if (r->up[i])
            coro__run_send(r->loops[i], &r->stop_msg[i]);
}

typedef struct fail_msg {
    coro__msg m;
    char *text;
} fail_msg;

/* On loop 0: the main task fails with it (its tasks are canceled), or, once
 * it is done, coro_run returns it. */
static void deliver_fail(coro__loop *l, coro__msg *m)
{
    fail_msg *f = coro__container_of(m, fail_msg, m);

    if (l->main != NULL && l->main->state != CORO__T_DONE) {
        coro__group_fail_msg(&l->main->own, f->text);
        coro__free(f->text);
    } else if (l->late_err == NULL) {
        l->late_err = f->text;
    } else {
        coro__free(f->text);
    }
    coro__free(f);
}

void coro__run_fail(coro__loop *l, const char *msg)
{
    fail_msg *f = coro__malloc(sizeof *f);

    if (f == NULL || (f->text = coro__strdup(msg != NULL ? msg : "")) == NULL) {
        coro__free(f);
        fprintf(stderr, "coro: loop %d failed (not enough memory to tell loop 0): %s\n", l->index,
                msg != NULL ? msg : "");
        return;
    }
    f->m.deliver = deliver_fail;
    coro__run_send(l->run->loops[0], &f->m);
}

coro__loop *coro__run_loop(coro__loop *l, int index, unsigned long long uid)
{
    coro__loop *o;

    if (l->run == NULL)
        o = index == 0 ? l : NULL;
    else
        o = index >= 0 && index < l->run->n ? l->run->loops[index] : NULL;
    return o != NULL && o->uid == uid ? o : NULL;
}

/* ---- coro_dump across loops ---- */

typedef struct dump_req {
    coro__msg m;
    FILE *f;
    coro_task *task; /* who asked, and waits for the answer */
    int count;
} dump_req;

static void deliver_answer(coro__loop *l, coro__msg *m)
{
    dump_req *d = coro__container_of(m, dump_req, m);

    (void)l;
    coro__ready(d->task, 0);
}

static void deliver_dump(coro__loop *l, coro__msg *m)
{
    dump_req *d = coro__container_of(m, dump_req, m);

    coro__dump_tasks(d->f, l);
    d->count = (int)l->ntasks;
    d->m.deliver = deliver_answer;
    coro__run_send(d->task->loop, &d->m);
}

int coro__run_dump(coro__loop *l, FILE *f)
{
    coro__run *r = l->run;
    coro_task *self = l->current;
    dump_req *d;
    int n = 0;

    if (self == NULL || coro__tls->current != self->co || !coro__can_wait(self) || l->stopping ||
        (d = coro__malloc(sizeof *d)) == NULL)
        return 0;
    d->f = f;
    d->task = self;
    for (int i = 0; i < r->n; i++) {
        if (r->loops[i] == l || !r->up[i])
            continue;
        d->m.deliver = deliver_dump;
        d->count = 0;
        coro__run_send(r->loops[i], &d->m);
        /* neither a deadline nor cancellation: the answer will come, and
         * only it readies self */
        (void)coro__wait(self, NULL, NULL, 0, "dump", r->loops[i], CORO_NEVER, 0);
        n += d->count;
    }
    coro__free(d);
    return n;
}

/* ---- the verdict ---- */

int coro__run_verdict(const coro__loop *l)
{
    return l->run != NULL ? __atomic_load_n(&l->run->verdict, __ATOMIC_ACQUIRE) : 0;
}

static void report(coro__run *r)
{
    size_t n = 0;

    for (int i = 0; i < r->n; i++)
        n += r->loops[i]->ntasks;
    fprintf(stderr, "coro: all tasks are asleep - deadlock! (%zu tasks on %d loops)\n", n, r->n);
    for (int i = 0; i < r->n; i++)
        coro__dump_tasks(stderr, r->loops[i]);
}

void coro__run_push(coro_remote *in, coro__msg *m)
{
    coro__loop *from = coro__loop_tls;

    if (from != NULL)
        from->sent = 1;
    coro__inbox_push(in, m);
}

void coro__run_send(coro__loop *to, coro__msg *m)
{
    coro__run_push(to->run->inboxes[to->index], m);
}

#define IDLE_MASK 0xffffffffULL
#define WOKE (1ULL << 32)

int coro__run_idle(coro__loop *l)
{
    coro__run *r = l->run;
    unsigned long long w;
    int v = CORO__RUN_END;

    /* Every loop idle and no message between them on its way: nothing can
     * happen any more. A loop sends only while it is not idle, and counts
     * itself idle after (the count is one release sequence), so the loop
     * whose count makes every loop idle finds every message sent before in
     * an inbox, unless a loop woke meanwhile and took it: the word, read
     * again after the look, says whether one did (an idle loop that wakes
     * counts that in the high half, so that waking and idling again shows
     * too). If a message is seen or a loop woke, no verdict yet: the loop
     * that takes the message counts itself idle again after it. */
    l->sent = 0;
    w = __atomic_add_fetch(&r->idle, 1, __ATOMIC_ACQ_REL);
    if ((w & IDLE_MASK) != (unsigned long long)r->n)
        return 0;
    for (int i = 0; i < r->n; i++)
        if (r->up[i] && coro__inbox_has(r->inboxes[i])) {
            /* Its loop takes it, or is about to: a wake-up more costs a
             * spurious return from its wait at worst, and makes a lost one
             * a stall rather than a hang. */
            if (r->loops[i] != l)
                coro__inbox_wake(r->inboxes[i]);
            return 0;
        }
    if (__atomic_load_n(&r->idle, __ATOMIC_ACQUIRE) != w)
        return 0;
    for (int i = 0; i < r->n; i++)
        if (r->loops[i]->ntasks > 0)
            v = CORO__RUN_DEADLOCK;
    if (v == CORO__RUN_DEADLOCK)
        report(r);
    __atomic_store_n(&r->verdict, v, __ATOMIC_RELEASE); /* idle loops stay so until it */
    for (int i = 0; i < r->n; i++)
        if (r->loops[i] != l && r->up[i])
            coro__inbox_wake(r->inboxes[i]);
    return v;
}

int coro__run_spin(const coro__loop *l)
{
    const coro__run *r = l->run;
    unsigned long long idle = __atomic_load_n(&r->idle, __ATOMIC_RELAXED) & IDLE_MASK;

    /* l itself is not counted idle while it spins. A loop that sent a
     * message since it was last idle may get an answer; another loop that
     * works may send one. */
    return r->spin && (l->sent || idle + 1 < (unsigned long long)r->n);
}

int coro__run_awake(coro__loop *l)
{
    coro__run *r = l->run;

    __atomic_add_fetch(&r->idle, WOKE - 1, __ATOMIC_ACQ_REL);
    return __atomic_load_n(&r->verdict, __ATOMIC_ACQUIRE);
}

/* ---- the loops' threads ---- */

/* Loop i (i > 0): its root task owns what is posted to it, until loop 0's
 * main task is done. */
static void *root(void *arg)
{
    coro__loop *l = arg;

    (void)coro_event_wait(&l->run->stops[l->index]); /* or canceled: a posted task failed */
    return NULL;
}

static void pin(coro__run *r, int index)
{
    int count = CPU_COUNT(&r->cpus), k = index % count;

    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &r->cpus) || k-- > 0)
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        (void)pthread_setaffinity_np(pthread_self(), sizeof one, &one);
        return;
    }
}

static void *loop_thread(void *arg)
{
    coro__loop *l = arg;
    coro__run *r = l->run;
    char name[32];
    int up;

    if (r->pin)
        pin(r, l->index);
    up = coro__thread_get() != NULL; /* a loop that cannot run says so first */
    pthread_mutex_lock(&r->mu);
    r->up[l->index] = (char)up;
    r->reported++;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (!up)
        return NULL;
    snprintf(name, sizeof name, "loop %d", l->index);
    (void)coro__loop_run(l, root, l, name, NULL, &r->opt);
    return NULL;
}

/* The main task of a run whose loops did not all start. */
static void *nothing(void *arg)
{
    return arg;
}

static void run_free(coro__run *r)
{
    for (int i = 0; i < r->n; i++) {
        if (r->inboxes[i] != NULL)
            coro__inbox_unref(r->inboxes[i]);
        if (r->loops[i] != NULL) {
            coro__free(r->loops[i]->late_err);
            coro__free(r->loops[i]);
        }
    }
    coro__free(r->loops);
    coro__free(r->inboxes);
    coro__free(r->threads);
    coro__free(r->stops);
    coro__free(r->stop_msg);
    coro__free(r->up);
    coro__free(r);
}

static int run_many(int n, coro_fn fn, void *arg, void **result, const coro_run_options *opt)
{
    coro__run *r = coro__malloc(sizeof *r);
    int rc = 0, started = 1, down = 0;

    if (r == NULL)
        return CORO_ENOMEM;
    memset(r, 0, sizeof *r);
    r->n = n;
    r->opt = *opt;
    r->loops = coro__malloc((size_t)n * sizeof *r->loops);
    r->inboxes = coro__malloc((size_t)n * sizeof *r->inboxes);
    r->threads = coro__malloc((size_t)n * sizeof *r->threads);
    r->stops = coro__malloc((size_t)n * sizeof *r->stops);
    r->stop_msg = coro__malloc((size_t)n * sizeof *r->stop_msg);
    r->up = coro__malloc((size_t)n);
    if (r->loops == NULL || r->inboxes == NULL || r->threads == NULL || r->stops == NULL ||
        r->stop_msg == NULL || r->up == NULL) {
        r->n = 0;
        run_free(r);
        return CORO_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        r->loops[i] = NULL;
        r->inboxes[i] = NULL;
        r->up[i] = i == 0;
        coro_event_init(&r->stops[i]);
        r->stop_msg[i].deliver = deliver_stop;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        coro__loop *l = coro__loop_new(opt);

        if ((r->loops[i] = l) == NULL) {
            rc = CORO_ENOMEM;
            break;
        }
        l->run = r;
        l->index = i;
        l->run_uid = r->loops[0]->uid;
        if ((rc = coro__inbox_open(l)) == 0) {
            r->inboxes[i] = l->inbox;
            coro__inbox_ref(l->inbox);
        }
    }
    if (rc != 0) {
        for (int i = 0; i < n && r->loops[i] != NULL; i++) {
            if (r->loops[i]->inbox != NULL)
                coro__inbox_unref(r->loops[i]->inbox);
            coro__io_free(r->loops[i]);
        }
        run_free(r);
        return rc;
    }
    if (sched_getaffinity(0, sizeof r->cpus, &r->cpus) == 0) {
        r->pin = (opt->flags & CORO_RUN_PIN) != 0;
        r->spin = n <= CPU_COUNT(&r->cpus);
    }
    if (r->pin)
        pin(r, 0);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    for (; started < n; started++)
        if (pthread_create(&r->threads[started], NULL, loop_thread, r->loops[started]) != 0)
            break;
    pthread_mutex_lock(&r->mu);
    while (r->reported < started - 1)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < n; i++)
        down += !r->up[i];
    if (down > 0) {
        /* The loops that are up end as soon as they can: the run's main
         * task is one that returns at once. Those that are not count as
         * idle for ever, and nothing is ever sent to them. */
        for (int i = 1; i < n; i++)
            if (!r->up[i]) {
                coro__inbox_end(r->loops[i]);
                coro__io_free(r->loops[i]);
            }
        __atomic_add_fetch(&r->idle, (unsigned long long)down, __ATOMIC_RELAXED);
        (void)coro__loop_run(r->loops[0], nothing, NULL, "main", NULL, opt);
        rc = CORO_ENOMEM;
    } else {
        rc = coro__loop_run(r->loops[0], fn, arg, "main", result, opt);
    }
    for (int i = 1; i < started; i++)
        pthread_join(r->threads[i], NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    if (rc == 0 && r->loops[0]->late_err != NULL) {
        coro__error_set(coro_running(NULL), NULL, r->loops[0]->late_err);
        rc = CORO_EERROR;
    }
    if (r->pin)
        (void)pthread_setaffinity_np(pthread_self(), sizeof r->cpus, &r->cpus);
    run_free(r);
    return rc;
}

/* ---- coro_run ---- */

static int loops_wanted(const coro_run_options *opt)
{
    long n;

    if (opt == NULL || opt->loops == 0)
        return 1;
    if (opt->loops != CORO_LOOPS_PER_CPU)
        return opt->loops;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > LOOPS_MAX ? LOOPS_MAX : (int)n;
}

int coro_run(coro_fn fn, void *arg, void **result, const coro_run_options *opt)
{
    int n = loops_wanted(opt);
    coro__loop *l;
    int rc;

    if (fn == NULL || n < 1 || n > LOOPS_MAX ||
        (opt != NULL && (opt->busy_poll < 0 || opt->offload_threads < 0 ||
                         opt->offload_threads > CORO__OFFLOAD_LIMIT)))
        return CORO_EINVAL;
    if (n > 1 && (opt->flags & (CORO_RUN_VIRTUAL_CLOCK | CORO_RUN_SEEDED)))
        return CORO_EINVAL;
    if (coro__loop_tls != NULL)
        return CORO_EBUSY;
    if (coro__thread_get() == NULL)
        return CORO_ENOMEM;
    if (n > 1)
        return run_many(n, fn, arg, result, opt);
    if ((l = coro__loop_new(opt)) == NULL)
        return CORO_ENOMEM;
    rc = coro__loop_run(l, fn, arg, "main", result, opt);
    coro__free(l);
    return rc;
}
