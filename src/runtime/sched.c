/*
 * sched.c - tasks: spawn, await, cancellation, the end of a task and the
 * ownership that keeps tasks from outliving their owners; wait queues.
 *
 * Design. Every task but the main one belongs to a group: the spawning
 * task's own (embedded in it) or an explicit one (group.c). A group counts
 * its members that have not finished (live). A task whose body has ended
 * is JOINING until every group it owns has no live member; only then is it
 * DONE: it wakes its awaiter and counts down its own group, which may in
 * turn complete its owner. So completion runs bottom-up and no task ends
 * before what it started.
 *
 * Errors flow up the same way. A failed member of an explicit group fails
 * the group (first error wins) and cancels its other members. A failed
 * detached task (no handle) fails its owner: the owner is canceled and ends
 * with that error, as does an owner whose failed member nobody awaited.
 *
 * Cancellation is level-triggered: a canceled task's blocking calls all
 * fail with CORO_ECANCELED, so it can only wind down; canceling a task
 * cancels the groups it owns and their members, recursively, and a task
 * spawned into a canceled group starts canceled.
 *
 * Handles: a DONE task with a handle is kept until coro_await takes its
 * end or its owner completes; an await in progress keeps it alive past the
 * owner (the awaiter frees it).
 */
#include <stdio.h>
#include <string.h>

#include "group.h"

/* Task records kept for reuse by a loop. */
#define SPARE_MAX 64

/* ---- wait queues ---- */

void coro__waitq_fire_each(coro_waitq *q, int result)
{
    coro__waiter *w;

    while ((w = coro__waitq_peek(q)) != NULL)
        coro__waiter_fire(w, result);
}

/* ---- the end of a task ---- */

static CORO__ALWAYS_INLINE void unlink_all(coro_task *t)
{
    coro__loop *l = t->loop;

    if (t->all_prev != NULL)
        t->all_prev->all_next = t->all_next;
    else if (l->all == t)
        l->all = t->all_next;
    if (t->all_next != NULL)
        t->all_next->all_prev = t->all_prev;
    t->all_prev = t->all_next = NULL;
    l->ntasks--;
    __atomic_store_n(&l->load, l->ntasks - l->nproxies, __ATOMIC_RELAXED); /* cheaper than a test */
}

/* t's body has ended and nothing it owns is live: it is done. Returns
 * its owner when that one may now be done too (completion runs up a chain
 * of owners as a loop, not as recursion). */
static coro_task *complete(coro_task *t)
{
    coro_group *g = t->group;

    if (t->own.err != 0)
        coro__inherit(t, t->own.errmsg, t->own.errvalue);
    coro__group_release(&t->own, t);
    while (t->groups != NULL) { /* opened and never waited */
        coro_group *e = t->groups;
        if (e->err != 0)
            coro__inherit(t, e->errmsg, e->errvalue);
        coro__group_free(e);
    }
    if (t->status == 0 && t->canceled)
        t->status = CORO_ETASKCANCELED;
    t->state = CORO__T_DONE;
    unlink_all(t);
    coro__waitq_fire_all(&t->awaiter, 0);
    if (g == NULL) {
        if (t->link != NULL)
            coro__cross_done(t); /* its owner is on another loop: it takes the end */
        else if (t->loop->index > 0 && t->status == CORO_EERROR)
            coro__run_fail(t->loop, t->errmsg); /* a loop's root: a posted task failed */
        return NULL; /* else the main task: coro_run takes it from here */
    }
    g->live--;
    if (t->status == CORO_EERROR && (t->detached || !g->implicit))
        coro__group_fail(g, t);
    if (t->detached)
        coro__task_free(t);
    if (g->live > 0)
        return NULL;
    coro__waitq_fire_all(&g->waiters, 0);
    return g->owner;
}

void coro__task_maybe_complete(coro_task *t)
{
    while (t != NULL && t->state == CORO__T_JOINING && coro__owned_live(t) == 0) {
        /* The main task (no group) finishes last: the loop's inbox closes
         * first, and what it still held runs before, as its tasks. */
        if (CORO__UNLIKELY(t->group == NULL) && t == t->loop->main && t->loop->inbox != NULL) {
            while (coro__inbox_close(t->loop) > 0)
                if (coro__owned_live(t) > 0)
                    return;
        }
        t = complete(t);
    }
}

/* t's function ended (on its worker): rc 0 (it returned out), CORO_EERROR
 * (msg, with the value in out), or CORO_ECANCELED (closed at a deadlock). */
