/*
 * loop.c - the event loop: coro_run, the scheduler's phases (run the ready
 * tasks, compute how long nothing can happen, wait, fire the due timers),
 * park / ready, the clocks, the deadlock report and the watchdog.
 *
 * Design. The loop runs on the coroutine that called coro_run (usually the
 * thread's main one) and resumes tasks, which are coroutines: a task that
 * blocks waits (coro__wait, sched.h: state PARKED, a switch to the next
 * ready task or back to the loop) and a waker readies it (coro__ready:
 * state READY, into the run queue, with a code the wait returns). A task
 * that calls coro_yield() stays RUNNING
 * across the yield and the loop puts it back at the end of the queue.
 * Each round runs only the tasks ready when it began, so timers are looked
 * at between rounds even while tasks keep yielding.
 *
 * When nothing is ready the loop waits for the first timer: in real time
 * (clock_nanosleep, or the poller while a task waits on something outside
 * the loop: loop->outside), or on the virtual clock by jumping to it.
 * Nothing ready, no timer, no outside wait and the main task not done is a
 * deadlock: nothing can ever wake a task. The loop then reports every task
 * and returns.
 *
 * Alternatives rejected: a scheduler coroutine of its own (one more switch
 * per wake for nothing, the caller's coroutine is free while the loop
 * runs); symmetric transfers from task to task (faster by one switch, but
 * a task's end, an error in it, and the deadlock check all need a place
 * that is not a task).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sched.h"

__thread coro__loop *coro__loop_tls __attribute__((tls_model("initial-exec")));

static coro_time mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (coro_time)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

coro_time coro__clock(const coro__loop *l)
{
    return (l != NULL && (l->flags & CORO_RUN_VIRTUAL_CLOCK)) ? l->vnow : mono();
}

coro_time coro_now(void)
{
    return coro__clock(coro__loop_tls);
}

coro_time coro_after(coro_time d)
{
    coro_time now = coro_now();

    if (d <= 0)
        return now;
    return d > CORO_NEVER - now ? CORO_NEVER : now + d;
}

/* xorshift64*: fast, and a seed gives one sequence on every machine. */
unsigned long long coro__random(coro__loop *l)
{
    unsigned long long x = l->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    l->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ---- park / ready ---- */

static void note_switch(coro__loop *l, const coro_task *t)
{
    if (l->watchdog == NULL)
        return;
    __atomic_store_n(&l->running, t != NULL ? t->id : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&l->running_name, t != NULL ? t->name : NULL, __ATOMIC_RELEASE);
    __atomic_add_fetch(&l->switches, 1, __ATOMIC_RELEASE);
}

/*
 * The running coroutine (a parking task's or an idle worker's) hands the
 * thread straight to the next ready task, in one switch instead of two
 * through the loop (Go's runnext does the same for the task a wake
 * readied). The loop sees the handoff when a task switches back to it:
 * the one that does is l->current. A run of handoffs is bounded, so that
 * the loop still looks at its timers.
 *
 * Every task switches away here, and from as few frames above as can be
 * (coro__wait is inline in the blocking call, the idle worker's wait in
 * its run loop): after a switch, each return up the resumed coroutine's
 * frames is predicted from the return stack, which holds the calls of the
 * coroutine that switched. One shared switch site makes the first return
 * right; each frame above it that the two sides do not share is a missed
 * prediction, about 5 ns. Keeping the frames few took a spawn + await from
 * 117 to 87 ns. An idle worker, whose wait has no frame to return to,
 * switches without a call at all (coro__idle_handoff, then the switch in
 * worker.c), so that not even the first return misses: 69 -> 48 ns.
 */
#define HANDOFF_MAX 64

/* Whether self may hand the thread to the next ready task now. */
static CORO__ALWAYS_INLINE int handoff_ok(const coro__loop *l, const coro *self)
{
    return l->rq_len > 0 && l->handoffs < HANDOFF_MAX && !l->stopping &&
           !(self->flags & (CORO__F_MAIN | CORO__F_NOYIELD)) &&
           l->unbound == 0; /* a task without a worker yet starts from the loop */
}

/* The next ready task, made the running one. */
static CORO__ALWAYS_INLINE coro_task *handoff_take(coro__loop *l)
{
    coro_task *n = coro__rq_pop(l);

    l->handoffs++;
    l->current = n;
    n->state = CORO__T_RUNNING;
    note_switch(l, n);
    return n;
}

/* handoff_take's undoing, when there is no memory to copy self's stack
 * out: t runs on. */
static void handoff_undo(coro__loop *l, coro_task *n, coro_task *t)
{
    n->state = CORO__T_READY;
    coro__rq_push_front(l, n);
    l->current = t;
}

int coro__switch_away(coro__loop *l, coro *self, coro_task *t)
{
    if (handoff_ok(l, self)) {
        coro_task *n = handoff_take(l);
        if (coro__transfer(self, n->co, n) == 0)
            return 0;
        handoff_undo(l, n, t);
    }
    return coro_yield(NULL, NULL);
}

coro *coro__idle_handoff(coro__loop *l, coro *self)
{
    if (handoff_ok(l, self)) {
        coro_task *n = handoff_take(l);
        if (coro__transfer_begin(self, n->co, n) == 0)
            return n->co;
        handoff_undo(l, n, NULL);
    }
    return NULL;
}

static void park_timeout(coro__timer *tm)
{
    coro__ready(coro__container_of(tm, coro_task, timer), CORO_ETIMEDOUT);
}

/* coro__park's slow parts (sched.h has the rest, inline). */
int coro__park_deadline(coro_task *t, coro_time deadline)
{
    coro__loop *l = t->loop;

    if (deadline <= coro__clock(l))
        return CORO_ETIMEDOUT;
    t->timer.fire = park_timeout;
    return coro__timer_add(l, &t->timer, deadline) != 0 ? CORO_ENOMEM : 0;
}

int coro__park_failed(coro_task *t, int rc)
{
    coro__timer_del(t->loop, &t->timer); /* cannot suspend here: nothing parked */
    t->state = CORO__T_RUNNING;
    return rc;
}

/* ---- the scheduler ---- */

/* Resumes t's worker. Control comes back when some task parks or yields
 * (l->current: t, or another one t handed off to) or when a worker whose
 * task ended goes idle (l->current NULL) or retires (l->retired). */
static void run_task(coro__loop *l, coro_task *t)
{
    coro *co = t->co;

    if (CORO__UNLIKELY(co == NULL)) { /* spawned in a burst: its first run */
        if (!coro__worker_bind(l, t))
            return;
        co = t->co;
    }
    l->current = t;
    l->handoffs = 0;
    t->state = CORO__T_RUNNING;
    note_switch(l, t);
    if (coro__resume_worker(co, t) == 0 || l->retired != NULL) {
        coro *w = l->retired;

        l->retired = NULL;
        coro__assert(w != NULL);
        if (w != co) /* it ended after a handoff: not yet released */
            (void)coro__resume_dead(w);
        coro__worker_destroy(w);
    }
    t = l->current;
    l->current = NULL;
    note_switch(l, NULL);
    if (t != NULL && t->state == CORO__T_RUNNING) { /* coro_yield(): let others run */
        t->state = CORO__T_READY;
        coro__rq_push(l, t);
    }
}

/* One round: the tasks that are ready now, not those they make ready. */
static void run_ready(coro__loop *l)
{
    size_t n = l->rq_len;
    coro_task *t;

    while (n-- > 0 && (t = coro__rq_pop(l)) != NULL)
        run_task(l, t);
}

/* Nothing is ready: let time pass until `when`. */
static void wait_until(coro__loop *l, coro_time when)
{
    struct timespec ts;

    if (l->flags & CORO_RUN_VIRTUAL_CLOCK) {
        if (when > l->vnow)
            l->vnow = when;
        return;
    }
    ts.tv_sec = (time_t)(when / 1000000000LL);
    ts.tv_nsec = (long)(when % 1000000000LL);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
        ; /* EINTR: sleep on */
}

/* Busy polling (coro_run_options.busy_poll): looks for ready fds without
 * sleeping from now until busy_poll later or `when`, whichever is first.
 * 1 as soon as that makes a task ready (an event that wakes nobody, such
 * as send space nobody waits for, does not end it), 0 at the end; *now
 * is then the time it ended. */
static int busy_poll(coro__loop *l, coro_time *now, coro_time when)
{
    coro_time end = when - *now < l->busy_poll ? when : *now + l->busy_poll;

    while (*now < end) {
        if ((coro__io_poll(l, 0) > 0 && l->rq_len > 0) || coro__inbox_pending(l))
            return 1;
        *now = mono();
    }
    return 0;
}

/* How long a loop of several that waits only for messages looks at its
 * inbox before it sleeps, while another loop works or a message is on its
 * way (coro__run_spin). Waking a sleeping loop costs its sender an eventfd
 * write and the loop a return from epoll_wait, several microseconds
 * together; an answer from a loop that works comes much sooner, and a loop
 * that is still looking takes it in the time a cache line takes to cross
 * (Go's idle Ms spin likewise, on the same condition). The price is up to
 * this much CPU time each time a loop runs out of work while others work. */
#define SPIN_NS 50000

/* 1 if a message came within SPIN_NS, 0 if none did or spinning stopped
 * being worth it. A loop that spins has not counted itself idle yet (so
 * that a message it finds costs no update of the run's shared count). */
static int spin(coro__loop *l)
{
    coro_time end = mono() + SPIN_NS;

    while (coro__run_spin(l)) {
        for (int i = 0; i < 64; i++) {
            if (coro__inbox_pending(l))
                return 1;
            coro__cpu_relax();
        }
        if (mono() >= end)
            break;
    }
    return 0;
}

/* The loop's sleep in the poller, for at most timeout ns (< 0: no limit),
 * unless something was posted meanwhile, or the last of the `remotes` it
 * counted was closed: posters and that close wake it while it sleeps
 * (remote.c). */
static void sleep_io(coro__loop *l, coro_time timeout, size_t remotes)
{
    if (!coro__inbox_sleep(l, remotes))
        return;
    coro__io_poll(l, timeout);
    coro__inbox_awake(l);
}

/* Nothing is ready: wait for I/O or a post until `when` (CORO_NEVER: no
 * timer). */
static void wait_io(coro__loop *l, coro_time when, size_t remotes)
{
    coro_time now = coro__clock(l);

    if (l->flags & CORO_RUN_VIRTUAL_CLOCK) { /* I/O first, then time jumps */
        coro__io_poll(l, 0);
        if (l->rq_len == 0)
            when == CORO_NEVER ? sleep_io(l, -1, remotes) : wait_until(l, when);
        return;
    }
    if (l->busy_poll > 0 && busy_poll(l, &now, when))
        return;
    sleep_io(l, when == CORO_NEVER ? -1 : when > now ? when - now : 0, remotes);
}

/* Runs until the main task is done (0) or every task is blocked and
 * nothing can wake one (CORO_EDEADLK). In a run of several loops, until
 * the run's verdict instead: a loop whose main task is done goes on serving
 * the others, and only all of them together can be deadlocked (run.c). */
static int schedule(coro__loop *l)
{
    for (;;) {
        coro_time next;
        size_t remotes = 0;
        int io, v;

        run_ready(l);
        if (CORO__UNLIKELY(l->inbox != NULL)) {
            /* The remotes first: a post made before the last one closed is
             * in the inbox by the time it is taken. */
            remotes = coro__inbox_remotes(l);
            coro__inbox_take(l); /* it may end the main task, and close the inbox */
            if (remotes > 0 && (remotes = coro__inbox_remotes(l)) == 0)
                coro__inbox_take(l); /* what the last remote posted before it closed */
        }
        if (l->main == NULL || l->main->state == CORO__T_DONE) { /* NULL: it could not start */
            if (l->run == NULL)
                return 0;
            if (l->index == 0)
                coro__run_stop(l); /* once: the other loops are asked to end */
        }
        /* A virtual clock jumps to the real first deadline, never earlier. */
        next = coro__timer_next(l, (l->flags & CORO_RUN_VIRTUAL_CLOCK) != 0);
        io = l->outside > 0;
        if (l->rq_len > 0) {
            if (io)
                coro__io_poll(l, 0); /* busy tasks do not starve I/O */
        } else if (io || remotes > 0 || (l->run != NULL && next != CORO_NEVER)) {
            wait_io(l, next, remotes); /* a loop of several waits where messages wake it */
        } else if (next != CORO_NEVER) {
            wait_until(l, next);
        } else if (l->run == NULL) {
            return CORO_EDEADLK; /* nothing can ever wake a task */
        } else if (coro__inbox_pending(l)) {
            /* more messages than a round delivers: never idle with some */
        } else if (spin(l)) {
            /* a message came while it looked: it never was idle */
        } else if ((v = coro__run_idle(l)) == 0) {
            /* Idle until a message comes, or the verdict: an fd's edge
             * nobody waits for does not end it (an idle loop counted
             * awake again could decide the verdict a second time). */
            while (!coro__inbox_pending(l) && coro__run_verdict(l) == 0)
                sleep_io(l, -1, 0);
            if ((v = coro__run_awake(l)) != 0)
                return v == CORO__RUN_END ? 0 : CORO_EDEADLK;
        } else {
            return v == CORO__RUN_END ? 0 : CORO_EDEADLK;
        }
        if (next != CORO_NEVER)
            coro__timer_fire_due(l, coro__clock(l));
    }
}

/* ---- reports ---- */

static const char *state_name(const coro_task *t)
{
    switch (t->state) {
    case CORO__T_READY:
        return "ready";
    case CORO__T_RUNNING:
        return "running";
    case CORO__T_PARKED:
    case CORO__T_XPARKED:
        return "blocked";
    case CORO__T_JOINING:
        return "waiting for the tasks it started";
    case CORO__T_ELSEWHERE:
        return "running on another loop";
    default:
        return "done";
    }
}

static void dump_task(FILE *f, const coro__loop *l, const coro_task *t)
{
    if (l->run != NULL)
        fprintf(f, "coro:   loop %d: task %llu \"%s\": %s", l->index, t->id, coro__task_name(t),
                state_name(t));
    else
        fprintf(f, "coro:   task %llu \"%s\": %s", t->id, coro__task_name(t), state_name(t));
    if (coro__parked(t) && t->what != NULL)
        fprintf(f, " on %s %p", t->what, t->obj);
    if (coro__parked(t) && coro__timer_armed(&t->timer))
        fprintf(f, " (deadline in %.3f s)", (double)(t->timer.when - coro__clock(l)) / 1e9);
    if (t->canceled)
        fprintf(f, ", canceled");
    if (t->file != NULL)
        fprintf(f, "; spawned at %s:%d", t->file, t->line);
    else if (l->index > 0)
        fprintf(f, "; the root task of loop %d (it owns what is posted there)", l->index);
    else
        fprintf(f, "; the main task of coro_run");
    fputc('\n', f);
}

int coro_dump(void *f)
{
    coro__loop *l = coro__loop_tls;
    int n = 0;

    if (l == NULL)
        return CORO_ENOLOOP;
    if (f == NULL)
        f = stderr;
    flockfile(f); /* a line is several writes: other loops write too */
    for (coro_task *t = l->all; t != NULL; t = t->all_next, n++)
        dump_task(f, l, t);
    funlockfile(f);
    if (l->run != NULL)
        n += coro__run_dump(l, f);
    return n;
}

void coro__dump_tasks(FILE *f, const coro__loop *l)
{
    flockfile(f);
    for (const coro_task *t = l->all; t != NULL; t = t->all_next)
        dump_task(f, l, t);
    funlockfile(f);
}

static void report_deadlock(coro__loop *l)
{
    fprintf(stderr, "coro: all tasks are asleep - deadlock! (%zu tasks)\n", l->ntasks);
    coro__dump_tasks(stderr, l);
}

/* ---- the watchdog ---- */

struct coro__watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    coro__loop *loop;
    coro_time limit;
};

