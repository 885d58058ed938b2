/*
 * cross.c - tasks across loops: a task spawned onto another loop of the
 * run, owned, awaited and canceled from the loop that spawned it.
 *
 * Design. A task never moves, and nothing of a loop is touched by another
 * loop's thread, so a task spawned from loop A onto loop B is two records:
 * a proxy on A, which is what the spawner holds, a member of its group like
 * any task (state CORO__T_ELSEWHERE, no coroutine), and the task itself on
 * B, which owns what it spawns like any task but has no group there. A
 * link joins them, and three messages, embedded in it so that none needs
 * memory once the spawn succeeded, cross between the loops' inboxes:
 *
 *   spawn   A -> B   B starts the task (canceled if its group already is)
 *   cancel  A -> B   the proxy was canceled: so is the task (at most once)
 *   done    B -> A   the task is done (its end: status, result, error);
 *                    A ends the proxy with it, which does what any task's
 *                    end does there: wakes its awaiter, counts down its
 *                    group, fails the group, frees a detached proxy
 *
 * So every rule of ownership (no orphans, first error cancels siblings,
 * group deadlines, cancellation to any depth) holds across loops by the
 * same code as on one. A's messages to B arrive in the order A sent them,
 * so a cancel never overtakes its spawn.
 *
 * The link is counted: the proxy's side, the task's side (the spawn and
 * done messages carry it), and a cancel in flight. Each side touches only
 * its own fields (proxy: A's; task: B's) plus the end, which B writes
 * before it sends done and A reads after it is delivered.
 *
 * Rejected: running the task on B with its group's bookkeeping done on A
 * under a lock (every group operation would lock, on one loop too); moving
 * the spawner's group to a shared, atomic form (the same, and nested groups
 * would need it at every depth).
 */
#include <stdio.h>
#include <string.h>

#include "group.h"

typedef struct coro__link {
    coro__msg spawn, cancel, done;
    coro__loop *from, *to;
    unsigned long refs;
    /* A's */
    coro_task *proxy;
    int cancel_sent;
    /* B's */
    coro_task *task;
    /* what to start, written by A before the spawn message */
    coro_fn fn;
    void *arg;
    char *name;
    size_t stack_size;
    unsigned flags;
    const char *file;
    int line;
    unsigned long long id;
    int canceled;
    /* the end, written by B before the done message */
    int status;
    void *result;
    char *errmsg;
    void *errvalue;
} coro__link;

static void unref(coro__link *k, unsigned long n)
{
    if (__atomic_sub_fetch(&k->refs, n, __ATOMIC_ACQ_REL) != 0)
        return;
    coro__free(k->name);
    coro__free(k->errmsg);
    coro__free(k);
}

/* B ends the task's side: the end goes to A. */
static void send_done(coro__link *k)
{
    coro__run_send(k->from, &k->done);
}

/* ---- on B ---- */

static void deliver_spawn(coro__loop *l, coro__msg *m)
{
    coro__link *k = coro__container_of(m, coro__link, spawn);
    coro_task_options o = {k->name, k->stack_size, NULL, k->flags & ~CORO_ANY_LOOP, NULL};
    coro_task *t;
    int rc;

    if (k->flags & CORO_ANY_LOOP) /* counted in load from here */
        __atomic_sub_fetch(&l->incoming, 1, __ATOMIC_RELAXED);
    if (l->stopping) { /* shut down after a deadlock: nothing starts */
        unref(k, 1);
        return;
    }
    rc = coro__spawn(l, &t, k->fn, k->arg, &o, NULL, k->file, k->line);
    if (rc != 0) {
        char msg[192];

        snprintf(msg, sizeof msg, "the task could not start on loop %d: %s", l->index,
                 coro_strerror(rc));
        k->status = CORO_EERROR;
        k->errmsg = coro__strdup(msg);
        send_done(k);
        return;
    }
    t = coro__handle_task(t); /* coro__spawn gives a handle */
    t->id = k->id;
    if (t->co != NULL) /* else it gets one, with this identity, when it starts */
        coro__set_identity(t->co, t->name, t->id);
    t->link = k;
    if (k->canceled)
        t->canceled = t->own.canceled = 1;
    k->task = t;
}