void coro__task_ended(coro_task *t, int rc, void *out, const char *msg)
{
    if (rc == 0) {
        t->result = out;
    } else if (rc == CORO_EERROR) {
        coro__error_keep(&t->status, &t->errmsg, &t->errvalue, coro__msg_of(msg), out);
    } else {
        t->status = rc;
    }
    t->state = CORO__T_JOINING;
    if (t->status == CORO_EERROR) {
        coro__cancel_group(&t->own);
        for (coro_group *g = t->groups; g != NULL; g = g->next)
            coro__cancel_group(g);
    }
    coro__task_maybe_complete(t);
}

void coro__task_free(coro_task *t)
{
    if (CORO__UNLIKELY(t->link != NULL))
        coro__cross_drop(t);
    coro__member_remove(t);
    if (t->state != CORO__T_DONE)
        unlink_all(t);
    coro__timer_del(t->loop, &t->timer);
    if (t->co != NULL)
        coro__worker_destroy(t->co);
    if (CORO__UNLIKELY(t->name != NULL || t->errmsg != NULL || t->wx != NULL || t->xmem != NULL)) {
        if (t->loop->watchdog != NULL && t->name != NULL)
            coro__watchdog_forget(t->loop, t->name);
        coro__free(t->name);
        coro__free(t->errmsg);
        coro__free(t->wx);
        coro__free(t->xmem);
        t->xmem = NULL; /* a spare keeps it NULL (task_new) */
    }
    t->state = CORO__T_FREE;
    if (t->loop->nspare < SPARE_MAX) {
        coro__handle_end(t); /* every use of it is refused from here on */
        t->rq_next = t->loop->spare;
        t->loop->spare = t;
        t->loop->nspare++;
    } else {
        coro__slot_give(t->loop, t);
        coro__free(t);
    }
}

/* The hot part of a task stays within three cache lines (sched.h). */
typedef char
    coro__task_hot_fits[offsetof(coro_task, w) + sizeof(coro__waiter) <= 3 * CORO__CACHE_LINE ? 1
                                                                                              : -1];

/* A cleared task record for loop l, from its spares when it has one.
 * Every field is set here (see coro__group_init for why not memset); the
 * inline select waiters only need to be in no queue. */
static CORO__ALWAYS_INLINE coro_task *task_new(coro__loop *l)
{
    coro_task *t = l->spare;

    if (t != NULL) {
        l->spare = t->rq_next;
        l->nspare--;
    } else if ((t = coro__malloc_aligned(sizeof *t, CORO__CACHE_LINE)) != NULL) {
        if (coro__slot_take(l, t) != 0) {
            coro__free(t);
            return NULL;
        }
        t->x.n = 0; /* a spare's are so: every wait and coro__task_free leave them */
        t->xmem = NULL;
    } else {
        return NULL;
    }
    t->co = NULL;
    t->name = NULL;
    t->id = 0;
    t->pooled = 0;
    t->loop = l;
    t->fn = NULL;
    t->arg = NULL;
    t->state = 0;
    t->wake = 0;
    t->canceled = t->cancelable = t->detached = t->awaited = 0;
    t->rq_next = t->cancel_next = NULL;
    t->all_prev = t->all_next = NULL;
    t->mem_prev = t->mem_next = NULL;
    t->group = NULL;
    t->groups = NULL;
    coro__timer_clear(&t->timer);
    t->wx = NULL;
    t->nwx = 0;
    t->awaiter.first = t->awaiter.last = NULL;
    t->what = NULL;
    t->obj = NULL;
    t->result = NULL;
    t->status = 0;
    t->errmsg = NULL;
    t->errvalue = NULL;
    t->file = NULL;
    t->line = 0;
    t->link = NULL;
    for (int i = 0; i < CORO__SELECT_INLINE; i++)
        t->w[i].q = NULL;
    return t;
}

void coro__task_spares_free(coro__loop *l)
{
    while (l->spare != NULL) {
        coro_task *t = l->spare;
        l->spare = t->rq_next;
        coro__slot_give(l, t);
        coro__free(t);
    }
    l->nspare = 0;
    coro__slots_end(l);
}

/* A record from task_new that never became a task: back to the spares. */
static void task_unused(coro__loop *l, coro_task *t)
{
    t->state = CORO__T_FREE;
    t->rq_next = l->spare;
    l->spare = t;
    l->nspare++;
}

/* ---- spawn ---- */

/* A new task record with its id and opt's name (copied); NULL without
 * memory. */
