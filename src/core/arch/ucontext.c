/*
 * ucontext.c - the portable context switch (see src/ctx.h), built with
 * CORO_BACKEND_UCONTEXT or on architectures without an assembly file.
 *
 * Uses POSIX getcontext / makecontext / swapcontext. It is correct wherever
 * libc provides them, and slow: swapcontext saves and restores the signal
 * mask with a system call on every switch. makecontext passes only int
 * arguments, so the context itself carries the entry function and its
 * argument, and the trampoline receives the context's address split into
 * two 32-bit halves.
 */
#define _GNU_SOURCE 1 /* the register names of mcontext_t */
#include "ctx.h"

#ifdef CORO_BACKEND_UCONTEXT

#include <stdint.h>

static void trampoline(unsigned hi, unsigned lo)
{
    uintptr_t p = ((uintptr_t)hi << 16 << 16) | (uintptr_t)lo;
    coro__ctx *c = (coro__ctx *)p;

    c->entry(c->arg);
}

void coro__ctx_init(coro__ctx *c, void *stack_lo, size_t size, void (*entry)(void *), void *arg)
{
    uintptr_t p = (uintptr_t)c;

    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = stack_lo;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = NULL;
    c->entry = entry;
    c->arg = arg;
    makecontext(&c->uc, (void (*)(void))trampoline, 2, (unsigned)(p >> 16 >> 16), (unsigned)p);
}

void coro__ctx_switch(coro__ctx *from, coro__ctx *to)
{
    swapcontext(&from->uc, &to->uc);
}

/* Where the saved context's stack pointer lives, per architecture. */
void *coro__ctx_sp(const coro__ctx *c)
{
#if defined(__x86_64__)
    return (void *)c->uc.uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (void *)c->uc.uc_mcontext.sp;
#elif defined(__riscv)
    return (void *)c->uc.uc_mcontext.__gregs[REG_SP];
#else
    (void)c;
    return NULL;
#endif
}

int coro__ctx_sp_known(void)
{
#if defined(__x86_64__) || defined(__aarch64__) || defined(__riscv)
    return 1;
#else
    return 0;
#endif
}

#else
typedef int coro__ucontext_unused; /* ISO C forbids an empty unit */
#endif
