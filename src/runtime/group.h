/*
 * group.h - the parts of task groups that run on every task (group.c has
 * the rest): a task's own group made at spawn, joining a group and leaving
 * it, counting what a task still owns, releasing a group whose members are
 * done, and the errors that move from a member to its group and owner.
 * Inline, because spawn and completion, which run them, are among the
 * runtime's hottest paths (sched.c).
 */
#ifndef CORO_GROUP_H
#define CORO_GROUP_H

#include "sched.h"

static inline void coro__timer_clear(coro__timer *tm)
{
    tm->when = tm->key = 0;
    tm->seq = tm->hseq = 0;
    tm->index = 0;
    tm->dead = 0;
    tm->fire = NULL;
}

static inline void coro__group_init(coro_group *g, coro_task *owner, int implicit)
{
    /* Field by field, not memset: this runs on every spawn, and a memset
     * of a variable-size record compiles to `rep stos`, whose start-up
     * alone costs more than these stores. */
    g->owner = owner;
    g->prev = g->next = NULL;
    g->first = g->last = NULL;
    g->live = 0;
    g->implicit = implicit;
    g->canceled = owner != NULL && owner->canceled;
    g->timed_out = 0;
    g->err = 0;
    g->errmsg = NULL;
    g->errvalue = NULL;
    coro__timer_clear(&g->deadline);
    g->waiters.first = g->waiters.last = NULL;
}

static inline void coro__member_add(coro_group *g, coro_task *t)
{
    t->group = g;
    t->mem_next = NULL;
    t->mem_prev = g->last;
    if (g->last != NULL)
        g->last->mem_next = t;
    else
        g->first = t;
    g->last = t;
    g->live++;
}

static inline void coro__member_remove(coro_task *t)
{
    coro_group *g = t->group;

    if (g == NULL)
        return;
    if (t->mem_prev != NULL)
        t->mem_prev->mem_next = t->mem_next;
    else
        g->first = t->mem_next;
    if (t->mem_next != NULL)
        t->mem_next->mem_prev = t->mem_prev;
    else
        g->last = t->mem_prev;
    t->group = NULL;
}

/* The live members of every group t owns: t is done at 0. */
static inline size_t coro__owned_live(const coro_task *t)
{
    size_t n = t->own.live;

    for (const coro_group *g = t->groups; g != NULL; g = g->next)
        n += g->live;
    return n;
}

/* ---- errors that move between tasks and groups ---- */

static inline void coro__error_keep(int *status, char **msg, void **value, const char *m, void *v)
{
    *status = CORO_EERROR;
    *msg = m != NULL ? coro__strdup(m) : NULL;
    *value = v;
}

static inline const char *coro__msg_of(const char *m)
{
    return m != NULL ? m : "not enough memory for the error message";
}

/* t has no error of its own yet: it takes this one. */
static inline void coro__inherit(coro_task *t, const char *msg, void *value)
{
    if (t->status != CORO_EERROR)
        coro__error_keep(&t->status, &t->errmsg, &t->errvalue, coro__msg_of(msg), value);
}

/* g's members are all done: frees the ones nobody will await (a failed one
 * fails `heir`, if given), and lets go of those being awaited. */
static CORO__ALWAYS_INLINE void coro__group_release(coro_group *g, coro_task *heir)
{
    coro_task *m;

    coro__timer_del(g->owner->loop, &g->deadline);
    while ((m = g->first) != NULL) {
        coro__member_remove(m);
        if (m->awaited)
            continue; /* its awaiter frees it */
        if (heir != NULL && m->status == CORO_EERROR)
            coro__inherit(heir, m->errmsg, m->errvalue);
        coro__task_free(m);
    }
    if (g->errmsg != NULL) {
        coro__free(g->errmsg);
        g->errmsg = NULL;
    }
}

/* group.c */
/* A member m of g failed: the group's first error, and its siblings (and,
 * for a task's own group, the task) are canceled. */
CORO__HIDDEN void coro__group_fail(coro_group *g, coro_task *m);
/* The same for a failure that is no member's: msg (copied). */
CORO__HIDDEN void coro__group_fail_msg(coro_group *g, const char *msg);
/* Takes g off its owner's list, releases it and frees it. */
CORO__HIDDEN void coro__group_free(coro_group *g);
/* At a deadlocked loop's shutdown: frees g's finished members (the others
 * are freed as tasks of the loop). */
CORO__HIDDEN void coro__group_drop(coro_group *g);

#endif /* CORO_GROUP_H */