/* Looks at the loop every quarter of the limit: a switch count that has
 * not moved for the limit while a task runs is a task that does not yield.
 * It holds mu except while it sleeps or prints, and a task's name is freed
 * only under mu (coro__watchdog_forget), so the name it copies cannot go
 * meanwhile; the name pointer's release / acquire orders its bytes before.
 * It prints without mu: a stderr that blocks (a full pipe) blocks only the
 * watchdog, never the loop freeing a task. */
static void *watch(void *arg)
{
    struct coro__watchdog *w = arg;
    unsigned long seen = (unsigned long)-1, reported = (unsigned long)-1;
    coro_time since = 0;

    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        coro_time now = mono(), next = now + w->limit / 4;
        unsigned long s = __atomic_load_n(&w->loop->switches, __ATOMIC_ACQUIRE);
        unsigned long long id = __atomic_load_n(&w->loop->running, __ATOMIC_RELAXED);
        const char *name = __atomic_load_n(&w->loop->running_name, __ATOMIC_ACQUIRE);
        struct timespec ts;

        if (s != seen) {
            seen = s;
            since = now;
        } else if (id != 0 && s != reported && now - since >= w->limit) {
            char copy[65];

            snprintf(copy, sizeof copy, "%s", name != NULL ? name : "");
            reported = s;
            pthread_mutex_unlock(&w->mu); /* a blocked stderr must not hold up the loop */
            fprintf(stderr,
                    "coro: watchdog: task \"%s\" (id %llu) has run for %.0f ms without "
                    "yielding\n",
                    copy, id, (double)(now - since) / 1e6);
            pthread_mutex_lock(&w->mu);
            continue; /* stop may have been asked meanwhile */
        }
        ts.tv_sec = (time_t)(next / 1000000000LL);
        ts.tv_nsec = (long)(next % 1000000000LL);
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

void coro__watchdog_forget(coro__loop *l, const char *name)
{
    struct coro__watchdog *w = l->watchdog;

    pthread_mutex_lock(&w->mu);
    if (__atomic_load_n(&l->running_name, __ATOMIC_RELAXED) == name)
        __atomic_store_n(&l->running_name, NULL, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&w->mu);
}

static int watchdog_start(coro__loop *l, coro_time limit)
{
    struct coro__watchdog *w = coro__malloc(sizeof *w);
    pthread_condattr_t ca;

    if (w == NULL)
        return CORO_ENOMEM;
    memset(w, 0, sizeof *w);
    w->loop = l;
    w->limit = limit;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, watch, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        coro__free(w);
        return CORO_ENOMEM;
    }
    l->watchdog = w;
    return 0;
}

