/*
 * sched.h - the runtime's internal types: loop, task, group, waiter, timer,
 * and the park / ready protocol every blocking call is built on.
 *
 * Everything here belongs to one thread's loop and is touched by that
 * thread only (the watchdog thread reads two atomics), so nothing locks.
 */
#ifndef CORO_SCHED_H
#define CORO_SCHED_H

#include <stdint.h>
#include <stdio.h>

#include "internal.h"

#define coro__container_of(p, type, field) ((type *)(void *)((char *)(p)-offsetof(type, field)))

/* ---- timers (timer.c) ---- */

/* A deadline in the loop's heap. Ties fire in the order they were set
 * (seq). index is the heap slot + 1, 0 when not in the heap. The heap is
 * ordered by (key, hseq), which may lag behind (when, seq): a timer
 * re-armed later than its key, or disarmed lazily (dead), keeps its slot
 * until it reaches the top (timer.c says why). */
typedef struct coro__timer {
    coro_time when;
    unsigned long long seq;
    coro_time key;
    unsigned long long hseq;
    size_t index;
    int dead;
    void (*fire)(struct coro__timer *tm);
} coro__timer;

struct coro_loop;
CORO__HIDDEN int coro__timer_add(struct coro_loop *l, coro__timer *tm, coro_time when);
CORO__HIDDEN void coro__timer_unlink(struct coro_loop *l, coro__timer *tm);
/* Disarms tm; nothing if it is not armed (inline: every task's end asks). */
static inline void coro__timer_del(struct coro_loop *l, coro__timer *tm)
{
    if (tm->index != 0)
        coro__timer_unlink(l, tm);
}
/* Disarms tm in O(1): it stays in the heap, dead, until it reaches the top
 * or is re-armed. Only for a timer that lives as long as the loop's use of
 * it ends in coro__timer_del (a task's wait deadline). */
static inline void coro__timer_disarm(struct coro_loop *l, coro__timer *tm);
static inline int coro__timer_armed(const coro__timer *tm)
{
    return tm->index != 0 && !tm->dead;
}
CORO__HIDDEN coro__timer *coro__timer_first(struct coro_loop *l);
/* When the loop must look at its timers next: no later than the first
 * deadline, earlier when a lazily re-armed timer is on top (exact: always
 * the first deadline itself); CORO_NEVER when no timer is armed. */
CORO__HIDDEN coro_time coro__timer_next(struct coro_loop *l, int exact);
CORO__HIDDEN void coro__timer_fire_due(struct coro_loop *l, coro_time now);
CORO__HIDDEN void coro__timer_free_all(struct coro_loop *l);

/* ---- waiters and wait queues (sched.c) ---- */

/* A task's place in one wait queue. A task waits on one queue, or on
 * several in a select (one waiter per case). The waker dequeues the
 * waiter it serves; the task removes the others when it wakes. A waiter
 * whose task is no longer parked (another case of its select fired) is
 * skipped and dropped by wakers. */
typedef struct coro__waiter {
    struct coro__waiter *prev, *next;
    coro_waitq *q; /* the queue it is in; NULL when in none */
    coro_task *task;
    void *data; /* channel: the element to send, or where to receive */
    int index;  /* select: its case; -1 for a single wait */
    int fired;  /* a waker served it (the select's chosen case) */
    int result; /* set by the waker for the task: 0 or CORO_ECHCLOSED */
    int *lock;  /* a shared queue's lock (shared.c); set while in one */
} coro__waiter;

CORO__HIDDEN void coro__waitq_fire_each(coro_waitq *q, int result);
/* Fires every waiter of q whose task is parked, with result (inline: every
 * task's end asks, and mostly nobody waits). */
static inline void coro__waitq_fire_all(coro_waitq *q, int result)
{
    if (q->first != NULL)
        coro__waitq_fire_each(q, result);
}

/* ---- messages from other threads (remote.c) ---- */

/* A message in a loop's inbox: pushed by any thread, delivered by the
 * loop's, between tasks, in the order each thread pushed. */
typedef struct coro__msg {
    struct coro__msg *next;
    void (*deliver)(struct coro_loop *l, struct coro__msg *m); /* then m is the callee's */
} coro__msg;

/* ---- groups and tasks (sched.c, group.c) ---- */

/* coro__group_init sets every field: a new one needs its line there. */
struct coro_group {
    coro_task *owner;               /* opened by; canceled with it */
    struct coro_group *prev, *next; /* in the owner's list of groups */
    coro_task *first, *last;        /* member tasks not yet freed */
    size_t live;                    /* members not finished */
    int implicit;                   /* a task's own group (no handle) */
    int canceled;
    int timed_out;
    int err; /* first failure: CORO_EERROR, or 0 */
    char *errmsg;
    void *errvalue;
    coro__timer deadline;
    coro_waitq waiters; /* the owner, in coro_group_wait */
};

/* Task states. */
enum {
    CORO__T_READY = 1, /* in the run queue */
    CORO__T_RUNNING,
    CORO__T_PARKED,  /* in a blocking call */
    CORO__T_JOINING, /* body ended; waiting for the tasks it owns */
    CORO__T_DONE,
    CORO__T_ELSEWHERE, /* a proxy: the task runs on another loop (cross.c) */
    CORO__T_XPARKED,   /* in a blocking call on queues other loops fire (shared.c) */
    CORO__T_FREE       /* a spare record: its handle has ended (coro__task_free) */
};

/* Whether t is in a blocking call. */
#define coro__parked(t) ((t)->state == CORO__T_PARKED || (t)->state == CORO__T_XPARKED)

#define CORO__SELECT_INLINE 4

