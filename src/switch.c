/*
 * switch.c - one switch between two coroutines of a thread, with the
 * AddressSanitizer fiber annotations around the backend's register switch.
 *
 * ASan keeps shadow state per stack: before a switch it must be told the
 * stack being entered (start_switch_fiber) and after it that the switch is
 * done (finish_switch_fiber), or it reports false stack-buffer overflows and
 * loses use-after-return frames. A main coroutine's stack bounds are not
 * known in advance; ASan reports them at the first switch away from it,
 * which always lands in a coroutine's first frame or in its coro_yield, and
 * in both places the main coroutine is the resumer.
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

/* The register switch (by coro__ctx_jump if `jump`), announced to ASan. */
static inline void announced(coro *from, coro *to, int jump)
{
#ifdef CORO__ASAN
    __sanitizer_start_switch_fiber(&from->asan_fake, to->asan_lo, to->asan_size);
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

/* The last switch away from a dying coroutine: ASan frees its fake stack. */
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