static void watchdog_stop(coro__loop *l)
{
    struct coro__watchdog *w = l->watchdog;

    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    coro__free(w);
    l->watchdog = NULL;
}

/* ---- a loop's life (run.c starts and ends them) ---- */

/* The main task's end becomes coro_run's result. */
static int finish(coro__loop *l, void **result)
{
    coro_task *m = l->main;
    int rc = m->status;

    if (result != NULL)
        *result = rc == CORO_EERROR ? m->errvalue : m->result;
    if (rc == CORO_EERROR)
        coro__error_set(coro_running(NULL), m->errvalue,
                        m->errmsg != NULL ? m->errmsg : "not enough memory for the error message");
    if (rc == CORO_ETASKCANCELED)
        rc = 0; /* the main task can only be canceled by itself */
    coro__task_free(m);
    return rc;
}

const char *coro_run_error(int rc)
{
    const char *msg = rc == CORO_EERROR ? coro_errmsg(coro_running(NULL)) : NULL;

    return msg != NULL ? msg : coro_strerror(rc);
}

static unsigned long long uids; /* the last loop's uid (atomic) */

coro__loop *coro__loop_new(const coro_run_options *opt)
{
    coro__loop *l = coro__malloc_aligned(sizeof *l, CORO__CACHE_LINE);

    if (l == NULL)
        return NULL;
    memset(l, 0, sizeof *l);
    l->uid = l->run_uid = __atomic_add_fetch(&uids, 1, __ATOMIC_RELAXED);
    l->flags = opt != NULL ? opt->flags : 0;
    l->rng = (opt != NULL && opt->seed != 0) ? opt->seed : 0x9E3779B97F4A7C15ULL;
    l->busy_poll = opt != NULL ? opt->busy_poll : 0;
    l->offload_threads = opt != NULL ? opt->offload_threads : 0;
    return l;
}

