/*
 * test_thread.c - coroutines and threads: every thread has its own main
 * coroutine and runs its coroutines independently; a coroutine refuses to
 * be run by another thread and stays intact; a thread's state is freed when
 * it exits; dead coroutines can be destroyed from anywhere.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

static void run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t th;

    CHECK_INT(pthread_create(&th, NULL, fn, arg), 0);
    CHECK_INT(pthread_join(th, NULL), 0);
}

static void *yield_then_return(void *arg)
{
    void *in = NULL;

    CHECK_ERR(coro_yield(arg, &in), 0);
    return in;
}

/* ---- main coroutines ---- */

struct main_probe {
    coro *main_co;
    unsigned long long id;
    int ismain, status, yield_rc;
    const char *name;
};

static void *probe_main(void *arg)
{
    struct main_probe *p = arg;

    p->ismain = -1;
    p->main_co = coro_running(&p->ismain);
    p->id = coro_id(p->main_co);
    p->name = coro_name(p->main_co);
    p->status = coro_status(p->main_co);
    p->yield_rc = coro_yield(NULL, NULL);
    return NULL;
}

TEST(each_thread_has_its_own_main_coroutine)
{
    struct main_probe a, b;
    int ismain = -1;
    coro *mine = coro_running(&ismain);

    run_thread(probe_main, &a);
    run_thread(probe_main, &b);
    CHECK_INT(ismain, 1);
    CHECK_INT(a.ismain, 1);
    CHECK(a.main_co != NULL);
    CHECK(a.main_co != mine);
    CHECK(a.id != coro_id(mine));
    CHECK(a.id != b.id); /* ids are never reused, even after a thread exits */
    CHECK_STR(a.name, "main");
    CHECK_INT(a.status, CORO_RUNNING);
    CHECK_ERR(a.yield_rc, CORO_EOUTSIDE);
    CHECK_PTR(coro_running(NULL), mine); /* unchanged here */
}

struct other_main {
    coro *main_co;
    pthread_barrier_t ready, done;
};

static void *hold_main(void *arg)
{
    struct other_main *o = arg;

    o->main_co = coro_running(NULL);
    pthread_barrier_wait(&o->ready);
    pthread_barrier_wait(&o->done); /* keep the thread (and its main) alive */
    return NULL;
}

TEST(main_coroutine_of_another_thread_cannot_be_resumed_or_destroyed)
{
    struct other_main o;
    pthread_t th;

    pthread_barrier_init(&o.ready, NULL, 2);
    pthread_barrier_init(&o.done, NULL, 2);
    CHECK_INT(pthread_create(&th, NULL, hold_main, &o), 0);
    pthread_barrier_wait(&o.ready);
    CHECK_ERR(coro_resume(o.main_co, NULL, NULL), CORO_ETHREAD);
    CHECK_ERR(coro_destroy(o.main_co), CORO_EMAINCO);
    CHECK_ERR(coro_close(o.main_co), CORO_ETHREAD);
    CHECK_ERR(coro_resume(coro_running(NULL), NULL, NULL), CORO_ENOTSUSP); /* our own */
    pthread_barrier_wait(&o.done);
    CHECK_INT(pthread_join(th, NULL), 0);
    pthread_barrier_destroy(&o.ready);
    pthread_barrier_destroy(&o.done);
}

/* ---- many threads at once ---- */

#define THREADS 4

struct worker {
    pthread_barrier_t *start;
    int index, count;
    long sum; /* of everything its coroutines yielded and returned */
};

/* Yields n, n+1, n+2, returns n+3; checks it is the running coroutine. */
static void *count_up(void *arg)
{
    intptr_t n = (intptr_t)arg;
    coro *self = coro_running(NULL);

    for (intptr_t i = 0; i < 3; i++) {
        CHECK_PTR(coro_running(NULL), self);
        CHECK_ERR(coro_yield((void *)(n + i), NULL), 0);
    }
    return (void *)(n + 3);
}