struct coro_task {
    /* What a park and its wake touch comes first, in three cache lines
     * (tasks are allocated on a line's boundary): the fields up to the
     * timer, the timer, the first waiter. With hundreds of connections
     * each request finds them out of L1; spread out they were six lines.
     * task_new (sched.c) sets every field, a new one needs its line there;
     * of w[] it sets only w[i].q. */
    coro *co; /* the worker it runs on (worker.c); NULL once its body ended */
    struct coro_loop *loop;
    int state;
    int wake;                            /* what the waker said: 0, CORO_ETIMEDOUT, ... */
    int canceled;                        /* level-triggered: every blocking call fails */
    int cancelable;                      /* the current park can be ended by cancellation */
    coro_task *rq_next;                  /* the run queue */
    const char *what;                    /* why it is parked ("chan recv"), for reports */
    const void *obj;                     /* on what */
    coro__timer timer;                   /* the deadline of the current park */
    coro__waiter w[CORO__SELECT_INLINE]; /* task_new sets only w[i].q */
    char *name;
    unsigned long long id;
    int pooled; /* its worker may go back to the pool */
    coro_fn fn;
    void *arg;
    int detached;                   /* no handle: freed when done, failure fails the owner */
    int awaited;                    /* a coro_await is waiting for it */
    coro_task *cancel_next;         /* a cancellation's worklist (sched.c) */
    coro_task *all_prev, *all_next; /* every live task of the loop */
    coro_task *mem_prev, *mem_next; /* in its group */
    coro_group *group;              /* the group it belongs to; NULL for the main task */
    coro_group own;                 /* the group of tasks it spawns without one */
    coro_group *groups;             /* explicit groups it opened and has not waited */
    coro__waiter *wx;               /* a larger select's waiters (malloc'd), nwx of them */
    int nwx;
    coro_waitq awaiter; /* the task in coro_await(this) */
    void *result;
    int status; /* at the end: 0, CORO_EERROR, CORO_ECANCELED */
    char *errmsg;
    void *errvalue;
    const char *file; /* where it was spawned */
    int line;
    struct coro__link *link; /* a task of another loop's: the link to it
                              * (this record is its proxy here), or to the
                              * proxy that owns it (this is the task) */
    unsigned slot;           /* its handle's slot (handle.c), kept while it is a spare */
    struct coro__slot *sp;   /* that slot */
    coro_task *h;            /* its handle (coro_spawn's, coro_task_self's) */
    void *xmem;              /* what a wait on shared queues allocated: freed with the
                              * task (a deadlock's shutdown unwinds a parked task) */
    /* A wait on queues other loops' tasks may fire (shared.c), in a line
     * of its own: all that a waker of another loop touches of the record
     * but the waiter, and all the task's loop reads back when woken. */
    struct coro__xpark {
        unsigned claim;            /* while XPARKED: 0 until a waker claims it (atomic) */
        int result;                /* the fired waiter's result */
        coro__waiter *fired;       /* the waiter its claimer fired (dequeued by it) */
        struct coro_loop *loop;    /* the task's: wakers compare it, and read no other line */
        struct coro_remote *inbox; /* its loop's, where the wake-up goes */
        coro__msg msg;             /* that wake-up */
        int n;                     /* its waiters in the wait (coro__xwait) */
        unsigned char val[12];     /* a small element sent or received (chan.c) */
    } x __attribute__((aligned(CORO__CACHE_LINE)));
};

/* The loop's wake-up eventfd, a system call site (core/fault.h) of the
 * runtime's: the I/O layer's count up from 0 (io/hooks.h). */
#define CORO__SYS_WAKE (CORO__SYS_MAX - 1)

/* ---- task handles (handle.c) ---- */

/* A handle's slot, in a table that is never freed. */
typedef struct coro__slot {
    coro_task *task;        /* the record, NULL while the slot is free (atomic) */
    struct coro_loop *loop; /* the loop that has the slot (atomic) */
    unsigned gen;           /* the handles it gives: bumped when one ends (atomic) */
    unsigned next;          /* a free list's next slot */
} coro__slot;

/* ---- the loop (loop.c) ---- */

