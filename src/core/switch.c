/*
 * switch.c - one switch between two coroutines of a thread, with the
 * AddressSanitizer and ThreadSanitizer fiber annotations around the
 * backend's register switch.
 *
 * ASan keeps shadow state per stack: before a switch it must be told the
 * stack being entered (start_switch_fiber) and after it that the switch is
 * done (finish_switch_fiber), or it reports false stack-buffer overflows and
 * loses use-after-return frames. A main coroutine's stack bounds are not
 * known in advance; ASan reports them at the first switch away from it,
 * which always lands in a coroutine's first frame or in its coro_yield, and
 * in both places the main coroutine is the resumer.
 *
 * TSan keeps a thread's state (its shadow call stack, its setjmp buffers,
 * its vector clock) per fiber: every coroutine is one, created with it
 * (the copier is one too), and a thread's main coroutine is the thread's
 * own. Each switch is announced right before the register switch, and
 * synchronizes (see tsan_switch): the coroutines of a thread take turns,
 * so all that one did happens before what the next does. Without fibers TSan
 * sees one call stack per thread, entered on one stack and left on
 * another, and takes a suspended coroutine's setjmp buffers for dead
 * frames ("can't find longjmp buf").
 *
 * A fiber lives from coro_create to the release of the control block
 * (coro_destroy), not just while the coroutine has a stack: a dying
 * coroutine still switches away (coro__switch_final) on its own fiber, and
 * TSan must not destroy the fiber it runs on, while coro_destroy never runs
 * on the coroutine it frees. Cached control blocks keep no fiber: a fiber's
 * shadow call stack cannot be reset, and a dead coroutine leaves frames on
 * it that never return (its body, coro__die), so a reused one would grow
 * with every coroutine until TSan's stack overflowed. The price is TSan's:
 * it keeps a few hundred bytes for every fiber ever made.
 *
 * valgrind needs nothing here: stack.c registers every stack.
 */
#include "internal.h"

#ifdef CORO__ASAN
#include <sanitizer/common_interface_defs.h>

/* Called on `co`'s stack right after a switch into it. */
static void finish(coro *co, void *fake)
{
    const void *lo;
    size_t size;
    coro *r = co->resumer;

    __sanitizer_finish_switch_fiber(fake, &lo, &size);
    if (r != NULL && r->asan_lo == NULL) {
        r->asan_lo = lo;
        r->asan_size = size;
    }
}
#endif

#ifdef CORO__TSAN
#include <sanitizer/tsan_interface.h>

void coro__fiber_new(coro *co)
{
    co->tsan_fiber = __tsan_create_fiber(0);
    coro__fiber_name(co);
}

void coro__fiber_main(coro *co)
{
    co->tsan_fiber = __tsan_get_current_fiber();
}

/* co's name, which a worker changes with each task it runs. */
void coro__fiber_name(coro *co)
{
    __tsan_set_fiber_name(co->tsan_fiber, co->name != NULL ? co->name : "");
}

/* Never co's own fiber: co is not running (coro_destroy refuses that). */
void coro__fiber_free(coro *co)
{
    if (co->tsan_fiber != NULL)
        __tsan_destroy_fiber(co->tsan_fiber);
    co->tsan_fiber = NULL;
}

/*
 * TSan's current fiber becomes to's: all that from's did happens before
 * what to's does. The order is kept on the thread's state, which every
 * switch of the thread releases and acquires, not by TSan's synchronizing
 * switch: that one keys it on the target fiber's address, and keeps it
 * after the fiber is destroyed, so a fiber later made at the same address
 * (on any thread) would inherit the history of the old one's thread, and
 * TSan would miss that thread's races with it. What from's fiber reads
 * must be read before the release: after it, nothing orders its accesses
 * before the thread's next ones (the free of a main coroutine's thread
 * state, for one).
 *
 * Always inline: as a function of its own, TSan's instrumentation would
 * enter it on one fiber's shadow call stack and leave it on the other's,
 * which corrupts both (TSan crashed in its own slot code when an
 * assertion after coro__switch_final's jump kept it out of line).
 */
static CORO__ALWAYS_INLINE void tsan_switch(coro *from, coro *to)
{
    coro__thread *t = from->thread;
    void *fiber = to->tsan_fiber;

    __tsan_release(t);
    __tsan_switch_to_fiber(fiber, __tsan_switch_to_fiber_no_sync);
    __tsan_acquire(t);
}
#endif

/* The register switch (by coro__ctx_jump if `jump`), announced to ASan or
 * TSan. */
static inline void announced(coro *from, coro *to, int jump)
{
#ifdef CORO__ASAN
    __sanitizer_start_switch_fiber(&from->asan_fake, to->asan_lo, to->asan_size);
#endif
#ifdef CORO__TSAN
    tsan_switch(from, to);
#endif
    if (jump)
        coro__ctx_jump(&from->ctx, &to->ctx);
    else
        coro__ctx_switch(&from->ctx, &to->ctx);
#ifdef CORO__ASAN
    finish(from, from->asan_fake);
#endif
}

/* A switch without the copier (see coro__switch in internal.h). */
void coro__switch_plain(coro *from, coro *to)
{
    announced(from, to, 0);
}

/* The same by coro__ctx_jump, for the switches into and out of the copier,
 * whose two sides are never at the same call site (see "Returning" in
 * arch/x86_64.S). */
void coro__switch_jump(coro *from, coro *to)
{
    announced(from, to, 1);
}

#ifdef CORO__ANNOUNCE
void coro__switch(coro *from, coro *to)
{
    if (coro__copy_needed(to))
        coro__copy_switch(from, to);
    else
        coro__switch_plain(from, to);
}
#endif

/* The last switch away from a dying coroutine: ASan frees its fake stack;
 * its TSan fiber stays until its control block is released. */
void coro__switch_final(coro *from, coro *to)
{
    if (coro__copy_needed(to)) {
        to->thread->copy_to = to;
        to->thread->copier->resumer = from;
        to = to->thread->copier;
    }
#ifdef CORO__ASAN
    __sanitizer_start_switch_fiber(NULL, to->asan_lo, to->asan_size);
#endif
#ifdef CORO__TSAN
    tsan_switch(from, to);
#endif
    coro__ctx_jump(&from->ctx, &to->ctx);
    coro__assert(!"a dead coroutine was switched to");
    for (;;) {
    }
}

/* The first thing a coroutine does on its own stack. */
void coro__switch_started(coro *co)
{
#ifdef CORO__ASAN
    finish(co, NULL);
#else
    (void)co;
#endif
}
