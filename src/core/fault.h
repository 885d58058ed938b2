/*
 * fault.h - the test hooks of the core (alloc.c): fail the Nth allocation or
 * mapping, count what is live, and fail system calls by site. The core
 * only keeps the counters of a site; the sites are the upper layers'
 * (the I/O layer's are in io/hooks.h).
 */
#ifndef CORO_FAULT_H
#define CORO_FAULT_H

/* Fail the Nth allocation / mapping from now (1 = the next one); 0 turns
 * injection off. Counters of live objects, for leak checks. */
CORO__HIDDEN void coro__fail_after(long n);
CORO__HIDDEN long coro__live_allocs(void);
CORO__HIDDEN long coro__live_maps(void);

/* System call sites: small numbers below CORO__SYS_MAX, named by the layer
 * that makes the calls. */
#define CORO__SYS_MAX 32

/* From now, every `every`-th call at site fails with errno err (every 1:
 * each call), `count` times (0: until armed again); err 0 turns the site
 * off. Per thread, like a loop. */
CORO__HIDDEN void coro__sys_inject(int site, unsigned every, unsigned count, int err);
/* How many calls at site failed since it was armed. */
CORO__HIDDEN unsigned coro__sys_failures(int site);
CORO__HIDDEN extern __thread int coro__sys_armed __attribute__((tls_model("initial-exec")));
/* 1, with errno set, if this call at site is to fail. */
CORO__HIDDEN int coro__sys_fail(int site);

/* A system call at an injection site: -1 with the injected errno when a
 * test made this call fail, else the call (one thread-local test when no
 * site is armed). CORO__URING is the same for liburing's calls, which
 * return -errno. */
#define CORO__SYSCALL(site, call)                                                                  \
    (CORO__UNLIKELY(coro__sys_armed) && coro__sys_fail(site) ? -1 : (call))
#define CORO__URING(site, call)                                                                    \
    (CORO__UNLIKELY(coro__sys_armed) && coro__sys_fail(site) ? -errno : (call))

#endif /* CORO_FAULT_H */