typedef struct coro_loop {
    coro_task *current;            /* the running task, NULL in the scheduler */
    coro_task *main;               /* the task of coro_run's function */
    coro_task *rq_first, *rq_last; /* ready tasks, FIFO */
    size_t rq_len;
    coro_task *all; /* every task not yet done */
    size_t ntasks;
    coro__timer **heap; /* timers, a binary min-heap on (when, seq) */
    size_t heap_len, heap_cap;
    size_t timers_live; /* armed timers: the heap's minus the dead ones */
    unsigned long long timer_seq;
    unsigned flags; /* CORO_RUN_* */
    unsigned long long rng;
    coro_time vnow;                /* the virtual clock */
    coro_time busy_poll;           /* coro_run_options.busy_poll */
    int stopping;                  /* shutting down: wakes are ignored */
    size_t outside;                /* tasks whose waker is outside the loop
                                    * (CORO__WAIT_OUTSIDE): I/O, threads */
    int handoffs;                  /* task-to-task switches since the loop last ran one */
    struct coro__io *io;           /* fds and the poller (io/fd.c); NULL until used */
    struct coro__offload *offload; /* the thread pool (offload.c); NULL until used */
    int offload_threads;           /* coro_run_options.offload_threads */
    struct coro__uring *uring;     /* the file ring (io/ring_file.c); NULL until used */
    int uring_off;                 /* io_uring unavailable or turned off */
    coro *idle[64];                /* workers waiting for a task (worker.c) */
    int nidle;
    size_t unbound;   /* ready tasks that have no worker yet (worker.c) */
    coro *retired;    /* a worker that ended, for the loop to free */
    coro_task *spare; /* freed task records for reuse, by rq_next */
    int nspare;
    unsigned slot_free; /* free handle slots (handle.c), 0 for none */
    size_t nproxies;    /* of ntasks, proxies of tasks of other loops */
    int sent;           /* it sent a message since it was last idle (run.c) */
    char *late_err;     /* loop 0: a loop's failure after the main task ended */
    struct coro__watchdog *watchdog;
    unsigned long switches;     /* resumes of tasks (atomic, for the watchdog) */
    unsigned long long running; /* id of the running task, 0 if none (atomic) */
    const char *running_name;   /* its name, NULL if none (atomic; freed only
                                 * under the watchdog's lock, see loop.c) */
    /* What the other loops of a run read to send the loop a message, in a
     * line nobody writes while the run goes on: beside the fields above,
     * which the loop writes all the time, each message would cost its
     * sender a cache miss and the loop another (loops are allocated on a
     * line's boundary). */
    /* messages from other threads (remote.c); NULL until a remote is
     * opened or the run has several loops */
    struct coro_remote *inbox __attribute__((aligned(CORO__CACHE_LINE)));
    struct coro__run *run;      /* the run of several loops (run.c); NULL for one */
    int index;                  /* in the run */
    unsigned long long uid;     /* never the same for two loops of the process */
    unsigned long long run_uid; /* its run's: loop 0's uid */
    /* What placement reads of every loop, and other loops write. */
    size_t load __attribute__((aligned(CORO__CACHE_LINE))); /* ntasks - nproxies (atomic) */
    size_t incoming; /* tasks placed here, not yet started (atomic) */
} coro__loop;

CORO__HIDDEN extern __thread coro__loop *coro__loop_tls __attribute__((tls_model("initial-exec")));

/* The running task's record (coro_task_self gives its handle), or NULL. */
static inline coro_task *coro__self(void)
{
    coro__loop *l = coro__loop_tls;

    return l != NULL ? l->current : NULL;
}

static inline void coro__timer_disarm(coro__loop *l, coro__timer *tm)
{
    if (coro__timer_armed(tm)) {
        tm->dead = 1;
        l->timers_live--;
    }
}

CORO__HIDDEN unsigned long long coro__random(coro__loop *l);

/* ---- the run queue: ready tasks, FIFO (inline: on every wake and switch) ---- */

static inline void coro__rq_push(coro__loop *l, coro_task *t)
{
    t->rq_next = NULL;
    if (l->rq_last != NULL)
        l->rq_last->rq_next = t;
    else
        l->rq_first = t;
    l->rq_last = t;
    l->rq_len++;
}

/* t runs next (a handoff that was undone). */
static inline void coro__rq_push_front(coro__loop *l, coro_task *t)
{
    t->rq_next = l->rq_first;
    l->rq_first = t;
    if (l->rq_last == NULL)
        l->rq_last = t;
    l->rq_len++;
}

/* The next task to run: the oldest, or with CORO_RUN_SEEDED a seeded
 * random one (O(n), a testing mode). */
static inline coro_task *coro__rq_pop(coro__loop *l)
{
    coro_task *t = l->rq_first, *prev = NULL;

    if (t == NULL)
        return NULL;
    if (CORO__UNLIKELY(l->flags & CORO_RUN_SEEDED)) {
        for (size_t r = coro__random(l) % l->rq_len; r > 0; r--) {
            prev = t;
            t = t->rq_next;
        }
    }
    if (prev != NULL)
        prev->rq_next = t->rq_next;
    else
        l->rq_first = t->rq_next;
    if (l->rq_last == t)
        l->rq_last = prev;
    l->rq_len--;
    coro__assert((l->rq_len == 0) == (l->rq_first == NULL) &&
                 (l->rq_first == NULL) == (l->rq_last == NULL));
    return t;
}

/* The waker's half of park / ready: t, if parked, becomes ready and its
 * park will return `wake`. Inline: every wake of every channel and lock. */
static inline int coro__claim(coro_task *t);
static inline void coro__ready(coro_task *t, int wake)
{
    coro__loop *l = t->loop;

    /* XPARKED: the deadline, cancellation or a waker of this loop must win
     * the claim; else a waker of another loop has it, and its wake-up is
     * on the way. */
    if (CORO__UNLIKELY(t->state != CORO__T_PARKED || l->stopping) &&
        (t->state != CORO__T_XPARKED || l->stopping || !coro__claim(t)))
        return;
    t->wake = wake;
    t->state = CORO__T_READY;
    coro__timer_disarm(l, &t->timer); /* the next wait re-arms it in O(1) */
    coro__rq_push(l, t);
}

/* coro__park's slow parts (loop.c): arming the deadline, and a park that
 * could not switch away. */
CORO__HIDDEN int coro__park_deadline(coro_task *t, coro_time deadline);
CORO__HIDDEN int coro__park_failed(coro_task *t, int rc);

/* Suspends the running coroutine self (a parking task's, `t`, or an idle
 * worker's, t NULL): hands the thread to the next ready task, or yields to
 * the loop. 0, or coro_yield's error when self cannot suspend. */
CORO__HIDDEN int coro__switch_away(coro__loop *l, coro *self, coro_task *t);
/* An idle worker's coro__switch_away without the switch, which the caller
 * makes (worker.c): the coroutine of the ready task it is to switch to,
 * made the running one, or NULL when it is to yield to the loop instead. */
CORO__HIDDEN coro *coro__idle_handoff(coro__loop *l, coro *self);

