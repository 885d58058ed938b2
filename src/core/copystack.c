/*
 * copystack.c - massive concurrency mode (CORO_COPY_STACK): coroutines that
 * run on one shared, guard-paged stack per thread and keep only their live
 * stack bytes while switched out.
 *
 * Design. The thread's `owner` is the copy-mode coroutine whose frames are
 * on the shared stack. Switching to another copy-mode coroutine X goes
 * through the copier, a small coroutine with a stack of its own (the copy
 * cannot run on the stack it overwrites): it saves the owner's live bytes,
 * [its saved stack pointer, top of the shared stack), into the owner's
 * buffer, copies X's back (or builds X's first frame when X has not run),
 * makes X the owner and switches to it. Copies are lazy: switching between
 * a copy-mode coroutine and one with its own stack copies nothing, so the
 * common generator / event-loop pattern (main resumes one coroutine at a
 * time) costs one copy out and one copy in per coroutine change, and a
 * ping-pong with the same coroutine costs none.
 *
 * Nothing in the copier may fail: the buffer for the bytes to save is
 * reserved before the switch starts (coro__copy_reserve), where an error can
 * still be returned with nothing changed. When the owner is the coroutine
 * switching away, its stack pointer at the switch is a little below the
 * current one; the reserve leaves room for that.
 *
 * Alternatives rejected: one shared stack per coroutine group (moves the
 * problem, not solves it); segmented or growable stacks (need compiler
 * support); copying on every switch (a ping-pong would copy twice per
 * round trip for nothing).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifdef CORO__ASAN
#include <sanitizer/asan_interface.h>
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
#endif

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define CORO__MEMCHECK 1
#endif
#endif

/* Bytes the switching owner's stack pointer may still drop between the
 * reserve and the save (the calls down to the register switch and the saved
 * registers; sanitizer builds have larger frames). */
#define SWITCH_SLACK 4096
#define COPIER_STACK ((size_t)64 * 1024)

static char *top_of(const coro__thread *t)
{
    return (char *)t->shared.lo + t->shared.size;
}

const coro__stack *coro__stack_of(const coro *co)
{
    return (co->flags & CORO__F_COPY) ? &co->thread->shared : &co->stack;
}

/* Stack memory may hold ASan's redzones of frames that are not live: under
 * ASan copy it without instrumentation; elsewhere memcpy is the fastest. */
#ifdef CORO__ASAN
NO_ASAN static void copy_bytes(char *dst, const char *src, size_t n)
{
    volatile char *d = dst;

    while (n-- > 0)
        *d++ = *src++;
}
#else
static void copy_bytes(char *dst, const char *src, size_t n)
{
    memcpy(dst, src, n);
}
#endif

/* Copies the owner's live bytes out. Its buffer is right-sized: when it
 * is too small, one of exactly the live size replaces it, and only if
 * that allocation fails does the thread's reserve (sized by
 * coro__copy_reserve, so large enough) take its place. */
static void save(coro__thread *t, coro *owner)
{
    char *sp = coro__ctx_sp(&owner->ctx);
    size_t n = (size_t)(top_of(t) - sp);

    if (n > owner->saved_cap) {
        void *buf = coro__malloc(n);
        size_t cap = n;

        if (buf == NULL) {
            if (t->reserve_cap < n) { /* the reserve guarantees room: a bug in coro */
                fprintf(stderr, "coro: copy-stack save of %zu bytes exceeds its reserve of %zu\n",
                        n, t->reserve_cap);
                abort();
            }
            buf = t->reserve;
            cap = t->reserve_cap;
            t->reserve = NULL;
            t->reserve_cap = 0;
        }
        coro__free(owner->saved);
        owner->saved = buf;
        owner->saved_cap = (unsigned)cap;
    }
    copy_bytes(owner->saved, sp, n);
    owner->saved_len = (unsigned)n;
}

/* The shared stack changes hands: the tools' view of it must not carry
 * over from the frames that were there. ASan's shadow still marks the old
 * frames' redzones, below the new frames too; memcheck marks what was below
 * the old stack pointer inaccessible. */
static void hand_over(coro__thread *t)
{
#ifdef CORO__ASAN
    ASAN_UNPOISON_MEMORY_REGION(t->shared.lo, t->shared.size);
#endif
#ifdef CORO__MEMCHECK
    VALGRIND_MAKE_MEM_UNDEFINED(t->shared.lo, t->shared.size);
#endif
    (void)t;
}

static void restore(coro__thread *t, coro *co)
{
    copy_bytes(top_of(t) - co->saved_len, co->saved, co->saved_len);
}