int coro__loop_run(coro__loop *l, coro_fn fn, void *arg, const char *name, void **result,
                   const coro_run_options *opt)
{
    coro_task_options mo = {name, 0, NULL, 0, NULL};
    int rc;

    if (coro__thread_get() == NULL)
        return CORO_ENOMEM;
    coro__loop_tls = l;
    rc = opt != NULL && opt->watchdog > 0 ? watchdog_start(l, opt->watchdog) : 0;
    if (rc == 0) /* last: a main task that is queued runs */
        rc = coro__spawn(l, &l->main, fn, arg, &mo, NULL, NULL, 0);
    if (rc == 0)
        l->main = coro__handle_task(l->main); /* its record */
    if (rc != 0 && l->run != NULL) {
        /* One loop of several: it must still serve the others until the
         * run's verdict, without its main task. */
        char msg[96];

        snprintf(msg, sizeof msg, "loop %d could not start: %s", l->index, coro_strerror(rc));
        if (l->index > 0)
            coro__run_fail(l, msg);
        if (schedule(l) == CORO_EDEADLK)
            coro__shutdown(l);
    } else if (rc == 0) {
        rc = schedule(l);
        if (rc == CORO_EDEADLK) {
            if (l->run == NULL)
                report_deadlock(l); /* a run of several reported every loop */
            coro__shutdown(l);
        }
    }
    watchdog_stop(l);
    coro__inbox_end(l);
    if (l->main != NULL) {
        if (rc == 0)
            rc = finish(l, result);
        else
            coro__task_free(l->main);
        l->main = NULL;
    }
    coro__workers_free(l);
    coro__offload_free(l); /* before the fds: it closes its eventfd */
    coro__uring_free(l);   /* the same */
    coro__io_free(l);
    coro__timer_free_all(l);
    coro__task_spares_free(l);
    coro__loop_tls = NULL;
    return rc;
}