/* The running task t waits until coro__ready(t, code) (a waker, its
 * deadline: CORO_ETIMEDOUT, or its cancellation: CORO_ECANCELED when
 * cancelable), and gets code back. Only coro__wait calls it. Returns at once
 * with CORO_ETIMEDOUT when the deadline has passed, with coro_yield's error
 * when t cannot suspend, or CORO_ENOMEM. what and obj are only read while
 * t is parked, so they are left as they are after the wait. */
static CORO__ALWAYS_INLINE int coro__park(coro_task *t, const char *what, const void *obj,
                                          coro_time deadline, int cancelable)
{
    int rc;

    if (deadline != CORO_NEVER && (rc = coro__park_deadline(t, deadline)) != 0)
        return rc;
    t->state = CORO__T_PARKED;
    t->what = what;
    t->obj = obj;
    t->cancelable = cancelable;
    t->wake = 0;
    rc = coro__switch_away(t->loop, t->co, t);
    if (CORO__UNLIKELY(rc != 0))
        return coro__park_failed(t, rc);
    return t->wake;
}

/* The running task of this thread's loop, or NULL with *err set to
 * CORO_ENOLOOP (no loop, or called from a coroutine the task resumed:
 * only the task itself can park); with *err CORO_ECANCELED when it is
 * canceled. Every blocking call starts here. */
static inline coro_task *coro__blocking_begin(int *err)
{
    coro__loop *l = coro__loop_tls;
    coro_task *t = l != NULL ? l->current : NULL;

    if (t == NULL || coro__tls->current != t->co) {
        *err = CORO_ENOLOOP;
        return NULL;
    }
    *err = t->canceled ? CORO_ECANCELED : 0;
    return t;
}

/* A blocking call's bad argument err, reported only once the loop's
 * absence is ruled out: the order every blocking call checks in. */
static inline int coro__refuse(int err)
{
    int e;

    return coro__blocking_begin(&e) == NULL ? e : err;
}

CORO__HIDDEN coro_time coro__clock(const coro__loop *l);
/* loop.c: a loop's life. A new loop for opt's options (NULL without
 * memory); running fn as its main task on the calling thread until the
 * loop ends, freeing all but the loop record: coro_run's result. */
CORO__HIDDEN coro__loop *coro__loop_new(const coro_run_options *opt);
CORO__HIDDEN int coro__loop_run(coro__loop *l, coro_fn fn, void *arg, const char *name,
                                void **result, const coro_run_options *opt);
/* Prints a line for each of l's tasks (coro_dump's). */
CORO__HIDDEN void coro__dump_tasks(FILE *f, const coro__loop *l);
/* A task's name is about to be freed: the watchdog must not read it. */
CORO__HIDDEN void coro__watchdog_forget(coro__loop *l, const char *name);

/* remote.c: the loop's side of its inbox. Each is a load or nothing when no
 * remote was ever opened. */
/* Delivers what was posted, a batch at a time: how many messages. */
CORO__HIDDEN size_t coro__inbox_take(coro__loop *l);
/* Closes the inbox, if it is not yet (later posts are refused), and
 * delivers the next batch of what it held: how many; 0 once all is. */
CORO__HIDDEN size_t coro__inbox_close(coro__loop *l);
/* How many remotes are open on an inbox that is not closed: while any is,
 * a message may come, and the loop sleeps in its poller rather than report
 * a deadlock. */
CORO__HIDDEN size_t coro__inbox_remotes(coro__loop *l);
/* Whether a message waits to be taken. */
CORO__HIDDEN int coro__inbox_pending(coro__loop *l);
/* The loop is about to sleep: 1 if it may (posters will wake it), 0 if a
 * message came meanwhile, or if `remotes` (what it counted before, 0 if
 * it does not wait for them) were open and the last has been closed.
 * coro__inbox_awake once it no longer sleeps. */
CORO__HIDDEN int coro__inbox_sleep(coro__loop *l, size_t remotes);
CORO__HIDDEN void coro__inbox_awake(coro__loop *l);
/* The loop ends: closes the inbox and lets go of it. */
CORO__HIDDEN void coro__inbox_end(coro__loop *l);
/* How many times posters woke a sleeping loop, process-wide (tests). */
CORO__HIDDEN unsigned long coro__inbox_wakeups(void);
/* The loop's inbox, made if it has none: 0 or an error. */
CORO__HIDDEN int coro__inbox_open(coro__loop *l);
/* Pushes a message from another loop (never refused; any thread). */
CORO__HIDDEN void coro__inbox_push(struct coro_remote *in, coro__msg *m);
/* Whether in's stack holds a message not yet taken (any thread). */
CORO__HIDDEN int coro__inbox_has(struct coro_remote *in);
/* Wakes the inbox's loop whether it sleeps or not (any thread). */
CORO__HIDDEN void coro__inbox_wake(struct coro_remote *in);
CORO__HIDDEN void coro__inbox_ref(struct coro_remote *in);
CORO__HIDDEN void coro__inbox_unref(struct coro_remote *in);

/* run.c: a run of several loops. */
/* Nothing can happen on l unless a message comes: it waits for one, or
 * finds every loop of the run in the same state, the run quiescent.
 * 0 (woken), or the run's verdict: CORO__RUN_END (every task done) or
 * CORO__RUN_DEADLOCK. */
enum { CORO__RUN_END = 1, CORO__RUN_DEADLOCK };
CORO__HIDDEN int coro__run_idle(coro__loop *l);
/* Whether an idle loop l should spin before it sleeps: another loop works
 * (and may send a message soon), and the run has a CPU for each loop (else
 * a spinner takes the time of the loop it waits for). */
