/*
 * group.c - task groups (trio's nurseries): open, deadline, cancel, wait,
 * the cancellation of a task and of everything it owns, a member's failure
 * and freeing. What runs on every task (membership, release, the errors a
 * member hands on) is inline in group.h, for sched.c's spawn and end.
 *
 * A group is owned by the task that opened it and listed in that task's
 * `groups` until waited; sched.c's completion rules (a task is done only
 * when every group it owns has no live member) make any group its owner
 * forgot be waited for at the owner's end. A deadline is a timer whose
 * firing cancels the group and marks it timed out; nested groups each have
 * their own, and canceling an outer group cancels the inner ones through
 * their owners, so the earlier deadline wins.
 */
#include <string.h>

#include "group.h"

/* ---- cancellation ---- */

/*
 * Cancellation reaches everything a task owns, to any depth (a sieve of
 * stages, each spawning the next, is a chain thousands deep): an explicit
 * worklist through the tasks' cancel_next links, not recursion, so the
 * canceling task's stack does not grow with the depth.
 */
static void mark_group(coro_group *g, coro_task **work)
{
    if (g->canceled)
        return;
    g->canceled = 1;
    for (coro_task *m = g->first; m != NULL; m = m->mem_next)
        if (m->state != CORO__T_DONE && !m->canceled) {
            m->canceled = 1;
            m->cancel_next = *work;
            *work = m;
        }
}

static void cancel_all(coro_task *work)
{
    while (work != NULL) {
        coro_task *t = work;

        work = t->cancel_next;
        t->cancel_next = NULL;
        mark_group(&t->own, &work);
        for (coro_group *g = t->groups; g != NULL; g = g->next)
            mark_group(g, &work);
        if (coro__parked(t) && t->cancelable)
            coro__ready(t, CORO_ECANCELED);
        else if (t->state == CORO__T_ELSEWHERE)
            coro__cross_cancel(t); /* its task, on its loop */
    }
}

void coro__cancel_group(coro_group *g)
{
    coro_task *work = NULL;

    mark_group(g, &work);
    cancel_all(work);
}

void coro__cancel_task(coro_task *t)
{
    if (t->canceled)
        return;
    t->canceled = 1;
    cancel_all(t);
}

/* ---- a member's failure, freeing ---- */

static void fail(coro_group *g, const char *msg, void *value)
{
    if (g->err == 0)
        coro__error_keep(&g->err, &g->errmsg, &g->errvalue, coro__msg_of(msg), value);
    coro__cancel_group(g);
    if (g->implicit)
        coro__cancel_task(g->owner);
}

void coro__group_fail(coro_group *g, coro_task *m)
{
    fail(g, m->errmsg, m->errvalue);
}

void coro__group_fail_msg(coro_group *g, const char *msg)
{
    fail(g, msg, NULL);
}

void coro__group_free(coro_group *g)
{
    coro_task *o = g->owner;
    coro_group **pp = &o->groups;

    while (*pp != NULL && *pp != g)
        pp = &(*pp)->next;
    if (*pp == g)
        *pp = g->next;
    coro__group_release(g, NULL);
    coro__free(g);
}

void coro__group_drop(coro_group *g)
{
    coro_task *m, *next;

    for (m = g->first; m != NULL; m = next) {
        next = m->mem_next;
        coro__member_remove(m);
        if (m->state == CORO__T_DONE)
            coro__task_free(m);
    }
}

/* ---- open, deadline, cancel, wait ---- */

int coro_group_open(coro_group **out)
{
    coro__loop *l = coro__loop_tls;
    coro_task *cur = l != NULL ? l->current : NULL;
    coro_group *g;

    if (out == NULL)
        return CORO_EINVAL;
    *out = NULL;
    if (cur == NULL)
        return CORO_ENOLOOP;
    g = coro__malloc(sizeof *g);
    if (g == NULL)
        return CORO_ENOMEM;
    coro__group_init(g, cur, 0);
    g->next = cur->groups;
    cur->groups = g;
    *out = g;
    return 0;
}

static void deadline_passed(coro__timer *tm)
{
    coro_group *g = coro__container_of(tm, coro_group, deadline);

    if (!g->canceled)
        g->timed_out = 1;
    coro__cancel_group(g);
}

int coro_group_deadline(coro_group *g, coro_time deadline)
{
    coro__loop *l = coro__loop_tls;

    if (g == NULL || l == NULL || g->owner->loop != l)
        return CORO_EINVAL;
    if (l->stopping)
        return CORO_ECANCELED; /* the deadlock's shutdown: no timer will fire */
    g->deadline.fire = deadline_passed;
    if (deadline == CORO_NEVER) {
        coro__timer_del(l, &g->deadline);
        return 0;
    }
    if (deadline <= coro__clock(l)) {
        coro__timer_del(l, &g->deadline);
        deadline_passed(&g->deadline);
        return 0;
    }
    return coro__timer_add(l, &g->deadline, deadline);
}

int coro_group_cancel(coro_group *g)
{
    coro__loop *l = coro__loop_tls;

    if (g == NULL || l == NULL || g->owner->loop != l)
        return CORO_EINVAL;
    coro__cancel_group(g);
    return 0;
}

int coro_group_wait(coro_group *g)
{
    int err, rc;
    coro_task *self = coro__blocking_begin(&err);

    if (self == NULL)
        return err;
    if (g == NULL || g->implicit)
        return CORO_EINVAL;
    if (g->owner != self)
        return CORO_EPERM;
    while (g->live > 0) { /* not cancelable: no member outlives the group */
        rc = coro__wait(self, &g->waiters, NULL, 1, "group wait", g, CORO_NEVER, 0);
        if (rc != 0)
            return rc; /* cannot suspend here; the owner's end waits */
    }
    rc = g->err != 0    ? CORO_EERROR
         : g->timed_out ? CORO_ETIMEDOUT
         : g->canceled  ? CORO_ECANCELED
                        : 0;
    if (rc == CORO_EERROR)
        coro__error_set(self->co, g->errvalue, g->errmsg != NULL ? g->errmsg : "not enough memory");
    coro__group_free(g);
    return rc;
}

int coro_group_wait_until(coro_group *g, coro_time deadline)
{
    int rc;

    if (g != NULL && !g->implicit && g->owner != coro__self())
        return coro__self() == NULL ? CORO_ENOLOOP : CORO_EPERM; /* nothing moved */
    if (g != NULL && !g->implicit &&
        (!coro__timer_armed(&g->deadline) || deadline < g->deadline.when)) {
        rc = coro_group_deadline(g, deadline);
        if (rc != 0)
            return rc;
    }
    return coro_group_wait(g);
}