static void deliver_cancel(coro__loop *l, coro__msg *m)
{
    coro__link *k = coro__container_of(m, coro__link, cancel);

    if (!l->stopping && k->task != NULL)
        coro__cancel_task(k->task);
    unref(k, 1);
}

void coro__cross_done(coro_task *t)
{
    coro__link *k = t->link;

    k->status = t->status;
    k->result = t->result;
    k->errmsg = t->errmsg;
    k->errvalue = t->errvalue;
    t->errmsg = NULL;
    k->task = NULL;
    t->link = NULL;
    coro__task_free(t);
    send_done(k);
}

/* ---- on A ---- */

static void deliver_done(coro__loop *l, coro__msg *m)
{
    coro__link *k = coro__container_of(m, coro__link, done);
    coro_task *p = k->proxy;

    if (l->stopping || p == NULL) { /* the proxy went in a deadlock's shutdown */
        unref(k, 1);
        return;
    }
    k->proxy = NULL;
    p->link = NULL;
    l->nproxies--; /* an ordinary task's record from here to its end */
    if (k->status == CORO_ETASKCANCELED)
        p->canceled = 1;
    if (k->status == CORO_EERROR)
        coro__task_ended(p, CORO_EERROR, k->errvalue, k->errmsg);
    else
        coro__task_ended(p, k->status == CORO_ECANCELED ? CORO_ECANCELED : 0, k->result, NULL);
    unref(k, 2); /* the proxy's side and the task's */
}

int coro__cross_spawn(coro__loop *l, coro__loop *to, coro_task **out, coro_fn fn, void *arg,
                      const coro_task_options *opt, coro_group *g, const char *file, int line)
{
    coro__link *k = coro__malloc(sizeof *k);
    coro_task *p;

    if (k == NULL)
        return CORO_ENOMEM;
    memset(k, 0, sizeof *k);
    if (opt->name != NULL && opt->name[0] != '\0' && (k->name = coro__strdup(opt->name)) == NULL) {
        coro__free(k);
        return CORO_ENOMEM;
    }
    if ((p = coro__proxy_new(l, opt, g, file, line, out == NULL)) == NULL) {
        coro__free(k->name);
        coro__free(k);
        return CORO_ENOMEM;
    }
    k->spawn.deliver = deliver_spawn;
    k->cancel.deliver = deliver_cancel;
    k->done.deliver = deliver_done;
    k->from = l;
    k->to = to;
    k->refs = 2;
    k->proxy = p;
    k->fn = fn;
    k->arg = arg;
    k->stack_size = opt->stack_size;
    k->flags = opt->flags;
    k->file = file;
    k->line = line;
    k->id = p->id;
    k->canceled = p->canceled;
    p->link = k;
    /* For the next placement: only a placed task counts (an update of a
     * line both loops write, twice per spawn, would cost every spawn onto
     * a given loop too). */
    if (opt->flags & CORO_ANY_LOOP)
        __atomic_add_fetch(&to->incoming, 1, __ATOMIC_RELAXED);
    coro__run_send(to, &k->spawn);
    if (out != NULL)
        *out = p->h;
    return 0;
}

void coro__cross_cancel(coro_task *p)
{
    coro__link *k = p->link;

    if (k == NULL || k->cancel_sent || p->loop->stopping)
        return; /* stopping: every loop is shutting down its own tasks */
    k->cancel_sent = 1;
    __atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
    coro__run_send(k->to, &k->cancel);
}

void coro__cross_drop(coro_task *t)
{
    coro__link *k = t->link;

    t->link = NULL;
    if (t->state == CORO__T_ELSEWHERE) { /* a proxy (A's side) */
        k->proxy = NULL;
        t->loop->nproxies--;
    } else
        k->task = NULL;
    unref(k, 1);
}