CORO__HIDDEN int coro__run_spin(const coro__loop *l);
/* l woke from the wait coro__run_idle let it begin: 0, or the verdict. */
CORO__HIDDEN int coro__run_awake(coro__loop *l);
/* Sends m to loop `to` of the caller's run, from a loop of the run that is
 * not idle (its tasks, its scheduler). */
CORO__HIDDEN void coro__run_send(coro__loop *to, coro__msg *m);
/* The same to a loop's inbox in, when the sender has that at hand rather
 * than the loop (whose record is in lines the loop writes). */
CORO__HIDDEN void coro__run_push(struct coro_remote *in, coro__msg *m);
/* coro_dump's part for the other loops of l's run: each writes its tasks
 * to f in turn, asked by a message the running task waits for the answer
 * to (without a task that can wait, none is asked). How many tasks. */
CORO__HIDDEN int coro__run_dump(coro__loop *l, FILE *f);
/* The run's verdict, 0 while it goes on. */
CORO__HIDDEN int coro__run_verdict(const coro__loop *l);
/* The loop for a task spawned with opt on loop l: l, another, or NULL
 * with *err set (a loop of another run, an ended one). */
CORO__HIDDEN coro__loop *coro__run_place(coro__loop *l, const coro_task_options *opt, int *err);
/* Loop l's main task ended with an error no task of the run can take (a
 * loop's root, after the main task ended): it fails the run. */
CORO__HIDDEN void coro__run_fail(coro__loop *l, const char *msg);
/* The main task of loop 0 is done: the other loops are asked to end. */
CORO__HIDDEN void coro__run_stop(coro__loop *l);

/* cross.c: tasks across loops. */
/* Spawns fn on loop `to` for the running task of l, in group g: the
 * handle of its proxy (on l) in *out. As coro__spawn. */
CORO__HIDDEN int coro__cross_spawn(coro__loop *l, coro__loop *to, coro_task **out, coro_fn fn,
                                   void *arg, const coro_task_options *opt, coro_group *g,
                                   const char *file, int line);
/* The proxy t was canceled: so is its task, on its loop. */
CORO__HIDDEN void coro__cross_cancel(coro_task *t);
/* Task t of another loop's proxy is done: its end goes to the proxy. */
CORO__HIDDEN void coro__cross_done(coro_task *t);
/* t (a proxy or a task with a link) is freed: lets go of the link. */
CORO__HIDDEN void coro__cross_drop(coro_task *t);

/* sched.c */
CORO__HIDDEN void coro__task_ended(coro_task *t, int rc, void *out, const char *msg);
CORO__HIDDEN void coro__cancel_task(coro_task *t);
CORO__HIDDEN void coro__cancel_group(coro_group *g);
/* t's name, "" if none. */
static inline const char *coro__task_name(const coro_task *t)
{
    return t->name != NULL ? t->name : "";
}
/* handle.c: a slot for a new record t of l, and its first handle (0,
 * CORO_ENOMEM); the slot of a record freed for good back to l; l's free
 * slots back to the process (at its end). */
CORO__HIDDEN int coro__slot_take(struct coro_loop *l, coro_task *t);
CORO__HIDDEN void coro__slot_give(struct coro_loop *l, coro_task *t);
CORO__HIDDEN void coro__slots_end(struct coro_loop *l);

/* The table of slots (handle.c): segments of CORO__SEG_SLOTS, made on
 * demand and never freed. A handle is its slot's index (CORO__SLOT_BITS)
 * and the slot's generation when it was given (from bit CORO__GEN_SHIFT),
 * packed in a pointer's bits. */
#define CORO__SEG_BITS 12
#define CORO__SEG_SLOTS (1u << CORO__SEG_BITS)
#if UINTPTR_MAX > 0xffffffffu
#define CORO__SLOT_BITS 27 /* 134 million slots */
#define CORO__GEN_SHIFT 32 /* a 32-bit generation */
#else
#define CORO__SLOT_BITS 24 /* 16 million slots */
#define CORO__GEN_SHIFT 24 /* an 8-bit generation */
#endif
#define CORO__SEGS (1u << (CORO__SLOT_BITS - CORO__SEG_BITS))
CORO__HIDDEN extern struct coro__slot *coro__segs[CORO__SEGS];

/* Slot i, or NULL if its segment was never made. */
static inline struct coro__slot *coro__slot_at(unsigned i)
{
    struct coro__slot *seg;

    seg = __atomic_load_n(&coro__segs[(i >> CORO__SEG_BITS) & (CORO__SEGS - 1)], __ATOMIC_ACQUIRE);
    return seg != NULL ? &seg[i & (CORO__SEG_SLOTS - 1)] : NULL;
}

static inline coro_task *coro__handle_of(unsigned slot, unsigned gen)
{
    /* two shifts: one by the pointer's width would be undefined */
    return (coro_task *)((((uintptr_t)gen << (CORO__GEN_SHIFT - 1)) << 1) | slot);
}

/* t's handle has ended (its record goes to the spares): every use of it
 * is refused from now on, and t's next task gets the next one. */
static inline void coro__handle_end(coro_task *t)
{
    unsigned gen = t->sp->gen + 1;

    __atomic_store_n(&t->sp->gen, gen, __ATOMIC_RELAXED);
    t->h = coro__handle_of(t->slot, gen);
}

/* The loop that has handle h's slot (while h lives, its task's), or NULL. */
static inline struct coro_loop *coro__handle_loop(const coro_task *h)
{
    struct coro__slot *s = coro__slot_at((unsigned)((uintptr_t)h & ((1u << CORO__SLOT_BITS) - 1)));

    return s != NULL ? __atomic_load_n(&s->loop, __ATOMIC_RELAXED) : NULL;
}

