/*
 * alloc.c - fault injection: every allocation and mapping coro makes goes
 * through here, so tests can fail the Nth one (as Lua's ltests.h and
 * neco's fail counters do) and count what is live (leak checks); and the
 * I/O layer's system calls ask here, by site, whether a test made them
 * fail (CORO__SYSCALL in internal.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

/* initial-exec: no __tls_get_addr call in every allocation of the .so */
static __thread long fail_countdown
    __attribute__((tls_model("initial-exec"))); /* 0: off; n: the nth call fails */
static long live_allocs;                        /* atomics: threads allocate too */
static long live_maps;

void coro__fail_after(long n)
{
    fail_countdown = n;
}

long coro__live_allocs(void)
{
    return __atomic_load_n(&live_allocs, __ATOMIC_RELAXED);
}

long coro__live_maps(void)
{
    return __atomic_load_n(&live_maps, __ATOMIC_RELAXED);
}

/* 1 if this call is the one to fail. */
static int injected(void)
{
    if (CORO__LIKELY(fail_countdown == 0))
        return 0;
    return --fail_countdown == 0;
}

void *coro__malloc(size_t n)
{
    void *p;

    if (injected())
        return NULL;
    p = malloc(n);
    if (p != NULL)
        __atomic_fetch_add(&live_allocs, 1, __ATOMIC_RELAXED);
    return p;
}

void *coro__malloc_aligned(size_t n, size_t align)
{
    void *p;

    if (injected() || posix_memalign(&p, align, n) != 0)
        return NULL;
    __atomic_fetch_add(&live_allocs, 1, __ATOMIC_RELAXED);
    return p;
}

void coro__free(void *p)
{
    if (p == NULL)
        return;
    __atomic_fetch_sub(&live_allocs, 1, __ATOMIC_RELAXED);
    free(p);
}

char *coro__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = coro__malloc(n);

    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* A private, lazily committed mapping; NULL on failure with errno set. */
void *coro__mmap(size_t len)
{
    void *p;

    if (injected()) {
        errno = ENOMEM;
        return NULL;
    }
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    __atomic_fetch_add(&live_maps, 1, __ATOMIC_RELAXED);
    return p;
}

/* Makes [p, p+len) inaccessible; 0 or -1 with errno set. */
int coro__mprotect_none(void *p, size_t len)
{
    if (injected()) {
        errno = ENOMEM;
        return -1;
    }
    return mprotect(p, len, PROT_NONE);
}

void coro__munmap(void *p, size_t len)
{
    __atomic_fetch_sub(&live_maps, 1, __ATOMIC_RELAXED);
    munmap(p, len);
}

/* ---- system calls ---- */

static __thread struct {
    unsigned every, count, calls, failed;
    int err;
} sys_sites[CORO__SYS_MAX];
__thread int coro__sys_armed;

static void rearm(void)
{
    int any = 0;

    for (int i = 0; i < CORO__SYS_MAX; i++)
        any |= sys_sites[i].err != 0;
    coro__sys_armed = any;
}

void coro__sys_inject(int site, unsigned every, unsigned count, int err)
{
    if (site < 0 || site >= CORO__SYS_MAX)
        return;
    sys_sites[site].every = every > 0 ? every : 1;
    sys_sites[site].count = count;
    sys_sites[site].calls = 0;
    sys_sites[site].failed = 0;
    sys_sites[site].err = err;
    rearm();
}

unsigned coro__sys_failures(int site)
{
    return sys_sites[site].failed;
}

int coro__sys_fail(int site)
{
    int err = sys_sites[site].err;

    if (err == 0 || ++sys_sites[site].calls % sys_sites[site].every != 0)
        return 0;
    sys_sites[site].failed++;
    if (sys_sites[site].count > 0 && --sys_sites[site].count == 0) {
        sys_sites[site].err = 0; /* done: the site is off again */
        rearm();
    }
    errno = err;
    return 1;
}
