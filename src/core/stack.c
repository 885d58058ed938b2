/*
 * stack.c - coroutine stacks: guard pages, lazy commit, pooling, and telling
 * AddressSanitizer and valgrind about them.
 *
 * Design. A stack is one private anonymous mapping: a PROT_NONE guard
 * region at the low end (stacks grow down) and the usable part above it,
 * mapped MAP_NORESERVE so the kernel commits pages only when touched: a
 * coroutine costs the memory it uses, not the size it asked for.
 * Overflowing into the guard faults, and overflow.c turns the fault into a
 * report. The guard is CORO_STACK_GUARD (256 KiB), not one page: a frame
 * with a buffer of tens of KiB whose first store is at its low end would
 * jump a single page and land in the stack mapped below (the kernel keeps
 * a 1 MiB gap below the main thread's stack for the same reason). Address
 * space is cheap (a million default coroutines take 0.5 TiB of the 128
 * TiB x86-64 gives a process); the guard costs no memory and no extra
 * mapping.
 *
 * Freed stacks go to a per-thread pool (no locks: a coroutine lives on one
 * thread) so that create/destroy in steady state makes no system call. The
 * pool is bounded by count and bytes; past the bound stacks are unmapped.
 * Pooled stacks keep their touched pages: releasing them with madvise would
 * cost a system call per reuse, which is what the pool exists to avoid.
 *
 * Alternatives rejected: malloc'd stacks (no guard page, so an overflow
 * silently corrupts the heap); one big arena with guards between slots
 * (cannot return memory, fixed capacity); madvise(MADV_DONTNEED) on every
 * free (a system call per destroy).
 *
 * The guard splits the mapping in two kernel VMAs, so the number of
 * guarded stacks is bounded by vm.max_map_count / 2; hitting that limit makes
 * mprotect fail with ENOMEM, reported as CORO_EMAPS with what to raise.
 */
#include <errno.h>
#include <unistd.h>

#include "internal.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORO__VALGRIND 1
#endif
#endif

#ifdef CORO__ASAN
#include <sanitizer/asan_interface.h>
#endif

/* The page size, asked once. Threads may race to ask: each stores the same
 * value, atomically (a plain static would be a data race). */
size_t coro__page_size(void)
{
    static size_t page;
    size_t p = __atomic_load_n(&page, __ATOMIC_RELAXED);

    if (p == 0) {
        p = (size_t)sysconf(_SC_PAGESIZE);
        __atomic_store_n(&page, p, __ATOMIC_RELAXED);
    }
    return p;
}

/* The usable size for a request: defaulted, raised to the minimum, rounded
 * up to whole pages. 0 if it is above CORO_STACK_MAX. */
size_t coro__stack_round(size_t size)
{
    size_t page;

    if (size == 0)
        return CORO_STACK_DEFAULT; /* a whole number of pages everywhere */
    page = coro__page_size();
    if (size < CORO_STACK_MIN)
        size = CORO_STACK_MIN;
    if (size > CORO_STACK_MAX)
        return 0;
    return (size + page - 1) & ~(page - 1);
}

static int from_pool(coro__thread *t, coro__stack *s, size_t size)
{
    size_t i = t->pool_len;

    if (i > 0 && t->pool[i - 1].size == size) { /* the usual case: LIFO */
        *s = t->pool[--t->pool_len];
        t->pool_bytes -= s->size;
        return 1;
    }
    while (i-- > 0) {
        if (t->pool[i].size != size)
            continue;
        *s = t->pool[i];
        t->pool[i] = t->pool[--t->pool_len];
        t->pool_bytes -= s->size;
        return 1;
    }
    return 0;
}

/* Gets a stack with `size` usable bytes (already rounded). 0, CORO_ENOMEM or
 * CORO_EMAPS. */
int coro__stack_get(coro__stack *s, size_t size)
{
    coro__thread *t = coro__tls;
    size_t guard = CORO_STACK_GUARD;
    char *map;

    if (t != NULL && from_pool(t, s, size))
        return 0;
    map = coro__mmap(size + guard);
    if (map == NULL)
        return CORO_ENOMEM;
    if (coro__mprotect_none(map, guard) != 0) {
        int err = errno;
        coro__munmap(map, size + guard);
        /* Splitting a mapping fails with ENOMEM only at the map count. */
        return err == ENOMEM ? CORO_EMAPS : CORO_ENOMEM;
    }
    s->map = map;
    s->map_size = size + guard;
    s->lo = map + guard;
    s->size = size;
    s->vg_id = 0;
#ifdef CORO__VALGRIND
    s->vg_id = VALGRIND_STACK_REGISTER((char *)s->lo, (char *)s->lo + size);
#endif
    return 0;
}

static void unmap(coro__stack *s)
{
#ifdef CORO__VALGRIND
    VALGRIND_STACK_DEREGISTER(s->vg_id);
#endif
    coro__munmap(s->map, s->map_size);
}

/* Returns a stack to the pool, or to the system past the pool's bounds. */
void coro__stack_put(coro__stack *s)
{
    coro__thread *t = coro__tls;

    if (s->map == NULL)
        return;
#ifdef CORO__ASAN
    /* Frames abandoned by close or longjmp may still be poisoned. */
    ASAN_UNPOISON_MEMORY_REGION(s->lo, s->size);
#endif
    if (t != NULL && t->pool_len < CORO__POOL_MAX &&
        t->pool_bytes + s->size <= CORO__POOL_MAX_BYTES) {
        t->pool[t->pool_len++] = *s;
        t->pool_bytes += s->size;
    } else {
        unmap(s);
    }
    s->map = NULL;
}

/* Unmaps every pooled stack of t. */
void coro__stack_pool_drain(coro__thread *t)
{
    while (t->pool_len > 0)
        unmap(&t->pool[--t->pool_len]);
    t->pool_bytes = 0;
}