/* The record of handle h, or NULL if h has ended, is no handle, or is not
 * the calling loop's: only the loop that has a slot changes it or the
 * record, so once the slot is found to be this loop's, nothing changes
 * under the caller. */
static inline coro_task *coro__handle_task(const coro_task *h)
{
    unsigned i = (unsigned)((uintptr_t)h & ((1u << CORO__SLOT_BITS) - 1));
    struct coro__slot *s = coro__slot_at(i);

    if (s == NULL || __atomic_load_n(&s->loop, __ATOMIC_RELAXED) != coro__loop_tls ||
        coro__handle_of(i, __atomic_load_n(&s->gen, __ATOMIC_RELAXED)) != h)
        return NULL;
    return s->task;
}
CORO__HIDDEN void coro__task_free(coro_task *t);
CORO__HIDDEN void coro__task_maybe_complete(coro_task *t);
CORO__HIDDEN void coro__shutdown(coro__loop *l);
CORO__HIDDEN void coro__task_spares_free(coro__loop *l);

/* io/fd.c, io/rw.c */
CORO__HIDDEN int coro__fd_adopt(coro__loop *l, int fd);
/* A canceled task's I/O call on fd >= 0: CORO_EBADF if fd is not open,
 * else CORO_ECANCELED; fd is not adopted (its flags stay as they are). */
CORO__HIDDEN int coro__fd_canceled(coro__loop *l, int fd);
CORO__HIDDEN int coro__fd_adopt_socket(coro__loop *l, int fd, int tcp);
CORO__HIDDEN int coro__io_hook(coro__loop *l, int fd, void (*hook)(coro__loop *l));
/* A file operation (file.c): what to do and, once done, its result. It
 * is written by a pool thread or by the loop for the kernel while its task
 * is parked, so it lives on the heap, never on the task's stack (a
 * copy-stack task's bytes are elsewhere then, and another task's frames
 * occupy those addresses); so do the buffer and path it points at. */
typedef struct coro__file_op {
    int kind; /* CORO__FILE_OPEN, _READ, _WRITE, _FSYNC */
    int fd, flags, mode;
    const char *path;
    void *buf;
    size_t n;
    long long offset; /* < 0: the file position */
    coro_task *task;  /* io_uring: whom the completion readies */
    int done;         /* io_uring: the completion has arrived */
    long result;      /* >= 0, or a negative errno code */
} coro__file_op;

enum { CORO__FILE_OPEN, CORO__FILE_READ, CORO__FILE_WRITE, CORO__FILE_FSYNC };

/* ring_file.c: op through io_uring, waiting for it (uncancelably): its result
 * (>= 0 or a negative errno code), or CORO_ENOSYS when io_uring is not
 * there (the caller then uses the pool). self must be able to wait
 * (coro__can_wait). */
CORO__HIDDEN long coro__uring_file(coro_task *self, coro__file_op *op);
CORO__HIDDEN void coro__uring_free(coro__loop *l);
/* One attempt of an I/O call on fd (socket: whether fd is one): >= 0, or -1
 * with errno; coro__io_retry repeats it until it does not say EAGAIN,
 * waiting for fd in direction `dir` (CORO_READ / CORO_WRITE) meanwhile. */
typedef long (*coro__io_op)(int fd, void *ctx, int socket);
CORO__HIDDEN long coro__io_retry(int fd, unsigned dir, coro_time deadline, coro__io_op op,
                                 void *ctx, size_t want);
/* offload.c: runs fn(arg) on the pool and waits for it to end, whatever
 * happens to the caller meanwhile: for work on the caller's buffers. self
 * must be able to wait (coro__can_wait). */
CORO__HIDDEN int coro__offload_all(coro_task *self, coro_fn fn, void *arg, void **result);
/* Waits up to timeout (< 0: no limit, 0: just looks) for fds to become
 * ready and wakes their waiters; the number of fds the poller reported. */
CORO__HIDDEN int coro__io_poll(coro__loop *l, coro_time timeout);
CORO__HIDDEN void coro__io_free(coro__loop *l);
CORO__HIDDEN void coro__offload_free(coro__loop *l);
/* The most threads coro_run_options.offload_threads may ask for. */
#define CORO__OFFLOAD_LIMIT 1024

/* worker.c */
CORO__HIDDEN int coro__worker_new(coro_task *t, const coro_task_options *opt);
/* A spawn finds this many tasks ready before it and no idle worker: its
 * task (if its stack is the default) gets a worker when it first runs. */
#define CORO__DEFER_QUEUE 64
/* coro_task_options.flags, internal: the task gets its worker at the spawn,
 * never later (its function must run if the spawn succeeds: a server's
 * connection task owns the fd it is given). */
#define CORO__SPAWN_NOW 0x40000000u

/* Gives t a worker: an idle one if t's options allow, else a new one, or
 * none yet (t->co NULL) in a burst of spawns (CORO__DEFER_QUEUE): a queued
 * task then holds no stack, and the workers of the tasks that end before
 * it serve it (loop.c, coro__worker_bind). 0, CORO_ENOMEM or CORO_EMAPS.
 * Inline: on every spawn. */
