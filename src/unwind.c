/*
 * unwind.c - protected scopes (coro_pcall and every coroutine body), error
 * unwinding, and cleanups (coro_defer).
 *
 * Design. A protected scope pushes a frame, holding a jmp_buf, on the
 * running coroutine's own stack, and remembers the head of the coroutine's
 * cleanup list. Raising an error longjmps to the innermost frame; closing a
 * coroutine longjmps to the base frame of its body, past any pcall (close is
 * not an error and no pcall catches it). Either way the frame then runs the
 * cleanups registered since it began, newest first. Each cleanup is taken
 * off the list before it runs, so a cleanup that raises lands in the same
 * frame, replaces the error in flight, and the loop goes on with the rest:
 * Lua 5.4's rule for to-be-closed variables.
 *
 * Because a coroutine has its own stack, a frame stays valid while the
 * coroutine is suspended: yielding inside coro_pcall needs nothing special.
 *
 * Alternatives rejected: C++ exceptions or _Unwind_ForcedUnwind (not C, and
 * they need unwind tables everywhere); a return-code convention (every
 * caller would have to propagate errors by hand, which is what protected
 * mode exists to avoid). setjmp/longjmp is what Lua itself uses in C.
 */
#include "internal.h"

static void run_cleanups(coro *co, coro__defer *mark)
{
    while (co->defers != mark) {
        coro__defer *d = co->defers;
        void (*fn)(void *) = d->fn;
        void *arg = d->arg;

        co->defers = d->next;
        coro__free(d);
        fn(arg);
    }
}

/*
 * Runs fn(arg) as a protected scope of co, which is running. Returns 0 with
 * *out = the result, CORO_EERROR with *out = the error value, or
 * CORO__UNWIND_CLOSE when coro_close unwound through it (the base frame only).
 * The frame's fields are reached through co->frame in coro__throw, so they
 * live in memory across the longjmp (the pattern Lua's luaD_rawrunprotected
 * relies on).
 */
int coro__protect(coro *co, coro_fn fn, void *arg, void **out)
{
    coro__frame f;

    f.prev = co->frame;
    f.defers = co->defers;
    f.status = 0;
    co->frame = &f;
    if (setjmp(f.jb) == 0) {
        void *r = fn(arg);
        if (out != NULL)
            *out = r;
        coro__error_clear(co); /* the scope ended well: errors it caught are done */
    }
    run_cleanups(co, f.defers);
    co->frame = f.prev;
    if (f.status == CORO_EERROR && out != NULL)
        *out = co->errvalue;
    return f.status;
}

/* Unwinds co (the running coroutine) to its innermost frame, or for
 * CORO__UNWIND_CLOSE to its base frame. co must have a frame. */
void coro__throw(coro *co, int status)
{
    coro__frame *f = co->frame;

    coro__assert(f != NULL);
    if (status == CORO__UNWIND_CLOSE) {
        while (f->prev != NULL)
            f = f->prev;
        co->frame = f;
    }
    f->status = status;
    longjmp(f->jb, 1);
}

int coro_pcall(coro_fn fn, void *arg, void **out)
{
    coro__thread *t;

    if (fn == NULL)
        return CORO_EINVAL;
    t = coro__thread_get();
    if (t == NULL)
        return CORO_ENOMEM;
    return coro__protect(t->current, fn, arg, out);
}

int coro_defer(void (*fn)(void *arg), void *arg)
{
    coro__thread *t;
    coro__defer *d;
    coro *cur;

    if (fn == NULL)
        return CORO_EINVAL;
    t = coro__thread_get();
    if (t == NULL)
        return CORO_ENOMEM;
    cur = t->current;
    if (cur->frame == NULL)
        return CORO_ENOHANDLER;
    d = coro__malloc(sizeof *d);
    if (d == NULL)
        return CORO_ENOMEM;
    d->fn = fn;
    d->arg = arg;
    d->next = cur->defers;
    cur->defers = d;
    return 0;
}

/* Frees cleanup records without running them (a coroutine destroyed on a
 * thread that cannot run it). */
void coro__defer_free_all(coro *co)
{
    while (co->defers != NULL) {
        coro__defer *d = co->defers;
        co->defers = d->next;
        coro__free(d);
    }
}