static CORO__ALWAYS_INLINE coro_task *task_named(coro__loop *l, const coro_task_options *opt)
{
    coro_task *t = task_new(l);

    if (t == NULL)
        return NULL;
    if (opt != NULL && opt->name != NULL && opt->name[0] != '\0' &&
        (t->name = coro__strdup(opt->name)) == NULL) {
        task_unused(l, t);
        return NULL;
    }
    t->id = coro__next_id();
    return t;
}

/* t joins l's list of live tasks. */
static void list(coro__loop *l, coro_task *t)
{
    t->all_next = l->all;
    if (l->all != NULL)
        l->all->all_prev = t;
    l->all = t;
    l->ntasks++;
    __atomic_store_n(&l->load, l->ntasks - l->nproxies, __ATOMIC_RELAXED);
}

int coro__spawn(coro__loop *l, coro_task **out, coro_fn fn, void *arg, const coro_task_options *opt,
                coro_group *g, const char *file, int line)
{
    coro_task *t = task_named(l, opt);
    int rc;

    if (t == NULL)
        return CORO_ENOMEM;
    rc = coro__worker_get(l, t, opt);
    if (rc != 0) {
        coro__free(t->name);
        task_unused(l, t);
        return rc;
    }
    t->fn = fn;
    t->arg = arg;
    t->file = file;
    t->line = line;
    t->detached = out == NULL;
    coro__group_init(&t->own, t, 1);
    if (g != NULL) {
        coro__member_add(g, t);
        t->canceled = g->canceled;
        t->own.canceled = t->canceled;
    }
    list(l, t);
    t->state = CORO__T_PARKED;
    coro__ready(t, 0);
    if (out != NULL)
        *out = t->h; /* the handle: the record stays the runtime's */
    return 0;
}

coro_task *coro__proxy_new(coro__loop *l, const coro_task_options *opt, coro_group *g,
                           const char *file, int line, int detached)
{
    coro_task *t = task_named(l, opt);

    if (t == NULL)
        return NULL;
    t->file = file;
    t->line = line;
    t->detached = detached;
    coro__group_init(&t->own, t, 1);
    coro__member_add(g, t);
    t->canceled = g->canceled;
    t->own.canceled = t->canceled;
    l->nproxies++; /* before list: a proxy is no load here */
    list(l, t);
    t->state = CORO__T_ELSEWHERE;
    return t;
}

/* coro_spawn with a placement: on this loop, or another (cross.c). Out of
 * line, so that the common spawn stays a tail call. */
static CORO__NOINLINE int spawn_placed(coro__loop *l, coro_task **out, coro_fn fn, void *arg,
                                       const coro_task_options *opt, coro_group *g,
                                       const char *file, int line)
{
    int err;
    coro__loop *to = coro__run_place(l, opt, &err);

    if (to == NULL)
        return err;
    if (to != l)
        return coro__cross_spawn(l, to, out, fn, arg, opt, g, file, line);
    return coro__spawn(l, out, fn, arg, opt, g, file, line);
}

int coro_spawn_at(coro_task **out, coro_fn fn, void *arg, const coro_task_options *opt,
                  const char *file, int line)
{
    coro__loop *l = coro__loop_tls;
    coro_task *cur = l != NULL ? l->current : NULL;
    coro_group *g;

    if (out != NULL)
        *out = NULL;
    if (cur == NULL)
        return CORO_ENOLOOP;
    if (fn == NULL)
        return CORO_EINVAL;
    g = (opt != NULL && opt->group != NULL) ? opt->group : &cur->own;
    if (g->owner == NULL || g->owner->loop != l || g->owner->state == CORO__T_DONE)
        return CORO_EINVAL;
    if (l->stopping)
        return CORO_ECANCELED;
    if (CORO__UNLIKELY(opt != NULL && (opt->loop != NULL || (opt->flags & CORO_ANY_LOOP))))
        return spawn_placed(l, out, fn, arg, opt, g, file, line);
    return coro__spawn(l, out, fn, arg, opt, g, file, line);
}

/* ---- await, cancel, sleep, names ---- */

/* t is done: hands its end to the awaiting task self and frees it. */
static int take_end(coro_task *self, coro_task *t, void **result)
{
    int rc = t->status;

    if (result != NULL)
        *result = rc == CORO_EERROR ? t->errvalue : t->result;
    if (rc == CORO_EERROR)
        coro__error_set(self->co, t->errvalue, coro__msg_of(t->errmsg));
    coro__task_free(t);
    return rc;
}