/* The copier's body: one copy per switch through it, forever. */
static void copier_main(void *arg)
{
    coro *self = arg;
    coro__thread *t = self->thread;

    coro__switch_started(self);
    for (;;) {
        coro *to = t->copy_to;
        coro *owner = t->owner;

        if (owner != NULL && owner != to)
            save(t, owner);
        hand_over(t);
        if (to->saved_len > 0)
            restore(t, to);
        else /* ucontext: the first frame is built in place */
            coro__ctx_init(&to->ctx, t->shared.lo, t->shared.size, coro__body, to);
        t->owner = to;
        self->resumer = NULL;
        coro__switch_jump(self, to);
    }
}

static int make_copier(coro__thread *t)
{
    coro *c = coro__malloc(sizeof *c);
    int err;

    if (c == NULL)
        return CORO_ENOMEM;
    memset(c, 0, sizeof *c);
    err = coro__stack_get(&c->stack, coro__stack_round(COPIER_STACK));
    if (err != 0) {
        coro__free(c);
        return err;
    }
    c->status = CORO_SUSPENDED;
    c->thread = t;
#ifdef CORO__ASAN
    c->asan_lo = c->stack.lo;
    c->asan_size = c->stack.size;
#endif
    coro__ctx_init(&c->ctx, c->stack.lo, c->stack.size, copier_main, c);
    coro__fiber_new(c);
    t->copier = c;
    return 0;
}

/*
 * Builds co's first frame now, as if it had been saved: on the assembly
 * backends a context is its bytes below the top of the stack plus a stack
 * pointer, so it can be built in a scratch buffer, kept as the coroutine's
 * saved bytes, and its stack pointer moved to the same place below the
 * shared stack's top (both tops are 16-byte aligned). The coroutine then
 * starts with the creator's floating-point control state, as with its own
 * stack. The ucontext backend's context names absolute addresses: there the
 * copier builds the frame in place at the first switch.
 */
static int first_frame(coro__thread *t, coro *co)
{
#ifdef CORO_BACKEND_UCONTEXT
    (void)t;
    (void)co;
    return 0;
#else
    union {
        char bytes[512];
        long double align;
    } scratch;
    char *end = scratch.bytes + sizeof scratch.bytes;
    size_t n;

    end -= (uintptr_t)end % 16;
    coro__ctx_init(&co->ctx, scratch.bytes, (size_t)(end - scratch.bytes), coro__body, co);
    n = (size_t)(end - (char *)co->ctx.sp);
    co->saved = coro__malloc(n);
    if (co->saved == NULL)
        return CORO_ENOMEM;
    memcpy(co->saved, co->ctx.sp, n);
    co->saved_len = (unsigned)n;
    co->saved_cap = (unsigned)n;
    co->ctx.sp = top_of(t) - n;
    return 0;
#endif
}

/* Makes co a copy-mode coroutine of t, creating the shared stack and the
 * copier on first use. 0, CORO_ENOMEM, CORO_EMAPS, or CORO_EINVAL when the
 * backend cannot tell a saved context's stack pointer. */
int coro__copy_init(coro__thread *t, coro *co)
{
    int err;

    if (!coro__ctx_sp_known())
        return CORO_EINVAL;
    if (t->shared.map == NULL) {
        err = coro__stack_get(&t->shared, coro__stack_round(CORO_SHARED_STACK_SIZE));
        if (err != 0)
            return err;
    }
    if (t->copier == NULL) {
        err = make_copier(t);
        if (err != 0)
            return err;
    }
    co->flags |= CORO__F_COPY;
    err = first_frame(t, co);
    if (err != 0)
        return err;
#ifdef CORO__ASAN
    co->asan_lo = t->shared.lo;
    co->asan_size = t->shared.size;
#endif
    return 0;
}

/*
 * The rule of copy mode, checked where it can be (compares on a path that
 * is about to copy anyway): a value that points into the shared stack,
 * handed to a copy-mode coroutine `to` whose frames are not there now, is
 * fine only if it points into to's own frames, which are copied back
 * before it runs (a pointer it yielded earlier, handed back). It is a
 * dangling pointer when it points below them (to's frames will grow over
 * whatever is there) or, when the switching coroutine `from` is the
 * owner, into from's live frames (saved away by this very switch). The
 * address alone cannot tell whose a pointer into both is; coro then
 * trusts the receiver's frames unless the pointer is the sender's own.
 */