static inline int coro__worker_get(coro__loop *l, coro_task *t, const coro_task_options *opt)
{
    t->pooled = opt == NULL || (opt->stack_size == 0 && !(opt->flags & CORO_COPY_STACK));
    if (!t->pooled || l->nidle == 0) {
        if (t->pooled && l->rq_len >= CORO__DEFER_QUEUE &&
            (opt == NULL || !(opt->flags & CORO__SPAWN_NOW))) {
            l->unbound++;
            return 0; /* t->co stays NULL */
        }
        return coro__worker_new(t, opt);
    }
    t->co = l->idle[--l->nidle];
    coro__set_identity(t->co, t->name, t->id);
    return 0;
}
/* A worker for t, about to run for the first time without one: 1, or 0
 * when none could be had (t has then ended with CORO_EERROR). */
CORO__HIDDEN int coro__worker_bind(coro__loop *l, coro_task *t);
CORO__HIDDEN void coro__worker_destroy(coro *w);
CORO__HIDDEN void coro__workers_free(coro__loop *l);
/* Spawns fn as a task of l in group g; its handle (handle.c) in *out, if
 * out is not NULL: 0, or an error as coro_spawn's. */
CORO__HIDDEN int coro__spawn(coro__loop *l, coro_task **out, coro_fn fn, void *arg,
                             const coro_task_options *opt, coro_group *g, const char *file,
                             int line);
/* A proxy on l, in group g, for a task that another loop will run (state
 * CORO__T_ELSEWHERE); NULL without memory. */
CORO__HIDDEN coro_task *coro__proxy_new(coro__loop *l, const coro_task_options *opt, coro_group *g,
                                        const char *file, int line, int detached);

/* ---- wait queues (inline: on every wait and wake) ---- */

static inline void coro__waitq_push(coro_waitq *q, coro__waiter *w)
{
    coro__assert(w->q == NULL); /* a waiter is in one queue at a time */
    coro__assert((q->first == NULL) == (q->last == NULL));
    w->q = q;
    w->next = NULL;
    w->prev = q->last;
    if (q->last != NULL)
        q->last->next = w;
    else
        q->first = w;
    q->last = w;
}

static inline void coro__waitq_remove(coro__waiter *w)
{
    coro_waitq *q = w->q;

    if (q == NULL)
        return;
    coro__assert((w->prev == NULL) == (q->first == w) && (w->next == NULL) == (q->last == w));
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        q->first = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        q->last = w->prev;
    w->q = NULL;
    w->prev = w->next = NULL;
}

static inline coro__waiter *coro__waitq_peek(coro_waitq *q)
{
    coro__waiter *w;

    while ((w = q->first) != NULL) {
        if (w->task->state == CORO__T_PARKED)
            return w;
        coro__waitq_remove(w); /* its task woke by another case or a deadline */
    }
    return NULL;
}

static inline void coro__waiter_fire(coro__waiter *w, int result)
{
    w->fired = 1;
    w->result = result;
    coro__waitq_remove(w);
    coro__ready(w->task, 0);
}

static inline void coro__waiter_wait(coro__waiter *w, coro_task *t, coro_waitq *q, void *data,
                                     int index)
{
    w->task = t;
    w->data = data;
    w->index = index;
    w->fired = 0;
    w->result = 0;
    coro__waitq_push(q, w);
}

/* coro__wait's flags: how a wait may end besides its wakers and deadline. */
#define CORO__WAIT_CANCEL 1u /* the task's cancellation ends it (CORO_ECANCELED) */
#define CORO__WAIT_OUTSIDE                                                                         \
    2u /* its waker is outside the loop (the kernel, a                                             \
        * thread): while it waits the loop sleeps in its                                           \
        * poller instead of reporting a deadlock */

/*
 * The one wait under every blocking call (libdill's dill_wait, Go's gopark):
 * the running task t waits on q (its first waiter is queued there, with
 * data: where a channel's waker copies the element), or on the n waiters
 * its caller queued (q NULL: a select's cases; n 0: a wait no queue ends,
 * a sleep or a completion that readies t itself), until a waker fires one,
 * its deadline passes or, with CORO__WAIT_CANCEL, it is canceled. The
 * waiters are dequeued either way. Returns the fired waiter's result (0,
 * CORO_ECHCLOSED, CORO_EBADF: what the waker said), 0 when t was readied
 * otherwise, CORO_ETIMEDOUT, CORO_ECANCELED, CORO_ENOMEM (the deadline
 * could not be armed), or CORO_ECBOUNDARY when t cannot suspend (a cleanup
 * run by coro_close: no blocking call can wait there; see
 * coro__can_wait). what and obj say what t waits on, for reports.
 * Inline, so that a blocking call switches away from its own frame: every
 * frame between a switch and the code that resumes after it costs a
 * missed return prediction (loop.c).
 */
static CORO__ALWAYS_INLINE int coro__wait(coro_task *t, coro_waitq *q, void *data, int n,
                                          const char *what, const void *obj, coro_time deadline,
                                          unsigned flags)
{
    coro__waiter *w = n <= CORO__SELECT_INLINE ? t->w : t->wx;
    int rc;

    if (q != NULL)
        coro__waiter_wait(&t->w[0], t, q, data, -1);
    if (flags & CORO__WAIT_OUTSIDE)
        t->loop->outside++;
    rc = coro__park(t, what, obj, deadline, (flags & CORO__WAIT_CANCEL) != 0);
    if (flags & CORO__WAIT_OUTSIDE)
        t->loop->outside--;
    for (int i = 0; i < n; i++) {
        if (w[i].fired)
            rc = w[i].result;
        coro__waitq_remove(&w[i]);
    }
    return rc;
}

/* Whether t can wait: not in a cleanup run by coro_close, where every
 * wait fails at once. Work that needs no other task (a file operation, an
 * offloaded function) is done inline there instead. */
