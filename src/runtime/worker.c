/*
 * worker.c - the coroutines tasks run on, and the loop's pool of idle ones.
 *
 * Design. A task does not own a coroutine for life: it runs on a worker, a
 * coroutine whose body is a loop that runs one task function after another
 * inside a protected scope (so an error or a cleanup of a task's ends the
 * task, not the worker). The scope is set up once for a run of tasks, not
 * per task: between two tasks it holds no cleanup and no error, so it is as
 * good as new, and a setjmp per task is spared; an error ends the scope
 * and the worker opens another for its next task. When a task's
 * function returns, the worker reports the end (coro__task_ended), then
 * goes back to the loop's pool and switches away; coro_spawn takes a worker
 * from the pool when there is one. So spawning a task costs no coroutine
 * creation, no stack from the pool and no context to build, and its end
 * costs no coroutine death: Go reuses its g structures the same way.
 *
 * A worker's identity (name and id, which stack-overflow reports and
 * coro_running() show) is that of the task it runs. Workers with a stack
 * of another size or in copy-stack mode are not pooled: they retire (their
 * coroutine ends) after their task. At most IDLE_MAX workers wait in the
 * pool; more retire, as do all of them when the loop ends.
 *
 * A burst of spawns (a spawn that finds CORO__DEFER_QUEUE tasks ready
 * before it and no idle worker) leaves its task without a worker until it
 * first runs: the workers of the tasks that end before it serve it, so
 * 10,000 tasks spawned at once need a few dozen stacks, not 10,000. With
 * several loops that matters beyond memory: every stack unmapped past the
 * pool's bound interrupts the other cores for a TLB shootdown, which made
 * a burst of 10,000 spawns on two loops take 80 ms instead of 10. A task
 * that cannot get a worker then ends with CORO_EERROR (canceled, if it was
 * canceled meanwhile), as a task placed on another loop that cannot start
 * there does; its function never runs. A task whose function must run once
 * its spawn succeeded (a server's connection, which owns its fd) is
 * spawned with CORO__SPAWN_NOW.
 *
 * Rejected: a coroutine per task (the first version: a create and a
 * destroy per spawn, about half of a spawn + await's cost); recycling dead
 * coroutines in the core (a dead coroutine has released its stack, and
 * Lua's semantics for a dead handle must hold).
 */
#include <stdio.h>

#include "sched.h"

#define IDLE_MAX 64

static void *worker_main(void *arg);

/* A new worker for t, when none of the pool's will do (see
 * coro__worker_get in sched.h): 0, CORO_ENOMEM or CORO_EMAPS. */
int coro__worker_new(coro_task *t, const coro_task_options *opt)
{
    coro_options co = {0, NULL, NULL, CORO__OWN_STACK};
    int rc;

    if (opt != NULL) {
        co.stack_size = opt->stack_size;
        if (opt->flags & CORO_COPY_STACK)
            co.flags = CORO_COPY_STACK;
    }
    rc = coro_create(&t->co, worker_main, &co);
    if (rc != 0)
        return rc;
    coro__set_worker(t->co, 1);
    coro__set_identity(t->co, t->name, t->id);
    return 0;
}

int coro__worker_bind(coro__loop *l, coro_task *t)
{
    int rc = l->nidle > 0 ? (t->co = l->idle[--l->nidle], 0) : coro__worker_new(t, NULL);
    char msg[192];

    l->unbound--;
    if (rc == 0) {
        coro__set_identity(t->co, t->name, t->id);
        return 1;
    }
    if (t->canceled) { /* it would only have wound down: it ends canceled */
        coro__task_ended(t, 0, NULL, NULL);
        return 0;
    }
    snprintf(msg, sizeof msg, "the task could not start: %s", coro_strerror(rc));
    coro__task_ended(t, CORO_EERROR, NULL, msg);
    return 0;
}

/* Frees worker w, which is dead or suspended (a suspended one is closed:
 * a task on it is abandoned, its cleanups run). */
void coro__worker_destroy(coro *w)
{
    coro__set_identity(w, NULL, coro_id(w)); /* the name was the task's */
    coro__set_worker(w, 0);
    (void)coro_destroy(w);
}