static void check_value(const coro__thread *t, const coro *from, const coro *to, const void *value)
{
    const char *p = value, *top;

    if (t->shared.map == NULL)
        return; /* no copy-mode coroutine on this thread yet */
    top = top_of(t);
    if (p < (const char *)t->shared.lo || p >= top || !(to->flags & CORO__F_COPY) || t->owner == to)
        return;
    if (p >= top - to->saved_len &&
        !(from == t->owner && p >= (const char *)__builtin_frame_address(0)))
        return; /* to's own frames, copied back before it runs */
    fprintf(stderr,
            "coro: a pointer into the shared stack (%p) is passed to copy-stack coroutine "
            "\"%s\" (id %llu), which will overwrite what it points at\n",
            value, coro_name(to), to->id);
    abort();
}

/* Before a switch from `from` to `to` that passes `value`: makes sure the
 * bytes the copier will save have a place. The owner's buffer may already
 * be large enough; otherwise the thread keeps a reserve buffer as large as
 * they can be, which the copier uses only if it cannot get one of the
 * exact size then. When the owner is the coroutine switching away, its
 * stack pointer at the switch is a little below this function's frame:
 * the bound adds SWITCH_SLACK, but the owner ends up with the exact size.
 * 0 or CORO_ENOMEM, with nothing changed. */
int coro__copy_reserve(coro__thread *t, coro *from, coro *to, void *value)
{
    coro *owner = t->owner;
    size_t need;
    void *buf;

    check_value(t, from, to, value);
    if (!coro__copy_needed(to) || owner == NULL)
        return 0;
    if (owner == from)
        /* The frame address, not a local's: under ASan's use-after-return
         * detection locals live on a fake stack elsewhere. */
        need = (size_t)(top_of(t) - (char *)__builtin_frame_address(0)) + SWITCH_SLACK;
    else
        need = (size_t)(top_of(t) - (char *)coro__ctx_sp(&owner->ctx));
    if (need <= owner->saved_cap || need <= t->reserve_cap)
        return 0;
    buf = coro__malloc(need);
    if (buf == NULL)
        return CORO_ENOMEM;
    coro__free(t->reserve);
    t->reserve = buf;
    t->reserve_cap = need;
    return 0;
}

/* A coroutine ends and switches for good to `to`, which needs the copier:
 * the owner (not the dying one, which gave up the shared stack) may have
 * switched to an own-stack coroutine without a reserve, since that switch
 * copies nothing. Its saved stack pointer is final, so the size is exact.
 * A death cannot be refused: without memory for the bytes, coro stops the
 * process with a message rather than lose the owner's frames. */
void coro__copy_reserve_final(coro__thread *t, coro *dying, coro *to)
{
    if (coro__copy_reserve(t, dying, to, NULL) == 0)
        return;
    fprintf(stderr,
            "coro: out of memory saving the stack of copy-stack coroutine \"%s\" (id %llu) "
            "while coroutine \"%s\" (id %llu) ends\n",
            coro_name(t->owner), t->owner->id, coro_name(dying), dying->id);
    abort();
}

/* Switches from `from` to `to` through the copier. */
void coro__copy_switch(coro *from, coro *to)
{
    coro__thread *t = to->thread;

    t->copy_to = to;
    t->copier->resumer = from;
    coro__switch_jump(from, t->copier);
}

/* co is dead or destroyed: its frames and saved bytes are garbage. */
void coro__copy_release(coro *co)
{
    if (!(co->flags & CORO__F_COPY))
        return;
    if (co->thread->owner == co)
        co->thread->owner = NULL;
    coro__free(co->saved);
    co->saved = NULL;
    co->saved_len = 0;
    co->saved_cap = 0;
}

void coro__copy_thread_exit(coro__thread *t)
{
    coro__free(t->reserve);
    t->reserve = NULL;
    t->reserve_cap = 0;
    if (t->copier != NULL) {
        coro__stack_put(&t->copier->stack);
        coro__fiber_free(t->copier);
        coro__free(t->copier);
        t->copier = NULL;
    }
    coro__stack_put(&t->shared);
    t->owner = NULL;
}

/* Where the byte at p of co's stack is now: p itself, unless co is a
 * copy-mode coroutine switched out, whose live bytes are in its buffer. */
void *coro__copy_addr(const coro *co, void *p)
{
    const coro__thread *t = co->thread;
    char *top, *c = p;

    if (!(co->flags & CORO__F_COPY) || t->owner == co || co->saved_len == 0)
        return p;
    top = top_of(t);
    if (c < top - co->saved_len || c >= top)
        return p; /* not on its stack */
    return (char *)co->saved + (c - (top - co->saved_len));
}
