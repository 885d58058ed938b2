/*
 * unwind.c - protected scopes (coro_pcall and every coroutine body), error
 * unwinding, and cleanups (coro_defer).
 *
 * Design. A protected scope pushes a frame, holding a jmp_buf, on the
 * running coroutine's own stack, and remembers the head of the coroutine's
 * cleanup list. Raising an error unwinds to the innermost frame; closing a
 * coroutine unwinds to the base frame of its body, past any pcall (close is
 * not an error and no pcall catches it). Either way the cleanups registered
 * since that frame began run first, newest first, at the point of the raise
 * (so the locals they may point at are still live), and then the longjmp
 * lands in the frame. Each cleanup is taken off the list before it runs, so
 * a cleanup that raises targets the same frame, replaces the error in
 * flight, and the rest still run: Lua 5.4's rule for to-be-closed variables.
 * On a normal return the frame runs them after fn has returned.
 *
 * The cleanups run in one loop, which a raising cleanup jumps back into
 * (the frame's cleanup_jb) instead of starting the rest from inside its
 * own raise: the stack stays as deep as one cleanup however many of them
 * raise, as Lua closes its variables in a loop (a recursive version
 * overflowed a 256 KiB stack after a few hundred raising cleanups).
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

/* Moves co's error out of it: the caller owns what is returned. */
static coro__err take(coro *co)
{
    coro__err e = co->err;

    co->err.msg = NULL;
    co->err.value = NULL;
    co->err.owned = 0;
    return e;
}

/* Shows e as co's error without giving co ownership of it. */
static void lend(coro *co, const coro__err *e)
{
    co->err = *e;
    co->err.owned = 0;
}

/*
 * Runs the cleanups registered since f began, newest first. While f unwinds
 * an error, each cleanup sees it as the coroutine's error (lent by f), and
 * whatever a cleanup leaves there (a nested coro_pcall's error) is dropped
 * afterwards, so the error in flight stays f's.
 */
static void run_cleanups(coro *co, coro__frame *f)
{
    jmp_buf jb;
    jmp_buf *outer = f->cleanup_jb;

    /* A cleanup that raises lands here (coro__throw has made its error
     * f's); co and f are not changed after the setjmp, the loop's state is
     * in memory. */
    f->cleanup_jb = &jb;
    (void)setjmp(jb);
    while (co->defers != f->defers) {
        coro__defer *d = co->defers;
        void (*fn)(void *) = d->fn;
        void *arg = d->arg;

        co->defers = d->next;
        coro__free(d);
        coro__error_clear(co);
        if (f->status == CORO_EERROR)
            lend(co, &f->err);
        fn(arg);
        coro__error_clear(co);
    }
    f->cleanup_jb = outer;
}

/* Opens a protected scope of co (the running coroutine) in f. The scope
 * keeps the coroutine's error as it was (lent, so still visible) and puts
 * it back when it ends well: an error caught earlier survives a later
 * successful pcall, and a pcall inside a cleanup cannot disturb the error
 * being unwound. When the scope fails, its error replaces the old one. */
void coro__scope_begin(coro *co, coro__frame *f, int base)
{
    f->prev = co->frame;
    f->defers = co->defers;
    f->status = 0;
    f->base = base;
    f->jb = NULL;
    f->cleanup_jb = NULL;
    f->err.msg = NULL;
    f->err.value = NULL;
    f->err.owned = 0;
    f->saved = take(co);
    lend(co, &f->saved);
    co->frame = f;
}

/* The frame is reached: a pcall's by longjmp; a body's base frame needs no
 * jump at all: the coroutine is over, so it dies right here (coro__die
 * switches away for good), which spares every coroutine a setjmp at its
 * start. */
static CORO__NORETURN void land(coro *co, coro__frame *f)
{
    if (f->base)
        coro__die(co, coro__scope_end(co, f), NULL);
    longjmp(*f->jb, 1);
}

/* The cleanups of a scope whose function returned; one that raises turns
 * the return into that error, which unwinds to f like any other. */
void coro__scope_cleanups(coro *co, coro__frame *f)
{
    run_cleanups(co, f);
    if (f->status != 0)
        land(co, f);
}

/* Closes the scope after it returned or unwound; returns its status: 0,
 * CORO_EERROR (the error is now co's) or CORO__UNWIND_CLOSE. */
int coro__scope_end(coro *co, coro__frame *f)
{
    co->frame = f->prev;
    coro__error_clear(co);
    if (f->status == CORO_EERROR) {
        coro__err_drop(&f->saved);
        co->err = f->err;
    } else {
        co->err = f->saved;
    }
    return f->status;
}

/*
 * Unwinds co (the running coroutine) to its innermost frame, or for
 * CORO__UNWIND_CLOSE to its base frame. co must have a frame. A raised error
 * is in co's error slot; the frame takes it over (replacing the one a
 * raising cleanup interrupted).
 *
 * The cleanups run here, before anything is unwound, while the frames being
 * unwound are still live: a cleanup may point at their locals. A cleanup
 * that raises jumps back into their loop, which goes on with the rest.
 * Then the frame is reached (land).
 */
void coro__throw(coro *co, int status)
{
    coro__frame *f = co->frame;

    coro__assert(f != NULL);
    if (status == CORO__UNWIND_CLOSE) {
        /* The frames skipped over never end: drop the errors they hold. */
        coro__error_clear(co);
        for (;;) {
            coro__err_drop(&f->err);
            if (f->prev == NULL)
                break;
            coro__err_drop(&f->saved);
            f = f->prev;
        }
        co->frame = f;
    }
    if (status == CORO_EERROR) {
        coro__err_drop(&f->err);
        f->err = take(co);
    }
    f->status = status;
    if (f->cleanup_jb != NULL)
        longjmp(*f->cleanup_jb, 1); /* a cleanup raised: back to the loop */
    run_cleanups(co, f);
    land(co, f);
}

/* Runs fn(arg) as a protected scope of co: returns 0 with *out = the
 * result, or CORO_EERROR with *out = the error value. The frame's fields
 * are reached through co->frame in coro__throw, so they live in memory
 * across the longjmp (the pattern Lua's luaD_rawrunprotected relies on). */
static int protect(coro *co, coro_fn fn, void *arg, void **out)
{
    coro__frame f;
    jmp_buf jb;
    int st;

    coro__scope_begin(co, &f, 0);
    f.jb = &jb;
    if (setjmp(jb) == 0) {
        void *r = fn(arg);
        if (out != NULL)
            *out = r;
        coro__scope_return(co, &f);
    }
    st = coro__scope_end(co, &f);
    if (st == CORO_EERROR && out != NULL)
        *out = co->err.value;
    return st;
}

int coro_pcall(coro_fn fn, void *arg, void **out)
{
    coro__thread *t;

    if (fn == NULL)
        return CORO_EINVAL;
    t = coro__thread_get();
    if (t == NULL)
        return CORO_ENOMEM;
    return protect(t->current, fn, arg, out);
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