static void *work(void *arg)
{
    struct worker *w = arg;
    coro **cos = calloc((size_t)w->count, sizeof *cos);
    char name[32];
    void *out;

    CHECK(cos != NULL);
    pthread_barrier_wait(w->start);
    for (int i = 0; i < w->count; i++) {
        coro_options opt = {CORO_STACK_MIN, name, NULL, 0};

        snprintf(name, sizeof name, "t%d-%d", w->index, i);
        CHECK_ERR(coro_create(&cos[i], count_up, &opt), 0);
    }
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < w->count; i++) {
            intptr_t n = (intptr_t)w->index * 100000 + i * 10;

            CHECK_INT(coro_resume(cos[i], (void *)n, &out), round < 3 ? 1 : 0);
            CHECK_PTR(out, (void *)(n + round));
            w->sum += (long)(intptr_t)out;
        }
    }
    for (int i = 0; i < w->count; i++) {
        snprintf(name, sizeof name, "t%d-%d", w->index, i);
        CHECK_STR(coro_name(cos[i]), name);
        CHECK_INT(coro_status(cos[i]), CORO_DEAD);
        CHECK_ERR(coro_destroy(cos[i]), 0);
    }
    free(cos);
    return NULL;
}

TEST(coroutines_run_on_four_threads_at_once)
{
    int count = test_slow_env() ? 200 : 1000;
    struct worker w[THREADS];
    pthread_barrier_t start;
    pthread_t th[THREADS];

    pthread_barrier_init(&start, NULL, THREADS);
    for (int t = 0; t < THREADS; t++) {
        w[t].start = &start;
        w[t].index = t;
        w[t].count = count;
        w[t].sum = 0;
        CHECK_INT(pthread_create(&th[t], NULL, work, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        CHECK_INT(pthread_join(th[t], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int t = 0; t < THREADS; t++) {
        /* sum over i of 4 * (t*100000 + 10 i) + (0 + 1 + 2 + 3) */
        long want = 0;
        for (int i = 0; i < count; i++)
            want += 4L * (t * 100000L + i * 10L) + 6;
        CHECK_INT(w[t].sum, want);
    }
}

/* ---- millions of switches on two threads ---- */

/*
 * Under ThreadSanitizer (make SANITIZE=thread) this is the test that TSan
 * sees the coroutines as fibers: on each thread, coroutines with their own
 * stacks and copy-stack ones take turns incrementing plain counters, which
 * only the switches order (TSan reports races between fibers it is not
 * told synchronize); now and then each enters a coro_pcall, switches away
 * inside it, and raises an error a few frames down (with one list of setjmp
 * buffers per thread instead of per fiber, TSan takes a suspended
 * coroutine's for dead frames and aborts: "can't find longjmp buf"), then
 * adds to a total the two threads share under a mutex. In every build it
 * checks the counts.
 */
#define SWITCH_THREADS 2
#define SWITCH_COROS 8
#define SWITCH_EVERY 1000 /* rounds between a pcall and a locked add */

struct switcher {
    pthread_mutex_t *mu;
    long *total; /* under mu */
    long rounds; /* each coroutine yields this many times */
    long turns;  /* rounds run by this thread's coroutines (plain) */
    long caught; /* errors they caught (plain) */
};

__attribute__((noinline)) static long raise_below(long depth)
{
    if (depth == 0) {
        coro_error("deep");
        return 0;
    }
    return raise_below(depth - 1) + 1; /* not a tail call */
}

/* Switches away (the thread's other coroutines set up pcalls of their
 * own meanwhile), then raises a few frames down. */
static void *yield_then_raise(void *arg)
{
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    return P(raise_below(N(arg)));
}

static void *take_turns(void *arg)
{
    struct switcher *s = arg;

    for (long i = 0; i < s->rounds; i++) {
        s->turns++;
        if (i % SWITCH_EVERY == 0) {
            CHECK_ERR(coro_pcall(yield_then_raise, P(4), NULL), CORO_EERROR);
            s->caught++;
            pthread_mutex_lock(s->mu);
            (*s->total) += SWITCH_EVERY;
            pthread_mutex_unlock(s->mu);
        }
        CHECK_ERR(coro_yield(NULL, NULL), 0);
    }
    return NULL;
}

static void *switch_a_lot(void *arg)
{
    struct switcher *s = arg;
    coro *cos[SWITCH_COROS];
    int alive = SWITCH_COROS;

    for (int i = 0; i < SWITCH_COROS; i++) {
        coro_options opt = {0, "taker", NULL, (i % 2) ? CORO_COPY_STACK : 0};
        CHECK_ERR(coro_create(&cos[i], take_turns, &opt), 0);
    }
    while (alive > 0) {
        alive = 0;
        for (int i = 0; i < SWITCH_COROS; i++) {
            int r = coro_resume(cos[i], s, NULL);

            CHECK(r == 1 || r == 0 || r == CORO_EDEAD);
            alive += r == 1;
        }
    }
    for (int i = 0; i < SWITCH_COROS; i++)
        CHECK_ERR(coro_destroy(cos[i]), 0);
    return NULL;
}

TEST(coroutines_on_two_threads_switch_millions_of_times)
{
    /* 2 threads x 8 coroutines x 62,500 rounds x 2 switches a round */
    long rounds = test_slow_env() ? 2000 : 62500;
    long total = 0, per_thread = SWITCH_COROS * rounds;
    long pcalls = SWITCH_COROS * ((rounds + SWITCH_EVERY - 1) / SWITCH_EVERY);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct switcher s[SWITCH_THREADS];
    pthread_t th[SWITCH_THREADS];

    for (int t = 0; t < SWITCH_THREADS; t++) {
        s[t] = (struct switcher){&mu, &total, rounds, 0, 0};
        CHECK_INT(pthread_create(&th[t], NULL, switch_a_lot, &s[t]), 0);
    }
    for (int t = 0; t < SWITCH_THREADS; t++) {
        CHECK_INT(pthread_join(th[t], NULL), 0);
        CHECK_INT(s[t].turns, per_thread);
        CHECK_INT(s[t].caught, pcalls);
    }
    CHECK_INT(total, SWITCH_THREADS * pcalls * SWITCH_EVERY);
}

/* ---- TSan still sees races between coroutines of two threads ---- */

/*
 * Only under TSan (elsewhere this would be a data race for real): in a
 * child, a coroutine "first" on one thread writes a global, is destroyed,
 * and then a coroutine "second" on another thread writes it too, with
 * nothing ordering the two (the second thread waits for the first with a
 * relaxed atomic, which TSan does not count as synchronization). The
 * second coroutine's fiber is made where the first one's was freed: TSan
 * must still report the race, naming both coroutines.
 */
#ifdef CORO__TSAN
static long racy;
static int first_done; /* relaxed atomic */

static void *write_racy(void *arg)
{
    racy++;
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    return arg;
}

static void *run_named(void *name)
{
    coro_options opt = {0, name, NULL, 0};
    coro *co;

    if (strcmp(name, "second") == 0)
        while (!__atomic_load_n(&first_done, __ATOMIC_RELAXED))
            usleep(1000);
    CHECK_ERR(coro_create(&co, write_racy, &opt), 0);
    while (coro_resume(co, NULL, NULL) == 1)
        ;
    CHECK_ERR(coro_destroy(co), 0);
    __atomic_store_n(&first_done, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void race_in_child(void)
{
    pthread_t a, b;

    CHECK_INT(pthread_create(&a, NULL, run_named, "first"), 0);
    CHECK_INT(pthread_create(&b, NULL, run_named, "second"), 0);
    CHECK_INT(pthread_join(a, NULL), 0);
    CHECK_INT(pthread_join(b, NULL), 0);
}
#endif

TEST(tsan_reports_a_race_between_coroutines_of_two_threads)
{
#ifdef CORO__TSAN
    char err[16384], chunk[4096];
    size_t len = 0;
    ssize_t n;
    int fds[2], status;
    pid_t pid;

    CHECK_INT(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        race_in_child();
        _exit(0);
    }
    close(fds[1]);
    while ((n = read(fds[0], chunk, sizeof chunk)) > 0) { /* all of it: the child must end */
        size_t k = (size_t)n < sizeof err - 1 - len ? (size_t)n : sizeof err - 1 - len;
        memcpy(err + len, chunk, k);
        len += k;
    }
    err[len] = '\0';
    close(fds[0]);
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 66); /* TSan's exit code after a report */
    CHECK(strstr(err, "WARNING: ThreadSanitizer: data race") != NULL);
    CHECK(strstr(err, "write_racy") != NULL);
    CHECK(strstr(err, "'first'") != NULL);
    CHECK(strstr(err, "'second'") != NULL);
#endif
}

/* ---- coroutines used from the wrong thread ---- */

struct intruder {
    coro *started, *fresh, *gen;
    int resume_started, close_started, destroy_started, call_gen, resume_fresh, close_fresh;
    int status_started;
    int use_coro_first; /* 1: the thread has state of its own, 0: none */
};

static void *intrude(void *arg)
{
    struct intruder *x = arg;

    if (x->use_coro_first)
        (void)coro_running(NULL);
    x->resume_started = coro_resume(x->started, NULL, NULL);
    x->close_started = coro_close(x->started);
    x->destroy_started = coro_destroy(x->started);
    x->call_gen = coro_call(x->gen, NULL, NULL);
    x->resume_fresh = coro_resume(x->fresh, NULL, NULL);
    x->close_fresh = coro_close(x->fresh);
    x->status_started = coro_status(x->started);
    return NULL;
}

static void check_intrusion_refused(int use_coro_first)
{
    struct intruder x;
    void *out = NULL;
    int token = 0;

    memset(&x, 0, sizeof x);
    x.use_coro_first = use_coro_first;
    CHECK_ERR(coro_create(&x.started, yield_then_return, NULL), 0);
    CHECK_ERR(coro_create(&x.fresh, yield_then_return, NULL), 0);
    CHECK_ERR(coro_wrap(&x.gen, yield_then_return, NULL), 0);
    CHECK_INT(coro_resume(x.started, &token, &out), 1);
    CHECK_PTR(out, &token);

    run_thread(intrude, &x);
    CHECK_ERR(x.resume_started, CORO_ETHREAD);
    CHECK_ERR(x.close_started, CORO_ETHREAD);
    CHECK_ERR(x.destroy_started, CORO_ETHREAD); /* its cleanups need its thread */
    CHECK_ERR(x.call_gen, CORO_ETHREAD);
    CHECK_ERR(x.resume_fresh, CORO_ETHREAD);
    CHECK_ERR(x.close_fresh, CORO_ETHREAD);
    CHECK_INT(x.status_started, CORO_SUSPENDED);

    /* All intact: the owner runs them to the end. */
    CHECK_INT(coro_status(x.started), CORO_SUSPENDED);
    CHECK_INT(coro_resume(x.started, &x, &out), 0);
    CHECK_PTR(out, &x);
    CHECK_INT(coro_resume(x.fresh, &token, &out), 1);
    CHECK_PTR(out, &token);
    CHECK_INT(coro_resume(x.fresh, NULL, &out), 0);
    CHECK_INT(coro_call(x.gen, &token, &out), 1);
    CHECK_PTR(out, &token);
    CHECK_INT(coro_call(x.gen, &x, &out), 0);
    CHECK_PTR(out, &x);
    CHECK_ERR(coro_destroy(x.started), 0);
    CHECK_ERR(coro_destroy(x.fresh), 0);
    CHECK_ERR(coro_destroy(x.gen), 0);
}

TEST(coroutine_used_from_another_thread_is_refused_and_stays_intact)
{
    check_intrusion_refused(1);
}

TEST(coroutine_used_from_thread_that_never_used_coro_is_refused)
{
    check_intrusion_refused(0);
}

struct suspended_elsewhere {
    coro *co;
    int resume_rc, close_rc, destroy_rc, destroy_normal_rc;
};

static void *resume_foreign(void *arg)
{
    struct suspended_elsewhere *s = arg;

    s->resume_rc = coro_resume(s->co, NULL, NULL);
    s->close_rc = coro_close(s->co);
    s->destroy_rc = coro_destroy(s->co);
    return NULL;
}

static void *destroy_foreign_normal(void *arg)
{
    struct suspended_elsewhere *s = arg;

    s->destroy_normal_rc = coro_destroy(s->co);
    return NULL;
}

/* Runs while s->co is normal (it resumed this one). */
static void *intrude_on_resumer(void *arg)
{
    run_thread(destroy_foreign_normal, arg);
    return NULL;
}

static void *resume_from_thread_inside(void *arg)
{
    struct suspended_elsewhere *s = arg;
    coro *self = coro_running(NULL);

    /* While this coroutine runs, another thread tries to run it. */
    coro *inner;

    s->co = self;
    run_thread(resume_foreign, s);
    CHECK_PTR(coro_running(NULL), self);
    CHECK_INT(coro_status(self), CORO_RUNNING);
    CHECK_ERR(coro_create(&inner, intrude_on_resumer, NULL), 0);
    CHECK_INT(coro_resume(inner, s, NULL), 0);
    CHECK_ERR(coro_destroy(inner), 0);
    CHECK_INT(coro_status(self), CORO_RUNNING);
    return s;
}

TEST(running_coroutine_cannot_be_resumed_from_another_thread)
{
    struct suspended_elsewhere s = {NULL, 0, 0, 0, 0};
    void *out = NULL;
    coro *co;

    CHECK_ERR(coro_create(&co, resume_from_thread_inside, NULL), 0);
    CHECK_INT(coro_resume(co, &s, &out), 0);
    CHECK_PTR(out, &s);
    CHECK_ERR(s.resume_rc, CORO_ETHREAD);
    CHECK_ERR(s.close_rc, CORO_ETHREAD);
    CHECK_ERR(s.destroy_rc, CORO_ETHREAD);        /* running */
    CHECK_ERR(s.destroy_normal_rc, CORO_ETHREAD); /* normal */
    CHECK_ERR(coro_destroy(co), 0);
}

/* ---- thread exit ---- */

struct leftovers {
    int n;     /* coroutines to run (half to the end, half closed) and destroy */
    int leave; /* 1: also leave three behind for the main thread: */
    coro *dead, *errored, *unstarted;
};

static void *raise_error(void *arg)
{
    (void)arg;
    coro_error("died on thread %d", 2);
    return NULL;
}

static void *use_and_exit(void *arg)
{
    struct leftovers *l = arg;
    coro_options named = {0, "left over", NULL, 0};

    for (int i = 0; i < l->n; i++) {
        coro *co;
        CHECK_ERR(coro_create(&co, yield_then_return, &named), 0);
        CHECK_INT(coro_resume(co, NULL, NULL), 1);
        if (i % 2 == 0)
            CHECK_INT(coro_resume(co, NULL, NULL), 0);
        CHECK_ERR(coro_destroy(co), 0); /* pooled stacks stay with the thread */
    }
    if (l->leave) {
        CHECK_ERR(coro_create(&l->dead, yield_then_return, &named), 0);
        CHECK_INT(coro_resume(l->dead, NULL, NULL), 1);
        CHECK_INT(coro_resume(l->dead, NULL, NULL), 0);
        CHECK_ERR(coro_create(&l->errored, raise_error, &named), 0);
        CHECK_ERR(coro_resume(l->errored, NULL, NULL), CORO_EERROR);
        CHECK_ERR(coro_create(&l->unstarted, yield_then_return, &named), 0);
    }
    return NULL;
}

TEST(thread_exit_frees_its_state_and_pooled_stacks)
{
    struct leftovers l = {100, 0, NULL, NULL, NULL};
    long allocs = coro__live_allocs(), maps = coro__live_maps();

    run_thread(use_and_exit, &l);
    /* The thread state, its signal stack and its pool are gone. */
    CHECK_INT(coro__live_allocs(), allocs);
    CHECK_INT(coro__live_maps(), maps);

    for (int i = 0; i < 20; i++)
        run_thread(use_and_exit, &l);
    CHECK_INT(coro__live_allocs(), allocs);
    CHECK_INT(coro__live_maps(), maps);
}

TEST(coroutines_of_an_exited_thread_can_be_destroyed)
{
    struct leftovers l = {0, 1, NULL, NULL, NULL};
    long allocs = coro__live_allocs();

    run_thread(use_and_exit, &l);
    CHECK_INT(coro_status(l.dead), CORO_DEAD);
    CHECK_INT(coro_status(l.errored), CORO_DEAD);
    CHECK_STR(coro_errmsg(l.errored), "died on thread 2");
    CHECK_INT(coro_status(l.unstarted), CORO_SUSPENDED);
    CHECK_ERR(coro_resume(l.unstarted, NULL, NULL), CORO_ETHREAD);
    CHECK_ERR(coro_destroy(l.dead), 0);
    CHECK_ERR(coro_destroy(l.errored), 0);
    CHECK_ERR(coro_destroy(l.unstarted), 0); /* its stack joins our pool */
    coro__spares_drain();
    CHECK_INT(coro__live_allocs(), allocs);
}

struct remote_destroy {
    coro *co;
    int rc;
};

static void *destroy_there(void *arg)
{
    struct remote_destroy *d = arg;

    d->rc = coro_destroy(d->co);
    return NULL;
}

static void *defer_then_error(void *arg)
{
    CHECK_ERR(coro_defer(free, arg), 0);
    coro_error("error with a cleanup");
    return NULL;
}

TEST(dead_coroutine_can_be_destroyed_from_another_thread)
{
    SKIP_IN_COPY_MODE(); /* refused: CORO_ETHREAD, see coro_destroy */
    coro_options named = {0, "remote", NULL, 0};
    struct remote_destroy d = {NULL, -1};
    long allocs = coro__live_allocs();

    CHECK_ERR(coro_create(&d.co, yield_then_return, &named), 0);
    CHECK_INT(coro_resume(d.co, NULL, NULL), 1);
    CHECK_INT(coro_resume(d.co, NULL, NULL), 0);
    run_thread(destroy_there, &d);
    CHECK_ERR(d.rc, 0);

    /* Died by an error, after its cleanup ran: the message goes too. */
    CHECK_ERR(coro_create(&d.co, defer_then_error, &named), 0);
    CHECK_ERR(coro_resume(d.co, malloc(16), NULL), CORO_EERROR);
    CHECK_STR(coro_errmsg(d.co), "error with a cleanup");
    d.rc = -1;
    run_thread(destroy_there, &d);
    CHECK_ERR(d.rc, 0);

    /* Closed while suspended (so dead, without a stack), then destroyed. */
    CHECK_ERR(coro_create(&d.co, yield_then_return, &named), 0);
    CHECK_INT(coro_resume(d.co, NULL, NULL), 1);
    CHECK_ERR(coro_close(d.co), 0);
    d.rc = -1;
    run_thread(destroy_there, &d);
    CHECK_ERR(d.rc, 0);
    coro__spares_drain();
    CHECK_INT(coro__live_allocs(), allocs);
}

TEST(unstarted_coroutine_can_be_destroyed_from_another_thread)
{
    struct remote_destroy d = {NULL, -1};
    long allocs = coro__live_allocs(), maps = coro__live_maps();

    SKIP_IN_COPY_MODE();
    CHECK_ERR(coro_create(&d.co, yield_then_return, NULL), 0);
    run_thread(destroy_there, &d); /* the stack goes back to the system there */
    CHECK_ERR(d.rc, 0);
    CHECK_INT(coro__live_allocs(), allocs);
    CHECK_INT(coro__live_maps(), maps);
}

/* ---- a thread's state outlives it while its coroutines do ---- */

struct orphan {
    coro *co;
    int copy;
    int resume_rc;
    void *state;
};

static void note_cleanup(void *arg)
{
    (*(int *)arg)++;
}

static int orphan_cleanups;

static void *defer_and_yield(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(note_cleanup, &orphan_cleanups), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    return NULL;
}

static void *leave_orphan(void *arg)
{
    struct orphan *o = arg;
    coro_options opt = {0, "orphan", NULL, o->copy ? CORO_COPY_STACK : 0};

    CHECK_ERR(coro_create(&o->co, defer_and_yield, &opt), 0);
    CHECK_INT(coro_resume(o->co, NULL, NULL), 1); /* suspended mid-body */
    return NULL;
}

static void *try_orphan(void *arg)
{
    struct orphan *o = arg;

    (void)coro_running(NULL); /* this thread's state exists */
    o->state = coro__tls;
    o->resume_rc = coro_resume(o->co, NULL, NULL);
    return NULL;
}

TEST(coroutine_of_an_exited_thread_is_never_taken_for_a_new_threads)
{
    for (int copy = 0; copy < 2; copy++) {
        struct orphan o = {NULL, copy, 0, NULL};
        long allocs = coro__live_allocs();

        orphan_cleanups = 0;
        run_thread(leave_orphan, &o);
        /* New threads allocate their state while the old one's is kept:
         * never at its address, so the orphan is never theirs. */
        for (int i = 0; i < 8; i++) {
            o.resume_rc = 0;
            run_thread(try_orphan, &o);
            CHECK(o.state != (void *)o.co->thread);
            CHECK_ERR(o.resume_rc, CORO_ETHREAD);
        }
        CHECK_INT(coro_status(o.co), CORO_SUSPENDED);
        /* Its thread is gone: freed, without cleanups that cannot run. */
        CHECK_ERR(coro_destroy(o.co), 0);
        CHECK_INT(orphan_cleanups, 0);
        coro__spares_drain();
        CHECK_INT(coro__live_allocs(), allocs); /* the old state went too */
    }
}
