/*
 * overflow.c - a stack overflow is never silent.
 *
 * A process-wide SIGSEGV handler, installed on first use of coro, runs on a
 * per-thread signal stack (the faulting stack has no room left). It decides
 * whether the fault is the running coroutine's overflow: the faulting
 * address lies in its guard region, or the interrupted stack pointer does
 * or lies just past it (within another guard's length below: a frame
 * larger than the guard jumped it and hit unmapped memory), or has left
 * the bottom of its stack by no more than the stack's size. If so it
 * prints
 *     coro: stack overflow in coroutine "<name>" (id N, stack S bytes)
 * with write(2) and aborts. Any other fault goes on to the handler that was
 * installed before (or the default action), as if coro were not there.
 *
 * Only async-signal-safe calls are made in the handler: TLS loads, write,
 * sigaction, abort.
 */
#define _GNU_SOURCE 1
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

#define ALTSTACK_SIZE ((size_t)64 * 1024)

static struct sigaction old_segv;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

/* The interrupted stack pointer, where we know how to find it; 0 if not. */
static uintptr_t fault_sp(void *uctx)
{
    ucontext_t *uc = uctx;

#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.sp;
#elif defined(__riscv)
    return (uintptr_t)uc->uc_mcontext.__gregs[REG_SP];
#else
    (void)uc;
    return 0;
#endif
}

/* A fault address in the guard is an overflow. Below it, memory belongs to
 * others (a mapping of the program's, with a handler of its own that makes
 * it writable, say): a fault there is an overflow only if the stack
 * pointer has left the stack, into the guard or one guard's length below
 * it (a frame that jumped the guard), or by no more than the stack's size. */
static int is_overflow(const coro *co, uintptr_t addr, uintptr_t sp)
{
    const coro__stack *s = coro__stack_of(co);
    uintptr_t map = (uintptr_t)s->map, lo = (uintptr_t)s->lo;
    uintptr_t zone = map >= CORO_STACK_GUARD ? map - CORO_STACK_GUARD : 0;

    if (s->map == NULL)
        return 0;
    if (addr >= map && addr < lo)
        return 1;
    return sp != 0 && sp < lo && (sp >= zone || lo - sp <= s->size);
}

static char *put_str(char *p, char *end, const char *s)
{
    while (*s != '\0' && p < end)
        *p++ = *s++;
    return p;
}

static char *put_num(char *p, char *end, unsigned long long v)
{
    char digits[24];
    int n = 0;

    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0 && p < end)
        *p++ = digits[--n];
    return p;
}

static void report(const coro *co)
{
    char buf[512];
    char *p = buf, *end = buf + sizeof buf - 1;
    ssize_t r;

    p = put_str(p, end, "coro: stack overflow in coroutine \"");
    p = put_str(p, end, co->name != NULL ? co->name : "");
    p = put_str(p, end, "\" (id ");
    p = put_num(p, end, co->id);
    p = put_str(p, end, ", stack ");
    p = put_num(p, end, coro__stack_of(co)->size);
    p = put_str(p, end, " bytes)\n");
    r = write(STDERR_FILENO, buf, (size_t)(p - buf));
    (void)r;
}

/* Hands the fault to whoever had SIGSEGV before us. */
static void chain(int sig, siginfo_t *si, void *uctx)
{
    if ((old_segv.sa_flags & SA_SIGINFO) && old_segv.sa_sigaction != NULL) {
        old_segv.sa_sigaction(sig, si, uctx);
        return;
    }
    if (old_segv.sa_handler != SIG_DFL && old_segv.sa_handler != SIG_IGN) {
        old_segv.sa_handler(sig);
        return;
    }
    /* Default action: restore it and return; the faulting instruction runs
     * again and the kernel kills the process with the usual core dump. */
    signal(sig, SIG_DFL);
}

static void on_segv(int sig, siginfo_t *si, void *uctx)
{
    coro__thread *t = coro__tls;

    if (t != NULL && is_overflow(t->current, (uintptr_t)si->si_addr, fault_sp(uctx))) {
        report(t->current);
        abort();
    }
    chain(sig, si, uctx);
}

static void install_handler(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
}

/* Installs the handler (once per process) and a signal stack for this thread
 * unless it has one already. 0, or CORO_ENOMEM without a signal stack. */
int coro__overflow_install(coro__thread *t)
{
    stack_t ss, old;

    pthread_once(&install_once, install_handler);
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        return 0; /* the thread has one; use it */
    t->altstack = coro__malloc(ALTSTACK_SIZE);
    if (t->altstack == NULL)
        return CORO_ENOMEM;
    ss.ss_sp = t->altstack;
    ss.ss_size = ALTSTACK_SIZE;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) {
        coro__free(t->altstack);
        t->altstack = NULL;
        return CORO_ENOMEM;
    }
    t->altstack_size = ALTSTACK_SIZE;
    return 0;
}

void coro__overflow_thread_exit(coro__thread *t)
{
    stack_t ss;

    if (t->altstack == NULL)
        return;
    memset(&ss, 0, sizeof ss);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    coro__free(t->altstack);
    t->altstack = NULL;
}