int coro_await_until(coro_task *h, void **result, coro_time deadline)
{
    int err, rc;
    coro_task *self = coro__blocking_begin(&err), *t;

    if (self == NULL)
        return err;
    t = coro__handle_task(h); /* NULL for NULL */
    if (t == NULL || t->loop != self->loop || t->detached ||
        (t->link != NULL && t->state != CORO__T_ELSEWHERE))
        return CORO_EINVAL; /* the last: a task its proxy's loop awaits */
    if (t == self)
        return CORO_ESELF;
    if (err != 0)
        return err; /* canceled: even a finished t is left for the owner */
    if (t->awaited)
        return CORO_EBUSY; /* even once t is done: its end is that awaiter's */
    if (t->state == CORO__T_DONE)
        return take_end(self, t, result);
    t->awaited = 1;
    rc = coro__wait(self, &t->awaiter, NULL, 1, "await", t, deadline, CORO__WAIT_CANCEL);
    if (t->state == CORO__T_DONE)
        return take_end(self, t, result);
    t->awaited = 0;
    return rc;
}

int coro_await(coro_task *t, void **result)
{
    return coro_await_until(t, result, CORO_NEVER);
}

int coro_cancel(coro_task *h)
{
    coro__loop *l = coro__loop_tls;
    coro_task *t;

    if (l == NULL)
        return CORO_ENOLOOP;
    t = coro__handle_task(h); /* NULL for NULL */
    if (t == NULL || t->loop != l)
        return CORO_EINVAL;
    if (t->state != CORO__T_DONE)
        coro__cancel_task(t);
    return 0;
}

int coro_sleep_until(coro_time deadline)
{
    int err, rc;
    coro_task *self = coro__blocking_begin(&err);

    if (self == NULL || err != 0)
        return err;
    rc = coro__wait(self, NULL, NULL, 0, "sleep", NULL, deadline, CORO__WAIT_CANCEL);
    return rc == CORO_ETIMEDOUT ? 0 : rc;
}

int coro_sleep(coro_time d)
{
    return coro_sleep_until(coro_after(d));
}

coro_task *coro_task_self(void)
{
    coro__loop *l = coro__loop_tls;

    return l != NULL && l->current != NULL ? l->current->h : NULL;
}

const char *coro_task_name(const coro_task *h)
{
    const coro_task *t = coro__handle_task(h);

    return t != NULL ? coro__task_name(t) : NULL;
}

unsigned long long coro_task_id(const coro_task *h)
{
    const coro_task *t = coro__handle_task(h);

    return t != NULL ? t->id : 0;
}

/* ---- shutdown after a deadlock ---- */

static void forget_waits(coro_task *t)
{
    if (t->x.n > 0)
        coro__xwait_forget(t); /* those in shared queues, under their locks */
    for (int i = 0; i < CORO__SELECT_INLINE; i++)
        coro__waitq_remove(&t->w[i]);
    for (int i = 0; i < t->nwx; i++)
        coro__waitq_remove(&t->wx[i]);
    coro__timer_del(t->loop, &t->timer);
    coro__timer_del(t->loop, &t->own.deadline);
    for (coro_group *g = t->groups; g != NULL; g = g->next)
        coro__timer_del(t->loop, &g->deadline);
}

void coro__shutdown(coro__loop *l)
{
    coro_task *t;

    l->stopping = 1;
    for (t = l->all; t != NULL; t = t->all_next)
        forget_waits(t);
    for (t = l->all; t != NULL; t = t->all_next) {
        fprintf(stderr, "coro: task %llu \"%s\" never finished; closing it\n", t->id,
                coro__task_name(t));
        if (t->co != NULL) {
            l->current = t; /* its cleanups run as the task; they cannot block */
            coro__set_worker(t->co, 0);
            (void)coro_close(t->co);
            l->current = NULL;
        }
    }
    for (t = l->all; t != NULL; t = t->all_next) {
        coro__timer_del(l, &t->own.deadline); /* a cleanup may have set one */
        coro__group_drop(&t->own);
        while (t->groups != NULL) {
            coro_group *g = t->groups;
            t->groups = g->next;
            coro__timer_del(l, &g->deadline);
            coro__group_drop(g);
            coro__free(g->errmsg);
            coro__free(g);
        }
    }
    while ((t = l->all) != NULL) {
        t->group = NULL;
        coro__task_free(t);
    }
    if (l->main != NULL && l->main->state == CORO__T_DONE)
        coro__task_free(l->main); /* done before the others: no longer in l->all */
    l->main = NULL;
}