/* The idle worker w switches away: to the next ready task if there is
 * one, else to the loop. 0 once it is switched to again, or coro_yield's
 * error. Where the backend can, the switch is made without a call
 * (coro__ctx_park_here): w has nothing to return to after it, so none of
 * the returns that follow it, on either side, is mispredicted. */
static CORO__ALWAYS_INLINE int idle_wait(coro__loop *l, coro *w)
{
#ifdef CORO__CTX_PARK
    coro *to = coro__idle_handoff(l, w);

    if (to == NULL)
        return coro_yield(NULL, NULL);
    if (CORO__UNLIKELY(coro__copy_needed(to)))
        coro__copy_switch(w, to);
    else
        coro__ctx_park_here(&w->ctx, &to->ctx);
    coro__switched_back(w);
    return 0;
#else
    return coro__switch_away(l, w, NULL);
#endif
}

/* The worker w, whose task has ended, waits in the pool for the next one
 * (or retires). Returns that task, or NULL to retire. Inlined into its
 * callers, so that the switch away is made right from run_tasks: every
 * return between a switch and the code that resumes after it misses the
 * return-stack predictor (the other side's calls are on it). */
static CORO__ALWAYS_INLINE coro_task *idle(coro__loop *l, coro *w, int pooled)
{
    if (!pooled || l->nidle == IDLE_MAX || l->stopping) {
        l->retired = w; /* the loop frees it once it has ended */
        return NULL;
    }
    l->idle[l->nidle++] = w;
    coro__set_transfer(w, NULL);
    if (idle_wait(l, w) != 0) { /* cannot suspend: retire instead */
        l->nidle--;
        l->retired = w;
        return NULL;
    }
    return coro__transfer_value(w); /* what the resume or handoff passed */
}

/* t's function has ended with rc (0, or CORO_EERROR with the error now
 * w's): reports the end. Whether w may go back to the pool. */
static int task_end(coro__loop *l, coro *w, coro_task *t, int rc, void *out)
{
    int pooled = t->pooled;

    t->co = NULL; /* the task no longer has a coroutine */
    l->current = NULL;
    coro__task_ended(t, rc, rc == 0 ? out : w->err.value,
                     rc == 0 ? NULL : w->err.msg); /* t may be freed */
    coro__error_clear(w);
    coro__set_identity(w, NULL, w->id);
    return pooled;
}

/*
 * Runs t, and the tasks the worker w takes after it, in one protected
 * scope: a setjmp per task would cost more than the rest of a task's
 * bookkeeping. Between tasks the scope is as new: its cleanups have all
 * run and w has no error. An error raised in a task (or in one of its
 * cleanups) lands here and ends the scope; the caller opens a new one for
 * the next task. Returns that task, or NULL when w retires.
 */
static coro_task *run_tasks(coro__loop *l, coro *w, coro_task *t)
{
    coro_task *volatile cur = t; /* read after the longjmp */
    coro__frame f;
    jmp_buf jb;

    coro__scope_begin(w, &f, 0);
    f.jb = &jb;
    if (setjmp(jb) == 0) {
        do {
            t = cur;
            void *out = t->fn(t->arg);
            coro__scope_return(w, &f);
            cur = idle(l, w, task_end(l, w, t, 0, out));
        } while (cur != NULL);
        (void)coro__scope_end(w, &f);
        return NULL;
    }
    (void)coro__scope_end(w, &f); /* CORO_EERROR: the error is w's */
    return idle(l, w, task_end(l, w, cur, CORO_EERROR, NULL));
}

static void *worker_main(void *arg)
{
    coro_task *t = arg;
    coro *self = coro_running(NULL);
    coro__loop *l = t->loop;

    while (t != NULL)
        t = run_tasks(l, self, t);
    return NULL;
}

/* The loop is done: every idle worker goes. */
void coro__workers_free(coro__loop *l)
{
    while (l->nidle > 0)
        coro__worker_destroy(l->idle[--l->nidle]);
}