static inline int coro__can_wait(const coro_task *t)
{
    return !(t->co->flags & CORO__F_NOYIELD);
}

/* 1 if q's waiters belong to a loop that is not the calling thread's (a
 * misuse from another thread, refused with CORO_ETHREAD). */
static inline int coro__waitq_foreign(const coro_waitq *q)
{
    return q->first != NULL && q->first->task->loop != coro__loop_tls;
}

/* 1 if [p, p + n) overlaps the shared stack while task t runs in
 * copy-stack mode: memory that is not t's once t is switched out. */
static inline int coro__task_on_shared_stack(const coro_task *t, const void *p, size_t n)
{
    const coro__stack *s = &t->co->thread->shared;
    const char *c = p;

    /* p below lo: compare lengths, not c + n, which a huge n could wrap */
    return (t->co->flags & CORO__F_COPY) && c < (const char *)s->lo + s->size &&
           (c >= (const char *)s->lo || n > (size_t)((const char *)s->lo - c));
}

/* Where the bytes at p of task t's stack are now (copy-stack mode moves
 * them while t is switched out). */
static inline void *coro__task_mem(const coro_task *t, void *p)
{
    return (t->co->flags & CORO__F_COPY) ? coro__copy_addr(t->co, p) : p;
}

/* ---- queues shared by the loops of a run (shared.c) ---- */

/* What a waiter fired with when the object it waits on became shared: its
 * operation starts again, as a shared one. Never returned to a caller. */
#define CORO__ERETRY (-2000)

static inline void coro__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("pause");
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* A shared object's lock: held for a few dozen instructions, never across
 * a park, so a spin; after a while it yields the CPU (a holder preempted
 * with more loops than CPUs). */
CORO__HIDDEN void coro__lock_wait(int *lk);
static inline void coro__lock(int *lk)
{
    if (CORO__UNLIKELY(__atomic_exchange_n(lk, 1, __ATOMIC_ACQUIRE) != 0))
        coro__lock_wait(lk);
}
static inline void coro__unlock(int *lk)
{
    __atomic_store_n(lk, 0, __ATOMIC_RELEASE);
}

/* Takes the parked task t for one waker: 1 for the only one that gets it
 * in this park, 0 for every other (its waiter is stale for them). */
static inline int coro__claim(coro_task *t)
{
    unsigned z = 0;

    return __atomic_compare_exchange_n(&t->x.claim, &z, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* Under the lock of q, a shared queue: the first waiter whose task this
 * call claimed (dropping those claimed by others), or NULL. */
CORO__HIDDEN coro__waiter *coro__xpeek(coro_waitq *q);
/* Whether q has a waiter that may still be claimed (claims nothing). */
CORO__HIDDEN int coro__xwaiting(coro_waitq *q);
/* A claimed waiter w: fired with result, dequeued, its task readied (by a
 * message to its loop when that is not the caller's). */
CORO__HIDDEN void coro__xfire(coro__waiter *w, int result);
/* Fires every waiter of q that can be claimed. */
CORO__HIDDEN void coro__xfire_all(coro_waitq *q, int result);
/* The running task t is about to queue waiters on shared queues, whose
 * locks the caller holds: 0 once its park may be claimed (deadline armed),
 * or what the wait returns without waiting (CORO_ETIMEDOUT, CORO_ENOMEM,
 * CORO_ECBOUNDARY). Then coro__xwait_queue for each waiter, the locks
 * released, and coro__xwait. */
CORO__HIDDEN int coro__xwait_begin(coro_task *t, coro_time deadline);
static inline void coro__xwait_queue(coro__waiter *w, coro_task *t, coro_waitq *q, int *lock,
                                     void *data, int index)
{
    coro__waiter_wait(w, t, q, data, index);
    w->lock = lock;
}
/* Parks t until a claim wakes it, and dequeues its n waiters (each under
 * its lock): as coro__wait. */
CORO__HIDDEN int coro__xwait(coro_task *t, int n, const char *what, const void *obj,
                             unsigned flags);
/* Removes t's waiters from shared queues (a deadlock's shutdown). */
CORO__HIDDEN void coro__xwait_forget(coro_task *t);
/* The loop of l's run at index whose uid is uid: l's own, another one, or
 * NULL (the object's loop has ended, or is another run's). */
CORO__HIDDEN coro__loop *coro__run_loop(coro__loop *l, int index, unsigned long long uid);

/* chan.c, for select.c */
CORO__HIDDEN int coro__chan_now(coro_chan *ch, int op, void *data);
CORO__HIDDEN int coro__chan_ready(coro_chan *ch, int op);
CORO__HIDDEN coro_waitq *coro__chan_queue(coro_chan *ch, int op);
/* Select's cases c[0..n) on loop l: 0 when each is on a channel of l's own
 * that is not shared (the single-loop path), 1 when some is not, or
 * CORO_EINVAL. */
CORO__HIDDEN int coro__chan_cases(const coro_case *c, int n, const coro__loop *l);
/* Makes ch shared by the loops of the run (waiting for its loop to hand it
 * over when it is another's): 0, or an error (CORO_ETHREAD: not a channel
 * of the caller's run). */
CORO__HIDDEN int coro__chan_share(coro_task *self, coro_chan *ch);
/* The shared forms, under the channel's lock. */
CORO__HIDDEN int *coro__chan_lock(coro_chan *ch);
CORO__HIDDEN int coro__chan_xnow(coro_chan *ch, int op, void *data);
CORO__HIDDEN int coro__chan_xready(coro_chan *ch, int op);
CORO__HIDDEN size_t coro__chan_elem_size(const coro_chan *ch);

#endif /* CORO_SCHED_H */
